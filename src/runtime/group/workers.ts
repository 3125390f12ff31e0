/**
 * Workers: `maxInFlight` fibers that take work from the dispatcher and run the handler, and the
 * watchdog that enforces `ackTimeoutMs`.
 *
 * - **A run.** The hot path (auto ack, the handler succeeds, nothing published) is synchronous
 *   bookkeeping around one handler call. Before a run, the slow cases: attempts exhausted (a dead
 *   letter), a filter that threw at fetch time (evaluated again: skip, or a failed attempt), a
 *   start to record first (precise runs: suspects as `running`, requeued dead letters as
 *   `requeued`). After it, the slow outcomes: a failure or interruption, a manual ack awaited, a
 *   nack; all are settled by `settle.ts`. An interruption during the drain is not a failed attempt.
 * - **The watchdog**, one fiber instead of a timer per run: every deadline is start +
 *   `ackTimeoutMs`, so the oldest run always expires first. An overdue worker is interrupted and
 *   replaced, and its run settled as failed.
 * - **Transaction slots.** Each worker provides its own `TransactionSlot` (the handler
 *   transaction's box); a transaction its handler left open when the worker ends (interrupted by
 *   the watchdog or the drain) is rolled back. Workers carry `CurrentGroup`, so a handler that
 *   stops its own group does not wait for its own drain.
 * - **Yielding.** Handlers finishing synchronously run back to back without returning to the
 *   event loop: CPU-bound ones would starve timers, signals and lease renewal. A worker yields to
 *   the event loop after a run of `slowRunMs` or more, or when the loop has not had a turn for
 *   `yieldAfterMs`. Not after every run: yielding often lets the fetcher overfill the buffer and
 *   park events behind busy keys, which costs key-ordered groups much of their throughput.
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import { monotonicMillis } from "../monotonic.ts"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { processSpanName, processSpanOptions, tracingOn } from "../../observability/tracing.ts"
import type { CommitResult, HandlerTransaction } from "../../store/Store.ts"
import { TransactionSlot } from "../../store/Store.ts"
import type { GroupConfig } from "../subscribeOptions.ts"
import type { WritePart } from "../Writer.ts"
import { RunContext, type RunServices } from "./context.ts"
import type { Dispatcher } from "./dispatch.ts"
import type { Ledger } from "./ledger.ts"
import type { SessionPhase } from "./phase.ts"
import type { Runs } from "./runs.ts"
import type { Settle } from "./settle.ts"
import { CurrentGroup, type Handler, type SessionError } from "./types.ts"
import { type Decision, deliveryRow, errorText, failure, filterVerdict, type Work } from "./work.ts"

/** A handler run (or a filter call) this long (ms) makes its worker (or the fetcher) yield to the event loop afterwards. */
export const slowRunMs = 10
/** The longest (ms) handlers (or filters) may keep the event loop from a turn. */
export const yieldAfterMs = 250

type Self = Fiber.Fiber<unknown, unknown>

export class Workers {
  /** Every worker started (replacements included): the drain awaits them. */
  readonly fibers: Array<Fiber.Fiber<void, never>> = []
  private readonly config: GroupConfig
  private readonly handler: Handler
  private readonly instance: string
  private readonly phase: SessionPhase
  private readonly dispatcher: Dispatcher
  private readonly runs: Runs
  private readonly settle: Settle
  private readonly ledger: Ledger
  private readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
  private readonly services: RunServices
  private readonly scope: Scope.Scope
  private readonly clock: Clock.Clock
  /** Runs a fiber's loop so that its failure ends the session (see `session.ts`). */
  private readonly guard: <A, E>(eff: Effect.Effect<A, E>) => Effect.Effect<void>
  /** When a worker last gave the event loop a turn (shared: one loop). */
  private lastYield: number

  constructor(args: {
    readonly config: GroupConfig
    readonly handler: Handler
    readonly instance: string
    readonly phase: SessionPhase
    readonly dispatcher: Dispatcher
    readonly runs: Runs
    readonly settle: Settle
    readonly ledger: Ledger
    readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
    readonly services: RunServices
    readonly scope: Scope.Scope
    readonly clock: Clock.Clock
    readonly guard: <A, E>(eff: Effect.Effect<A, E>) => Effect.Effect<void>
  }) {
    this.config = args.config
    this.handler = args.handler
    this.instance = args.instance
    this.phase = args.phase
    this.dispatcher = args.dispatcher
    this.runs = args.runs
    this.settle = args.settle
    this.ledger = args.ledger
    this.submit = args.submit
    this.services = args.services
    this.scope = args.scope
    this.clock = args.clock
    this.guard = args.guard
    this.lastYield = monotonicMillis(args.clock)
  }

