/**
 * One session of a durable consumer group: a fiber tree that delivers the events of the group's
 * topics to its handler, at least once, in seq order per key, with retries, dead letters and
 * crash accounting. The supervisor (`supervisor.ts`) runs one session at a time and starts a new
 * one after a failure. The session's phase (Claiming, Recovering, Isolating, Running, Draining,
 * Done) is one value with guarded transitions, documented in `phase.ts`; this file wires the
 * parts and orders their start and their drain.
 *
 * 1. claim    - take the lease (`lease.ts`), standing by while another live owner holds it.
 * 2. recover  - open the cursors and read what the previous owner left (`recovery.ts`); write the
 *               suspects' charges and the orphan rows' deletes; restore key holds.
 * 3. start    - the workers and the watchdog (`workers.ts`), the flusher (`progress.ts`), lease
 *               renewal, the refresher (`requeue.ts`), the successor of pipelined acks
 *               (`settle.ts`), and the fetcher (`fetch.ts`), which waits at its gate. Then either
 *               isolate the suspects (one at a time, until quiet) or run; the recovered events
 *               and the requeued dead letters are admitted to the dispatcher (`dispatch.ts`).
 * 4. run      - until a stop is requested or a part fails. A failure (a store error, a lost
 *               lease) ends the session from there: its queued acks are cancelled, its scope's
 *               finalizers interrupt every fiber and release the lease.
 * 5. drain    - stop fetching and leasing on append, cancel retry timers, let running handlers
 *               finish within `drainTimeoutMs` (then interrupt them: not a failed attempt), stop
 *               the background fibers, persist the floors with no lease mark, release the lease.
 * A failing handler marks its event (retry, then dead letter: `settle.ts`), never the session.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import type { AckError } from "../busErrors.ts"
import { noGroupMetrics } from "../../observability/BusMetrics.ts"
import { type GroupConfig, storedName } from "../subscribeOptions.ts"
import { Signal } from "../Signal.ts"
import { Dispatcher } from "./dispatch.ts"
import { Fetcher } from "./fetch.ts"
import { claimLease, fencedSubmit, groupLease, renewLease } from "./lease.ts"
import { SessionPhase } from "./phase.ts"
import { Progress } from "./progress.ts"
import { openCursors, recover } from "./recovery.ts"
import { Requeue } from "./requeue.ts"
import { Runnable } from "./runnable.ts"
import { Runs } from "./runs.ts"
import { Settle } from "./settle.ts"
import type { GroupDeps, GroupStats, Handler, SessionError } from "./types.ts"
import { type Decision, isParked } from "./work.ts"
import { Workers } from "./workers.ts"

/** What the supervisor's handle reaches of the current session. */
export interface SessionControl {
  readonly decide: (eventId: string, decision: Decision, run: number | undefined) => Effect.Effect<void, AckError>
  readonly stats: () => GroupStats
}

