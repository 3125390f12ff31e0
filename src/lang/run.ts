/**
 * What compiled code runs with. A compiled node is a closure `(frame) => result`, where a result is
 * a value or, when the code did something effectful (publish!, a host call, log), an Effect that
 * produces the value. Pure code therefore runs synchronously without allocating Effects, and
 * effectful steps are sequenced lazily with `chain`.
 *
 * `RunState` is one evaluation's context (a load, a macro call, a handler run, a timer tick, a test):
 * its mode, its call depth, the services it may use, and its `Budget` (`budget.ts`), which every
 * operation charges for what it touches (calls, elements built, values walked, bytes created).
 * Limits end the run with a located language error (`langError.ts`) instead of a hung event loop,
 * a Node stack overflow or an OOM.
 */
import type * as Clock from "effect/Clock"
import type { Span } from "../diagnostics/Span.ts"
import * as Effect from "effect/Effect"
import type * as Random from "effect/Random"
import { costs, type Value } from "../reader/Value.ts"
import { type Budget, type Limits, runBudget } from "./budget.ts"
import { fail, limitAt, limitsAt } from "./langError.ts"

export type Mode = "load" | "macro" | "handler" | "timer" | "test"

/** Services the language reaches in the embedding runtime; provided by the program loader. */
export interface RunServices {
  readonly [name: string]: unknown
  /** When given, what every host function's wait goes through (see `HostWait`). */
  readonly hostWait?: HostWait | undefined
}

/**
 * Bounds a host function's wait: given the function's name and its call (the Promise or Effect it
 * returned, as an effect), the call as the run waits for it. The test runner gives one: nothing
 * else ends a wait in a test's body, whose clock does not move while it waits.
 */
export type HostWait = (name: string, call: Effect.Effect<unknown, unknown>) => Effect.Effect<unknown, unknown>

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
 * to `slots` for the next round (a step per round); effectful rounds are chained. A limit the loop
 * reaches outside any call in it (its rounds' steps, most often) is located at `span`, the loop's
 * form (or the function's, for a function's recur): no call around it is where the work was. The
 * rounds pay nothing for it: the loop is entered once, and its effect wrapped once.
 */
export const loopOver = (body: Node, slots: ReadonlyArray<number>, span: Span): Node => {
  const rounds = (f: Frame): unknown => {
    for (;;) {
      const out = body(f)
      if (isEffect(out)) {
        return Effect.flatMap(out, (v) => {
          if (!(v instanceof Recur)) return Effect.succeed(v)
          for (let i = 0; i < slots.length; i++) f.slots[slots[i]!] = v.values[i]!
          step(f.run)
          return lift(rounds(f))
        })
      }
      if (!(out instanceof Recur)) return out
      for (let i = 0; i < slots.length; i++) f.slots[slots[i]!] = out.values[i]!
      step(f.run)
    }
  }
  return (f) => {
    let out: unknown
    try {
      out = rounds(f)
    } catch (e) {
      throw limitAt(e, span)
    }
    return isEffect(out) ? limitsAt(out, span) : out
  }
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