  /** Monotonic: run times and ack deadlines do not move with the wall clock. */
  private now(): number {
    return monotonicMillis(this.clock)
  }

  /** Starts one worker in the session's scope. */
  readonly start: Effect.Effect<void> = Effect.suspend(() => {
    const slot: { current: HandlerTransaction | undefined } = { current: undefined }
    return Effect.forkIn(this.guard(Effect.withFiber((self) => this.loop(self))).pipe(
      Effect.ensuring(Effect.suspend(() => slot.current?.rollback ?? Effect.void)),
      Effect.provideService(CurrentGroup, this.instance),
      Effect.provideService(TransactionSlot, slot)
    ), this.scope).pipe(
      Effect.tap((fiber) => Effect.sync(() => this.fibers.push(fiber))),
      Effect.asVoid
    )
  })

  private loop(self: Self): Effect.Effect<void, SessionError> {
    let started = 0
    const loopAfterYield: Effect.Effect<void, SessionError> = Effect.andThen(Effect.yieldNow, Effect.suspend(() => loop))
    // After each run (one function for every run: the hot path allocates no closure of its own).
    const afterRun = (): Effect.Effect<void, SessionError> => {
      this.dispatcher.ended()
      if (this.phase.isolating && this.dispatcher.quiet) this.phase.run()
      this.dispatcher.wakeIdle()
      const at = this.now()
      if (at - started < slowRunMs && at - this.lastYield < yieldAfterMs) return loop
      this.lastYield = at
      return loopAfterYield
    }
    // A partitioned group's units share their process's maxInFlight: a permit per run (taken
    // before its start: waiting for one is waiting in line, not running, for the ack timeout).
    const slots = this.config.unit?.slots
    const loop: Effect.Effect<void, SessionError> = Effect.flatMap(this.dispatcher.take, (work) => {
      if (work === undefined) return Effect.void
      if (slots === undefined) {
        started = this.now()
        return Effect.flatMap(this.handle(work, self), afterRun)
      }
      const handled = slots.withPermit(Effect.suspend(() => {
        started = this.now()
        return this.handle(work, self)
      }))
      return Effect.flatMap(handled, afterRun)
    })
    return loop
  }

  private handle(work: Work, self: Self): Effect.Effect<void, SessionError> {
    return work.attempts >= this.config.maxAttempts || work.filterPending || work.precise
      ? this.prepareSlow(work, self)
      : this.runHandler(work, self)
  }

  /** Everything before a run that is not the plain case: exhausted attempts, a filter to retry,
   * a start to record first (suspects and requeued events). */
  private prepareSlow(work: Work, self: Self): Effect.Effect<void, SessionError> {
    const it = this
    return Effect.gen(function*() {
      if (work.attempts >= it.config.maxAttempts && !work.crashCharged) return yield* it.settle.deadLetter(work)
      // From its next start on, its attempts are its own runs.
      work.crashCharged = false
      if (work.filterPending) {
        const verdict = filterVerdict(it.config.filter!, work.event)
        if (verdict === "skip") return yield* it.settle.finish(work)
        if (verdict !== "run") {
          work.attempts++
          return yield* it.settle.settle(work, verdict)
        }
        work.filterPending = false
      }
      if (work.precise) {
        // A start recorded while suspects are isolated is the only run: "running" names the event
        // a crash then interrupted. One recorded beside other runs (a crash's recovered events
        // after the isolation) is counted the same, but as "suspect": a crash does not tell which
        // of them was at fault, so one its attempts run out on runs alone once more first.
        const state = work.requeued ? "requeued" : it.phase.isolating ? "running" : "suspect"
        yield* it.submit({ deliveries: [it.ledger.upsertRow({ ...deliveryRow(it.ledger.group, work, state), attempts: work.attempts + 1 })] })
        work.hasRow = true
      }
      return yield* it.runHandler(work, self)
    })
  }

