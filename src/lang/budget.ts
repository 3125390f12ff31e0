/**
 * A run's `Budget`: the work and memory one evaluation (a handler run, a timer tick, a test, a whole
 * load) may spend, measured in steps and estimated bytes, not calls. The bytes of every run in
 * progress are also charged to one process-wide pool, and a checkpoint every few thousand steps
 * fails a run that computed too long without pausing or passed its deadline (on the Clock). The
 * `Limits` a program runs under are defined here, with their defaults from the limits spec.
 */
import type * as Clock from "effect/Clock"
import { limitsSpec } from "../options/limitsSpec.ts"
import { check, problemText } from "../options/spec.ts"
import type { Meter } from "../reader/Value.ts"
import { fail } from "./langError.ts"
import { turnElapsed, turnStart } from "./turns.ts"

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