export const session = (
  config: GroupConfig,
  handler: Handler,
  deps: GroupDeps,
  stopRequested: Deferred.Deferred<void>,
  refreshSignal: Signal,
  subscribed: Deferred.Deferred<void>,
  instance: string,
  expose: (control: SessionControl) => void,
  standingBy: (waiting: boolean) => void,
  /** The previous session of this group in this process failed: what it had in flight is recovered as a crash's. */
  afterFailure = false
): Effect.Effect<void, SessionError> =>
  Effect.scoped(Effect.gen(function*() {
    const { group, topics } = config
    /** What the group's state is stored under (a unit of a partitioned group has its own). */
    const stored = storedName(config)
    /** How logs name it. */
    const label = config.unit === undefined ? `group ${group}` : `group ${group} (partition ${config.unit.partition})`
    const { store, writer, sid } = deps
    const clock = yield* Clock.Clock
    const random = yield* Random.Random
    const now = () => clock.currentTimeMillisUnsafe()
    const sessionScope = yield* Effect.scope
    const phase = new SessionPhase(config.maxInFlight)

    // ---- 1. claim -------------------------------------------------------------------------------
    const claimed = yield* Effect.raceFirst(
      claimLease(groupLease(config), deps, Effect.andThen(Effect.sync(() => standingBy(true)), Deferred.succeed(subscribed, undefined))).pipe(
        Effect.map(Option.some),
        Effect.ensuring(Effect.sync(() => standingBy(false)))
      ),
      Deferred.await(stopRequested).pipe(Effect.as(Option.none<string | null>()))
    )
    if (Option.isNone(claimed)) return phase.done()
    const previousOwner = claimed.value
    // A previous owner that is not this process crashed; so did this process's own previous session
    // when it failed (its handlers may have run, their acks not stored: they run again, charged).
    const crashed = (previousOwner !== null && previousOwner !== sid) || afterFailure
    phase.claimed(crashed)
    yield* Effect.addFinalizer(() =>
      phase.current._tag === "Done" ? Effect.void : store.releaseLease(stored, sid, now()).pipe(Effect.ignore)
    )

    // ---- 2. recover -----------------------------------------------------------------------------
    const opened = yield* openCursors(store, config)
    yield* Deferred.succeed(subscribed, undefined)
    const recovered = yield* recover(store, config, sid, opened, crashed)
    const { ledger, suspects } = recovered

    /** Completed (failed) by the first part of the session that fails: the session ends. */
    const fatal = yield* Deferred.make<never, SessionError>()
    /** Runs a background part of the session; its failure (not interruption) ends the session. */
    const guard = <A, E>(eff: Effect.Effect<A, E>): Effect.Effect<void> =>
      eff.pipe(
        Effect.asVoid,
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.void : Deferred.failCause(fatal, cause as Cause.Cause<never>).pipe(Effect.asVoid)
        )
      )
    const timers = yield* Scope.fork(sessionScope, "parallel")
    const submit = fencedSubmit(writer, stored)

    const dispatcher = new Dispatcher({
      ordering: config.ordering, gate: phase, capacity: config.capacity, batchSize: config.batchSize, maxBytes: config.maxBufferedBytes
    })
    dispatcher.bufferRecovered(recovered.inFlight.filter((slot) => !isParked(slot)).length)
    for (const dl of recovered.holds) dispatcher.restoreHold(dl.key ?? undefined, dl.seq)
    const progress = new Progress({ ledger, dispatcher, submit, commitIntervalMs: config.commitIntervalMs })
    const runnable = new Runnable({ store, dispatcher, ledger, timers, clock, changed: progress.markDirty })
    const metrics = deps.groupMetrics ?? noGroupMetrics
    const settle = new Settle({
      config, ledger, dispatcher, runnable, progress, phase, writer, submit, wakeups: deps.wakeups, clock, random, metrics, events: deps.events,
      deadLetterLines: deps.deadLetterLines,
      fail: (cause) => Deferred.doneUnsafe(fatal, Exit.failCause(cause))
    })
    const runs = new Runs(group, config.ackTimeoutMs, clock, metrics, (topic) => ledger.floors.get(topic))
    // A run its worker never finished (interrupted by the drain, or the session failed) is over:
    // its handler, if it still runs (a Promise handler cannot be stopped), has its late ack,
    // publishes and transaction refused instead of accepted and never written.
    yield* Effect.addFinalizer(() => Effect.sync(() => runs.endAll()))
    const workers = new Workers({
      config, handler, instance, phase, dispatcher, runs, settle, ledger, submit, clock, guard,
      services: { group, runs, store, prepare: deps.prepare },
      scope: sessionScope
    })
    const fetcher = new Fetcher({ config, store, ledger, dispatcher, runnable, progress, phase, submit, maxEventBytes: deps.maxEventBytes, metrics, clock })
    const othersCommitted = new Signal()
    const requeue = new Requeue({ store, topics, ledger, dispatcher, runnable, signal: refreshSignal, others: othersCommitted })

    // Charge the suspects and delete orphan rows before anything runs.
    if (recovered.writes.length > 0) yield* submit({ deliveries: recovered.writes })
    if (recovered.charged > 0) {
      yield* Effect.logWarning(
        `${label}: recovering ${recovered.charged} event(s) that may have been running when the previous owner stopped${
          suspects === 0 ? "" : `; ${suspects} of them, suspects of an earlier crash too, run alone first`
        }`
      )
    }

    // ---- 3. start -------------------------------------------------------------------------------
    const unwatch = deps.wakeups.watch(topics, fetcher.news)
    const unhook = writer.hook(fetcher.leaseHook())
    const unwatchRefresh = deps.wakeups.watch([], othersCommitted)
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      unwatch()
      unwatchRefresh()
      unhook()
    }))

    expose({
      decide: (eventId, decision, run) => Effect.suspend(() => runs.decideById(eventId, run, decision)),
      stats: () => ({
        group,
        topics,
        buffered: dispatcher.buffered,
        running: dispatcher.running,
        floors: Object.fromEntries([...ledger.floors].map(([topic, floor]) => [topic, floor.floor])),
        heldKeys: dispatcher.heldKeys(),
        parked: dispatcher.parked,
        requeued: ledger.requeuedSeqs.size,
        isolating: phase.isolating
      })
    })

    for (let i = 0; i < config.maxInFlight; i++) yield* workers.start
    const background = [
      yield* Effect.forkIn(guard(workers.watchdog), sessionScope),
      yield* Effect.forkIn(guard(progress.loop), sessionScope),
      yield* Effect.forkIn(guard(renewLease(store, stored, sid, config.leaseMs)), sessionScope),
      yield* Effect.forkIn(guard(requeue.loop), sessionScope),
      yield* Effect.forkIn(guard(settle.successor), sessionScope)
    ]
    const fetcherFiber = yield* Effect.forkIn(guard(fetcher.loop), sessionScope)

    if (suspects > 0) phase.isolate(suspects)
    for (const slot of recovered.inFlight) yield* (isParked(slot) ? runnable.admitParked(slot) : runnable.admit(slot))
    if (suspects === 0 || dispatcher.quiet) phase.run()
    yield* requeue.admit(recovered.requeued, true)
    dispatcher.wakeIdle()

    // ---- 4. run until stopped or failed ---------------------------------------------------------
    yield* Effect.raceFirst(Deferred.await(stopRequested), Deferred.await(fatal)).pipe(
      // A failed session's acks still queued in the writer must not commit.
      Effect.tapError(() => Effect.sync(() => settle.cancelAcks()))
    )

    // ---- 5. drain -------------------------------------------------------------------------------
    phase.drain()
    unhook()
    yield* Fiber.interrupt(fetcherFiber)
    yield* Scope.close(timers, Exit.void)
    dispatcher.dismissIdle()
    const drained = yield* Effect.timeoutOption(Fiber.awaitAll(workers.fibers), config.drainTimeoutMs)
    if (Option.isNone(drained)) {
      yield* Effect.logWarning(`${label}: handlers still running after ${config.drainTimeoutMs} ms; interrupting them`)
      yield* Fiber.interruptAll(workers.fibers)
      runs.endAll()
    }
    yield* Fiber.interruptAll(background)
    yield* progress.flush(true)
    yield* store.releaseLease(stored, sid, now())
    phase.done()
  }))