  private runHandler(work: Work, self: Self): Effect.Effect<void, SessionError> {
    this.runs.begin(work, self)
    // With a tracer installed the run is a `process <topic>` span whose parent is the publisher's
    // (and the handler is called inside it); without one it is called here, as the run starts
    // (a throw is a defect, as in `Effect.suspend`).
    const traced = tracingOn(self)
      ? Effect.withSpan(
        Effect.suspend(() => this.callHandler(work)),
        processSpanName(work.event.topic),
        processSpanOptions(work.event, this.config.group, work.attempts)
      )
      : this.callHandler(work)
    return Effect.flatMap(Effect.exit(traced), (exit) => {
      // (A handler that blocked the process past its deadline returns before the watchdog could
      // run: its run failed all the same.)
      if (exit._tag === "Success" && work.decision === undefined && this.config.ackMode === "auto" && work.fiber === self && this.now() <= work.deadline) {
        this.runs.end(work)
        this.settle.succeeded(work)
        return work.publishes === undefined && work.tx === undefined ? this.settle.finish(work) : this.settle.acknowledge(work)
      }
      return this.completeSlow(work, exit, self)
    })
  }

  private callHandler(work: Work): Effect.Effect<unknown, unknown> {
    try {
      return this.handler(work.event, new RunContext(this.services, work))
    } catch (e) {
      return Effect.die(e)
    }
  }

  private completeSlow(work: Work, exit: Exit.Exit<unknown, unknown>, self: Self): Effect.Effect<void, SessionError> {
    const it = this
    return Effect.gen(function*() {
      const { runs, settle } = it
      // The watchdog took this delivery over (ack timeout) and interrupted us.
      if (!runs.runsOn(work, self)) return yield* Effect.interrupt
      work.handlerDone = true
      if (work.decision === undefined && Exit.isSuccess(exit) && it.now() > work.deadline) {
        // It returned after its ack deadline without the watchdog seeing it (it kept the process
        // busy, so no timer could fire): it did not finish in time, as if interrupted.
        runs.end(work)
        return yield* settle.settle(work, failure(`the handler did not finish within ${it.config.ackTimeoutMs} ms (ackTimeoutMs): it returned after its deadline, having kept the process busy`))
      }
      if (work.decision === undefined && Exit.isFailure(exit)) {
        runs.end(work)
        if (Cause.hasInterruptsOnly(exit.cause)) {
          if (it.phase.stopping) {
            yield* settle.discardRun(work)
            return yield* Effect.interrupt
          }
          return yield* settle.settle(work, failure("the handler was interrupted"))
        }
        const { message, stack } = errorText(exit.cause)
        return yield* settle.settle(work, { _tag: "fail", message, stack })
      }
      if (work.decision === undefined && it.config.ackMode === "manual") {
        yield* runs.awaitDecision(work)
        if (!runs.runsOn(work, self)) return yield* Effect.interrupt
      }
      runs.end(work)
      const decision = work.decision as Decision | undefined
      if (decision?._tag === "nack") return yield* settle.settle(work, failure("nacked", decision.delayMs))
      settle.succeeded(work)
      return yield* settle.acknowledge(work)
    })
  }

  /** Interrupts and replaces the worker of each run past its ack deadline, and fails that run. */
  get watchdog(): Effect.Effect<never, SessionError> {
    const it = this
    return Effect.gen(function*() {
      const { runs, config } = it
      while (true) {
        const oldest = runs.oldest()
        if (oldest === undefined) {
          yield* runs.started.wait
          continue
        }
        const wait = oldest.deadline - it.now()
        if (wait > 0) {
          yield* Effect.sleep(wait)
          continue
        }
        const fiber = oldest.fiber
        oldest.cutShort = "timeout"
        runs.end(oldest)
        if (fiber !== undefined) yield* Fiber.interrupt(fiber)
        it.dispatcher.ended()
        if (!it.phase.stopping) yield* it.start
        yield* it.settle.settle(oldest, failure(
          oldest.handlerDone
            ? `the event was not acknowledged within ${config.ackTimeoutMs} ms (ackTimeoutMs)`
            : `the handler did not finish within ${config.ackTimeoutMs} ms (ackTimeoutMs) and was interrupted`
        ))
        it.dispatcher.wakeIdle()
      }
    })
  }
}
