/**
 * What compiled code runs with. A compiled node is a closure `(frame) => result`, where a result is
 * a value or, when the code did something effectful (publish!, a host call, log), an Effect that
 * produces the value. Pure code therefore runs synchronously without allocating Effects, and
 * effectful steps are sequenced lazily with `chain`.
 *
 * `RunState` is one evaluation's context (a load, a macro call, a handler run, a timer tick, a test):
 * its mode, its step budget, recursion depth and value size limits, and the services it may use.
 * Limits end the run with a located language error instead of a Node stack overflow or OOM.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Random from "effect/Random"
import { diagnostic, SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import type { Value } from "../reader/Value.ts"

export type Mode = "load" | "macro" | "handler" | "timer" | "test"

export interface Limits {
  /** Function calls plus collection elements processed, per run. */
  readonly maxSteps: number
  /** Nested calls. */
  readonly maxDepth: number
  /** Elements in one collection. */
  readonly maxCollection: number
  /** Characters in one string. */
  readonly maxString: number
}

export const defaultLimits: Limits = { maxSteps: 1_000_000, maxDepth: 400, maxCollection: 1_000_000, maxString: 10_000_000 }

/** Services the language reaches in the embedding runtime; provided by the program loader. */
export interface RunServices {
  readonly [name: string]: unknown
}

export interface RunState {
  readonly mode: Mode
  readonly limits: Limits
  steps: number
  depth: number
  readonly clock: Clock.Clock
  readonly random: Random.Random
  /** Mode-specific services (the program builder at load time, the bus and delivery at run time). */
  readonly services: RunServices
}

export const makeRun = (mode: Mode, limits: Limits, clock: Clock.Clock, random: Random.Random, services: RunServices): RunState => ({
  mode, limits, steps: 0, depth: 0, clock, random, services
})

export interface Frame {
  readonly slots: Array<unknown>
  readonly parent: Frame | undefined
  readonly run: RunState
}

export type Node = (frame: Frame) => unknown

/** A language error without a location yet; the call node that catches it adds its span. */
export class LangError extends Error {
  readonly code: string
  readonly hints: ReadonlyArray<string>
  constructor(code: string, message: string, hints: ReadonlyArray<string> = []) {
    super(message)
    this.code = code
    this.hints = hints
  }
}

export const located = (e: unknown, span: Span): unknown => {
  if (e instanceof SibRuntimeError) return e
  if (e instanceof LangError) {
    return new SibRuntimeError(diagnostic("Runtime", `runtime/${e.code}`, e.message, span, { hints: e.hints }))
  }
  if (e instanceof RangeError && /call stack/i.test(e.message)) {
    return new SibRuntimeError(diagnostic("Runtime", "runtime/stack", "the code recursed too deeply", span, {
      hints: ["check the recursion's end condition"]
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
  return new SibRuntimeError(diagnostic("Runtime", "runtime/error", message, span))
}

export const fail = (code: string, message: string, hints: ReadonlyArray<string> = []): never => {
  throw new LangError(code, message, hints)
}

export const isEffect = (x: unknown): x is Effect.Effect<unknown, unknown> => Effect.isEffect(x)

export const lift = (x: unknown): Effect.Effect<unknown, unknown> => (isEffect(x) ? x : Effect.succeed(x))

/** Continues with the value of `x`, now or after its effect. */
export const chain = (x: unknown, k: (v: Value) => unknown): unknown =>
  isEffect(x) ? Effect.flatMap(x, (v) => lift(k(v as Value))) : k(x as Value)

/** Evaluates results left to right into an array, going effectful only if one of them is. */
export const sequence = (count: number, at: (i: number) => unknown): unknown => {
  const out = new Array<Value>(count)
  const from = (start: number): unknown => {
    for (let i = start; i < count; i++) {
      const x = at(i)
      if (isEffect(x)) {
        return Effect.flatMap(x, (v) => {
          out[i] = v as Value
          return lift(from(i + 1))
        })
      }
      out[i] = x as Value
    }
    return out
  }
  return from(0)
}

/** Counts `n` steps against the run's budget. */
export const step = (run: RunState, n = 1): void => {
  run.steps += n
  if (run.steps > run.limits.maxSteps) {
    fail("step-budget", `the run took more than ${run.limits.maxSteps} steps (the step budget)`, [
      "look for a loop or recursion that does not end; the budget counts calls and the elements of the collections built (build a collection at once with into, map or filter rather than one conj at a time)"
    ])
  }
}

/**
 * Checks a value just built against the size limits, and charges the work of building it: a step
 * per element (per 16 characters of a string). Collections are copied when changed, so building
 * one element at a time costs what it costs in time, and a run's budget bounds its CPU time.
 */
export const checkSize = (run: RunState, size: number, what: "collection" | "string"): void => {
  const max = what === "string" ? run.limits.maxString : run.limits.maxCollection
  if (size > max) fail("value-size", `a ${what} of ${size} ${what === "string" ? "characters" : "elements"} is over the limit of ${max}`)
  if (size > 16) {
    step(run, what === "string" ? size >> 4 : size)
  }
}

/** Fails before building a collection of `size` elements that would be over the limit. */
export const checkSizeAhead = (run: RunState, size: number, what: "collection" | "string"): void => {
  const max = what === "string" ? run.limits.maxString : run.limits.maxCollection
  if (size > max) fail("value-size", `a ${what} of ${size} ${what === "string" ? "characters" : "elements"} would be over the limit of ${max}`)
}

export const nowMillis = (run: RunState): number => run.clock.currentTimeMillisUnsafe()

