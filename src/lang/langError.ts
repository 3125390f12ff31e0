/**
 * The language's errors: `LangError` is thrown by compiled code without a location; the call node
 * that catches it places it (`located`) as a `SibRuntimeError` under its span, or under the part of
 * the call it is about. Limits (`isLimit`) end a run whatever it does: no `try` catches them; one
 * reached in a loop outside any call in it is placed at the loop (`limitAt`).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { diagnostic, SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import { print, type Value } from "../reader/Value.ts"

/**
 * The part of a call an error is about, placed under that part as written in the calling form's
 * source when it is written there: an option by its path (`backoff.initialMs`; `name`: the
 * option's name, `entry`: its name and value, `value`: its value alone), or a positional argument
 * by its index (counted after a leading `bus`).
 */
export type CallPart =
  | { readonly path: string; readonly part: "name" | "entry" | "value" }
  | { readonly argument: number }

/** Where a part of the calling form is in its source, if it is written there. */
export type PlacePart = (part: CallPart) => Span | undefined

/** A language error without a location yet; the call node that catches it adds its span. */
export class LangError extends Error {
  readonly code: string
  readonly hints: ReadonlyArray<string>
  /** What a `throw` attached (`ex-info`'s data), if anything. */
  readonly data: Value | undefined
  /** The part of the call it is about, placed under that part by the call that catches it. */
  readonly part: CallPart | undefined
  /** Where it is, when that is not the failing call (a handler's own definition, say). */
  readonly at: Span | undefined
  /** Other problems found with it (every bad option of one call), each reported as well. */
  readonly more: ReadonlyArray<LangError>
  constructor(
    code: string,
    message: string,
    hints: ReadonlyArray<string> = [],
    data?: Value,
    extra: { readonly part?: CallPart | undefined; readonly at?: Span | undefined; readonly more?: ReadonlyArray<LangError> | undefined } = {}
  ) {
    super(message)
    this.code = code
    this.hints = hints
    this.data = data
    this.part = extra.part
    this.at = extra.at
    this.more = extra.more ?? []
  }
}

/** Fails with every error given: the first, carrying the others (each becomes a diagnostic of its own). */
export const failAll = (errors: ReadonlyArray<LangError>): never => {
  const [first, ...rest] = errors
  throw new LangError(first!.code, first!.message, first!.hints, first!.data, { part: first!.part, at: first!.at, more: rest })
}

const langDiagnostic = (e: LangError, span: Span, place: PlacePart | undefined) => {
  // A throw's data is part of its message (so it reaches the dead letter), and kept for catch.
  const message = e.data === undefined || e.data === null ? e.message : `${e.message} ${print(e.data, false, { maxChars: 2000 })}`
  const where = e.at ?? (e.part !== undefined && place !== undefined ? place(e.part) : undefined) ?? span
  return diagnostic("Runtime", `runtime/${e.code}`, message, where, { hints: e.hints })
}

/** What each located error was raised as, when compiled code did not raise it (see `originOf`). */
const origins = new WeakMap<SibRuntimeError, unknown>()

/**
 * What a located error was raised as, when compiled code did not raise it itself: a refused
 * publish's `BusClosedError`, say (a timer ends on it quietly), or a host's error.
 */
export const originOf = (e: SibRuntimeError): unknown => origins.get(e)

/**
 * `e` as a located language error: a language error at `span` (or under the option it names, as
 * `place` finds it in the calling form), anything else raised while the form ran at `span`.
 */
export const located = (e: unknown, span: Span, place?: PlacePart): unknown => {
  if (e instanceof SibRuntimeError) return e
  if (e instanceof LangError) {
    return new SibRuntimeError(
      langDiagnostic(e, span, place),
      e.code === "thrown" ? { message: e.message, data: e.data } : undefined,
      e.more.map((m) => langDiagnostic(m, span, place))
    )
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new SibRuntimeError(diagnostic("Runtime", "runtime/stack", "the code recursed too deeply, or walked data nested too deeply", span, {
      hints: ["check the recursion's end condition", "data nested thousands of levels deep cannot be hashed, compared or written"]
    }))
  }
  if (e instanceof RangeError && /Invalid (array|string) length/i.test(e.message)) {
    return new SibRuntimeError(diagnostic("Runtime", "runtime/size", "a value grew too large", span, {
      hints: ["collections hold at most 1,000,000 elements and strings 10,000,000 characters"]
    }))
  }
  // Anything else raised while this form ran (a refused publish, a host error): located here.
  let message: string
  try {
    message = e instanceof Error ? e.message : typeof e === "string" ? e : String(e)
  } catch {
    message = "an error that cannot be printed"
  }
  const error = new SibRuntimeError(diagnostic("Runtime", "runtime/error", message, span))
  origins.set(error, e)
  return error
}

/**
 * An effect whose failures carry `span`, and whose continuations' thrown errors (which Effect
 * makes defects) too: every error a form's effect ends with is a located language error.
 * Interruptions pass as they are.
 */
export const locatedEffect = (out: Effect.Effect<unknown, unknown>, span: Span): Effect.Effect<unknown, unknown> =>
  Effect.catchCause(out, (cause) => (Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.fail(located(Cause.squash(cause), span))))

/**
 * `e` located at `span` when it is a limit not located yet (see `loopOver`); anything else as it
 * is, for the call that catches it to place.
 */
export const limitAt = (e: unknown, span: Span): unknown => (e instanceof LangError && limitCodes.has(e.code) ? located(e, span) : e)

/** An effect whose limits not located yet are located at `span` (see `limitAt`); other failures pass as they are. */
export const limitsAt = (out: Effect.Effect<unknown, unknown>, span: Span): Effect.Effect<unknown, unknown> =>
  Effect.catchCause(out, (cause) => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
    const e = Cause.squash(cause)
    return e instanceof LangError && limitCodes.has(e.code) ? Effect.fail(located(e, span)) : Effect.failCause(cause)
  })

export const fail = (code: string, message: string, hints: ReadonlyArray<string> = []): never => {
  throw new LangError(code, message, hints)
}

/**
 * Errors that end a run whatever it does: its limits (a `try` cannot catch them, so no program can
 * keep running past its budget).
 */
const limitCodes: ReadonlySet<string> = new Set(["step-budget", "memory-budget", "memory-in-flight", "time-limit", "depth", "stack", "value-size"])

/** True when `e` (thrown or failed with) is a limit the run hit, which no `try` catches. */
export const isLimit = (e: unknown): boolean => {
  if (e instanceof LangError) return limitCodes.has(e.code)
  if (e instanceof SibRuntimeError) return limitCodes.has(e.diagnostic.code.replace(/^runtime\//, ""))
  return e instanceof RangeError
}
