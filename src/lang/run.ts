/**
 * What compiled code runs with. A compiled node is a closure `(frame) => result`, where a result is
 * a value or, when the code did something effectful (publish!, a host call, log), an Effect that
 * produces the value. Pure code therefore runs synchronously without allocating Effects, and
 * effectful steps are sequenced lazily with `chain`.
 *
 * `RunState` is one evaluation's context (a load, a macro call, a handler run, a timer tick, a test):
 * its mode, its call depth, the services it may use, and its `Budget`. The budget bounds work and
 * memory, not calls: every operation charges what it touches (calls, elements built, values
 * walked, bytes created, publishes buffered), a checkpoint every few thousand steps fails a run
 * that computed too long without pausing or passed its deadline (on the Clock), and the bytes of
 * every run in progress are also charged to one process-wide pool. Limits end the run with a
 * located language error instead of a hung event loop, a Node stack overflow or an OOM.
 */
import type * as Clock from "effect/Clock"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Random from "effect/Random"
import { diagnostic, SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import { limitsSpec } from "../options/limitsSpec.ts"
import { check, problemText } from "../options/spec.ts"
import { costs, type Meter, print, type Value } from "../reader/Value.ts"
import { turnElapsed, turnStart } from "./turns.ts"

export type Mode = "load" | "macro" | "handler" | "timer" | "test"

export interface Limits {
  /** Work per run: calls, collection elements built or walked, 16 characters of text. */
  readonly maxSteps: number
  /** Nested calls. */
  readonly maxDepth: number
  /** Elements in one collection. */
  readonly maxCollection: number
  /** Characters in one string. */
  readonly maxString: number
  /** Memory a run may allocate (estimated bytes: collections, strings, keywords, buffered publishes). */
  readonly maxBytes: number
  /** Memory every run in progress in the process may hold together (estimated bytes). */
  readonly maxBytesInFlight: number
  /** Longest a run may compute without pausing (giving the event loop back), in milliseconds. */
  readonly maxBlockMs: number
  /** Work of a whole load: every top-level form and every macro expansion of the files loaded. */
  readonly maxLoadSteps: number
  /** Memory a whole load may allocate (estimated bytes). */
  readonly maxLoadBytes: number
  /** Forms all macro expansions of a load may produce together. */
  readonly maxExpandedForms: number
  /** Characters of source text a load may read (every file together). */
  readonly maxSourceChars: number
  /** Tokens a load may read (every file together). */
  readonly maxSourceTokens: number
  /** Consumer groups a program subscribes. */
  readonly maxGroups: number
  /** Consumers (a group's partitions, or 1) a program runs in one process together. */
  readonly maxConsumers: number
  /** Timers a program declares. */
  readonly maxTimers: number
}

const MiB = 1024 * 1024

/** The defaults of the limits spec (src/options/limitsSpec.ts, which documents each one). */
export const defaultLimits: Limits = Object.fromEntries(
  Object.entries(limitsSpec.fields).map(([name, o]) => [name, o.default!])
) as unknown as Limits

// The spec names exactly the limits: this does not compile otherwise.
const limitsMatchTheirSpec: [keyof Limits] extends [keyof typeof limitsSpec.fields] ? ([keyof typeof limitsSpec.fields] extends [keyof Limits] ? true : false) : false = true
void limitsMatchTheirSpec

/** Checks a `limits` option against its spec: what is wrong with it, or undefined. */
export const limitsProblem = (limits: unknown): string | undefined => {
  const checked = check(limitsSpec, limits)
  return checked.ok ? undefined : problemText(checked.problem, { name: (n) => JSON.stringify(n), path: (p) => `limits.${p}` })
}

const formatBytes = (n: number): string => (n % MiB === 0 ? `${n / MiB} MiB` : `${n.toLocaleString("en-US")} bytes`)

/** Estimated bytes held by every run in progress in this process (see `Budget.release`). */
const pool = { bytes: 0 }

/** Bytes the runs in progress hold together now (for tests and diagnostics). */
export const bytesInFlight = (): number => pool.bytes

/**
 * A run holding at most this much is not refused by a full pool (a program filling the pool with
 * large runs cannot starve the small runs of other groups and timers), until the pool holds twice
 * maxBytesInFlight: many small runs at once (thousands of handlers waiting on a pause, each under
 * this) are then refused too, or together they would hold any amount.
 */
const poolFreeBytes = 1024 * 1024

/** Steps between checkpoints (budget, clock): small enough that one stretch stays well under 1 ms. */
const checkEvery = 4096

export interface BudgetOptions {
  /** What is being measured, for messages. */
  readonly what: "run" | "load" | "test"
  readonly maxSteps: number
  readonly maxBytes: number
  /** Charge the process-wide pool too (runs in progress; a load has its own bound). */
  readonly pooled: boolean
  readonly maxBytesInFlight: number
  readonly maxBlockMs: number
  /** An absolute deadline on the Clock's monotonic time (nanoseconds), and what it is, for messages. */
  readonly deadline?: { readonly atNanos: bigint; readonly what: string } | undefined
  /**
   * A budget this one's steps also count against (a test's, for the runs of its program): charged
   * at checkpoints and when the run ends; once it is spent, runs under it fail at their next
   * checkpoint and new ones at their start.
   */
  readonly parent?: Budget | undefined
}

/**
 * The work and memory one run (or one whole load) may spend. `charge` is the hot path: two
 * additions and a comparison; the rest happens at checkpoints every `checkEvery` steps, where the
 * time is read: a run that has computed for `maxBlockMs` without pausing, or passed its deadline,
 * fails there. Pausing is seen through a microtask: queued at the first checkpoint of a stretch,
 * it can only run once the run's synchronous code has given the event loop back.
 */
export class Budget implements Meter {
  steps = 0
  bytes = 0
  /** Bytes this budget has charged to the process-wide pool and not given back yet. */
  private held = 0
  private nextCheck: number
  readonly options: BudgetOptions
  private readonly clock: Clock.Clock
  private readonly maxBlockNanos: bigint
  /**
   * The longest this run computed without the event loop going round (nanoseconds), as its start
   * and checkpoints saw it: a run that paused (a log line, a read) and then computed for long held
   * the process for that stretch, not for its whole time. Its share rests by it (turns.ts).
   */
  longestStretch = 0n
  /** The turn the run last computed in, and when its stretch in that turn began. */
  private stretchTurn: bigint
  private stretchFrom: bigint
  /** Steps and bytes already counted against the parent. */
  private passedUp = 0
  private bytesPassedUp = 0

  constructor(options: BudgetOptions, clock: Clock.Clock) {
    this.options = options
    this.clock = clock
    this.nextCheck = Math.min(options.maxSteps, checkEvery)
    this.maxBlockNanos = BigInt(options.maxBlockMs) * 1_000_000n
    // The turn is started (if none is open) when the run starts, so its first checkpoint measures.
    this.stretchTurn = turnStart(clock)
    this.stretchFrom = clock.monotonicTimeNanosUnsafe()
    if (options.parent?.spent === true) options.parent.failSpent()
  }

  /** True once more steps or bytes were counted than the budget allows. */
  get spent(): boolean {
    return this.steps > this.options.maxSteps || this.bytes > this.options.maxBytes
  }

  /** Counts what a child run took (without failing here: the child fails at its next checkpoint). */
  absorb(steps: number, bytes = 0): void {
    this.steps += steps
    this.bytes += bytes
  }

  failSpent(): never {
    const o = this.options
    if (this.bytes > o.maxBytes) {
      return fail("memory-budget", `the ${o.what} allocated more than ${formatBytes(o.maxBytes)} in all (its handlers, timers and its own code together)`, [
        o.what === "test" ? "a test's memory budget is 4 times a run's (maxBytes): look for handlers that publish to each other without end" : "look for work that does not end"
      ])
    }
    return fail("step-budget", `the ${o.what} took more than ${o.maxSteps.toLocaleString("en-US")} steps in all (its handlers, timers and its own code together)`, [
      o.what === "test"
        ? "a test's budget is 10 times a run's (maxSteps): look for handlers or timers that run without end, or move the clock in smaller steps"
        : "look for work that does not end"
    ])
  }

  /** Counts `nodes` steps of work and `bytes` of memory built. */
  readonly charge = (nodes: number, bytes: number): void => {
    this.steps += nodes
    if (bytes > 0) this.allocate(bytes)
    if (this.steps > this.nextCheck) this.checkpoint()
  }

  allocate(bytes: number): void {
    this.bytes += bytes
    if (this.bytes > this.options.maxBytes) {
      const whole = this.options.what === "load" ? "the load" : "the run"
      fail("memory-budget", `${whole} allocated more than ${formatBytes(this.options.maxBytes)} (its memory budget, maxBytes${this.options.what === "load" ? " for a load: maxLoadBytes" : ""})`, [
        "the budget counts every collection element, string character and buffered publish the code creates, even when a value is shared many times",
        "look for a value that grows without end, or for publishing or copying a large value many times"
      ])
    }
    if (this.options.pooled) {
      pool.bytes += bytes
      this.held += bytes
      if (pool.bytes > this.options.maxBytesInFlight && (this.held > poolFreeBytes || pool.bytes > this.options.maxBytesInFlight * 2)) {
        fail("memory-in-flight", this.held > poolFreeBytes
          ? `the .sib runs in progress hold more than ${formatBytes(this.options.maxBytesInFlight)} together (maxBytesInFlight); this run was stopped`
          : `the .sib runs in progress hold more than twice maxBytesInFlight (${formatBytes(this.options.maxBytesInFlight)}) together, small runs included; this run was stopped`, [
          "many handlers holding large values at once: lower the group's maxInFlight, or build smaller values"
        ])
      }
    }
  }

  /** Gives this run's bytes back to the process-wide pool and its last steps to the parent (when the run ends, however it ends). */
  release(): void {
    pool.bytes -= this.held
    this.held = 0
    this.passUp()
  }

  private passUp(): void {
    const parent = this.options.parent
    if (parent === undefined) return
    parent.absorb(this.steps - this.passedUp, this.bytes - this.bytesPassedUp)
    this.passedUp = this.steps
    this.bytesPassedUp = this.bytes
  }

  private checkpoint(): void {
    const o = this.options
    if (this.steps > o.maxSteps) {
      fail("step-budget", o.what === "load"
        ? `the load took more than ${o.maxSteps.toLocaleString("en-US")} steps (the load's step budget, maxLoadSteps, shared by every top-level form and macro expansion)`
        : `the run took more than ${o.maxSteps.toLocaleString("en-US")} steps (the step budget, maxSteps)`, [
        "the budget counts calls, collection elements built and values walked (comparing, hashing, printing, converting to JSON)",
        "look for a loop or recursion that does not end, or for work on a value far larger than it looks (structure shared many times)"
      ])
    }
    if (o.parent !== undefined) {
      this.passUp()
      if (o.parent.spent) o.parent.failSpent()
    }
    const now = this.clock.monotonicTimeNanosUnsafe()
    const turnBegan = turnStart(this.clock)
    if (turnBegan !== this.stretchTurn) {
      // The loop went round since the last checkpoint: a new stretch (its first steps uncounted).
      this.stretchTurn = turnBegan
      this.stretchFrom = now
    } else if (now - this.stretchFrom > this.longestStretch) {
      this.longestStretch = now - this.stretchFrom
    }
    if (o.deadline !== undefined && now > o.deadline.atNanos) {
      fail("time-limit", `the ${o.what} ran longer than ${o.deadline.what}`, ["look for a loop that does not end or work that grows with the data"])
    }
    if (turnElapsed(this.clock) > this.maxBlockNanos) {
      fail("time-limit", `the ${o.what} computed for more than ${o.maxBlockMs} ms without the process pausing (maxBlockMs)`, [
        "a run may not hold the process for longer (runs that follow each other without a pause count together): look for a loop that does not end or work that grows with the data"
      ])
    }
    // Only a checkpoint that passes moves the next one on: after a failure every charge fails again.
    this.nextCheck = Math.min(o.maxSteps, this.steps + checkEvery)
  }
}

/** Services the language reaches in the embedding runtime; provided by the program loader. */
export interface RunServices {
  readonly [name: string]: unknown
}

export interface RunState {
  readonly mode: Mode
  readonly limits: Limits
  depth: number
  readonly clock: Clock.Clock
  readonly random: Random.Random
  /** What the run may still spend; shared by the runs of one load (its forms and macro calls). */
  readonly budget: Budget
  /** Mode-specific services (the program builder at load time, the bus and delivery at run time). */
  readonly services: RunServices
}

/**
 * A budget for one run from the limits: pooled, with an optional deadline (a handler's ack
 * timeout) and an optional parent (the test the run belongs to).
 */
export const runBudget = (
  limits: Limits,
  clock: Clock.Clock,
  extra: { readonly deadline?: { readonly ms: number; readonly what: string } | undefined; readonly parent?: Budget | undefined } = {}
): Budget =>
  new Budget({
    what: "run", maxSteps: limits.maxSteps, maxBytes: limits.maxBytes, pooled: true, maxBytesInFlight: limits.maxBytesInFlight,
    maxBlockMs: limits.maxBlockMs, parent: extra.parent,
    deadline: extra.deadline === undefined
      ? undefined
      : { atNanos: clock.monotonicTimeNanosUnsafe() + BigInt(Math.ceil(extra.deadline.ms)) * 1_000_000n, what: extra.deadline.what }
  }, clock)

/** How many runs' worth of steps a whole test (its body, handlers and timers together) may take. */
const testBudgetFactor = 10

/** Steps charged for each timer firing a test's `advance!` causes, before it moves the clock. */
export const timerFiringCost = 100

/** The budget of a whole test: the runs of its program count against it. */
export const testBudget = (limits: Limits, clock: Clock.Clock): Budget =>
  new Budget({
    what: "test", maxSteps: limits.maxSteps * testBudgetFactor, maxBytes: limits.maxBytes * 4, pooled: false,
    maxBytesInFlight: limits.maxBytesInFlight, maxBlockMs: limits.maxBlockMs
  }, clock)

/**
 * The budget of a whole load (every form and macro expansion): its own bound, outside the pool.
 * It may compute for maxBlockMs without pausing, as a run may (a load yields between forms, so
 * only one form past that is refused; a reload must not freeze the running program for longer).
 */
export const loadBudget = (limits: Limits, clock: Clock.Clock): Budget =>
  new Budget({
    what: "load", maxSteps: limits.maxLoadSteps, maxBytes: limits.maxLoadBytes, pooled: false, maxBytesInFlight: limits.maxBytesInFlight,
    maxBlockMs: limits.maxBlockMs
  }, clock)

export const makeRun = (mode: Mode, limits: Limits, clock: Clock.Clock, random: Random.Random, services: RunServices, budget?: Budget): RunState => ({
  mode, limits, depth: 0, clock, random, services, budget: budget ?? runBudget(limits, clock)
})

/**
 * Runs `body` (a run's whole evaluation, as an Effect) and gives the run's pooled bytes back when
 * it ends, whether it succeeds, fails or is interrupted.
 */
export const releasing = <A, E, R>(run: RunState, body: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.ensuring(body, Effect.sync(() => run.budget.release()))

export interface Frame {
  readonly slots: Array<unknown>
  readonly parent: Frame | undefined
  readonly run: RunState
}

export type Node = (frame: Frame) => unknown

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
  return new SibRuntimeError(diagnostic("Runtime", "runtime/error", message, span))
}

/**
 * An effect whose failures carry `span`, and whose continuations' thrown errors (which Effect
 * makes defects) too: every error a form's effect ends with is a located language error.
 * Interruptions pass as they are.
 */
export const locatedEffect = (out: Effect.Effect<unknown, unknown>, span: Span): Effect.Effect<unknown, unknown> =>
  Effect.catchCause(out, (cause) => (Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.fail(located(Cause.squash(cause), span))))

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

/** Runs the nodes in order (waiting for each one's effect); the value is the last one's. */
export const sequenceLast = (nodes: ReadonlyArray<Node>, f: Frame): unknown => {
  const from = (i: number): unknown => {
    for (; i < nodes.length - 1; i++) {
      const x = nodes[i]!(f)
      if (isEffect(x)) {
        const next = i + 1
        return Effect.flatMap(x, () => lift(from(next)))
      }
    }
    return nodes.length === 0 ? null : nodes[nodes.length - 1]!(f)
  }
  return from(0)
}

/**
 * What `recur` returns from the tail of a `loop` or a function: the values for the next round.
 * The loop (or the function's call) takes it and goes round again; nothing else ever sees one,
 * since `recur` compiles only in tail position.
 */
export class Recur {
  readonly values: ReadonlyArray<Value>
  constructor(values: ReadonlyArray<Value>) {
    this.values = values
  }
}

/** What a `recur` in tail position goes back to: a `loop` or a function, and how many values it takes. */
export interface RecurTarget {
  readonly what: "loop" | "fn"
  readonly arity: number
  /** Set when a recur to it was compiled (the function then runs its body in a loop). */
  used: boolean
}

/**
 * Runs `body` in `f` until it returns something other than a `Recur`, binding each Recur's values
 * to `slots` for the next round (a step per round); effectful rounds are chained.
 */
export const loopOver = (body: Node, slots: ReadonlyArray<number>): Node => (f) => {
  for (;;) {
    const out = body(f)
    if (isEffect(out)) {
      return Effect.flatMap(out, (v) => {
        if (!(v instanceof Recur)) return Effect.succeed(v)
        for (let i = 0; i < slots.length; i++) f.slots[slots[i]!] = v.values[i]!
        step(f.run)
        return lift(loopOver(body, slots)(f))
      })
    }
    if (!(out instanceof Recur)) return out
    for (let i = 0; i < slots.length; i++) f.slots[slots[i]!] = out.values[i]!
    step(f.run)
  }
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

/** Counts `n` steps against the run's budget. */
export const step = (run: RunState, n = 1): void => run.budget.charge(n, 0)

/** Counts `bytes` of memory built against the run's budget (and a step per 64 bytes of work). */
export const allocate = (run: RunState, bytes: number): void => run.budget.charge(bytes >> 6, bytes)

const sizeProblem = (run: RunState, size: number, what: "collection" | "string", verb: string): void => {
  const max = what === "string" ? run.limits.maxString : run.limits.maxCollection
  if (size > max) fail("value-size", `a ${what} of ${size.toLocaleString("en-US")} ${what === "string" ? "characters" : "elements"} ${verb} over the limit of ${max.toLocaleString("en-US")}`)
}

/**
 * Pays for a value of `size` elements (characters of a string) before it is built: checks the size
 * limit, charges a step per element (per 16 characters) and its estimated bytes. Building a
 * collection one element at a time copies it each time, so that costs what it costs in time.
 */
export const checkSizeAhead = (run: RunState, size: number, what: "collection" | "string"): void => {
  sizeProblem(run, size, what, "would be")
  if (what === "string") run.budget.charge(size >> 4, size * costs.char)
  else run.budget.charge(size, size * costs.element)
}

/** Pays for a value of `size` just built (see `checkSizeAhead`; prefer that one: it fails before building). */
export const checkSize = (run: RunState, size: number, what: "collection" | "string"): void => {
  sizeProblem(run, size, what, "is")
  if (what === "string") run.budget.charge(size >> 4, size * costs.char)
  else run.budget.charge(size, size * costs.element)
}

export const nowMillis = (run: RunState): number => run.clock.currentTimeMillisUnsafe()
