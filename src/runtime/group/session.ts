/**
 * A durable consumer group: one supervised fiber tree that delivers the events of its topics to a
 * handler, at least once, in seq order per key, with retries, dead letters and crash accounting.
 *
 * Lifecycle (one `session` at a time, restarted by `supervise` with backoff on store failures):
 * 1. claim    - take the group's lease. If a live owner holds it, stand by until it is released or
 *               expires. A restarted process takes over at once from a dead pid on this host.
 * 2. recover  - load cursors, open deliveries and key holds; create missing cursors from `from`.
 *               The events in (floor, leasedUpto] that are not acked are the "uncertain region":
 *               if the previous owner crashed, each of them is charged one attempt and becomes a
 *               suspect. Suspects then run one at a time, each start recorded before it runs
 *               (isolation), so the event that kills the process is counted exactly and other
 *               events stop being charged for its crashes.
 * 3. pipeline - the fetcher reads pages after the ack floor into a bounded buffer (it waits when
 *               `capacity` events are pending: backpressure), records the lease mark, and admits
 *               events to the key lanes; `maxInFlight` workers run handlers; the flusher persists
 *               ack floors; a run that published commits its ack with its publishes, and its
 *               worker moves on before the commit lands; retries wait on `Clock` timers; the
 *               lease is renewed.
 * 4. drain    - on unsubscribe/close: stop fetching, let running handlers finish within
 *               `drainTimeoutMs` (then interrupt them; interruption is not a failed attempt),
 *               persist the floor with no lease mark, release the lease.
 * A failing handler marks its event (retry, then dead letter), never the group's fibers. A failing
 * store call ends the session; the supervisor logs it and starts a new one after a backoff.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import type { Kysely } from "kysely"
import type { StoreError } from "../../store/errors.ts"
import type { Cursor, DeadLetter, Delivery, Event, SeqRanges } from "../../store/records.ts"
import { type CommitResult, type HandlerTransaction, type ProgressWrite, TransactionSlot } from "../../store/Store.ts"
import { AckFloor } from "../AckFloor.ts"
import { AckError, PublishError } from "../errors.ts"
import { Dispatcher } from "./dispatch.ts"
import { Runnable } from "./runnable.ts"
import { Fifo } from "../Fifo.ts"
import { Lanes } from "../Lanes.ts"
import type { GroupConfig } from "../options.ts"
import { type PendingEvent, pendingRecordOf, type PublishOptions } from "../publish.ts"
import { retryDelay } from "../RetryPolicy.ts"
import { Signal, suspend } from "../Signal.ts"
import { cancelledWrite, type WritePart } from "../Writer.ts"
import { claimLease, fencedSubmit, LeaseLost } from "./lease.ts"
import { openCursors, recover } from "./recovery.ts"
import { floorOf } from "./startFrom.ts"
import { CurrentGroup, type DeliveryContext, type GroupDeps, type GroupStats, type Handler, type SessionError } from "./types.ts"
import { type Decision, deliveryRow, errorText, failure, isParked, newWork, type Outcome, type Parked, type Slot, type Work } from "./work.ts"

/** A handler run this long (ms) makes its worker yield to the event loop afterwards. */
const slowRunMs = 10
/** The longest (ms) handlers may keep the event loop from a turn. */
const yieldAfterMs = 250

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
  expose: (control: SessionControl) => void
): Effect.Effect<void, SessionError> =>
  Effect.scoped(Effect.gen(function*() {
    const { group, topics } = config
    const { store, writer, sid, host } = deps
    const clock = yield* Clock.Clock
    const random = yield* Random.Random
    const now = () => clock.currentTimeMillisUnsafe()
    const sessionScope = yield* Effect.scope

    // ---- 1. claim -------------------------------------------------------------------------
    const claimed = yield* Effect.raceFirst(
      claimLease(config, deps, Deferred.succeed(subscribed, undefined)).pipe(Effect.map(Option.some)),
      Deferred.await(stopRequested).pipe(Effect.as(Option.none<string | null>()))
    )
    if (Option.isNone(claimed)) return
    const previousOwner = claimed.value
    const crashed = previousOwner !== null && previousOwner !== sid
    let released = false
    yield* Effect.addFinalizer(() =>
      released ? Effect.void : store.releaseLease(group, sid, now()).pipe(Effect.ignore)
    )

    // ---- 2. recover -------------------------------------------------------------------------
    const opened = yield* openCursors(store, config)
    yield* Deferred.succeed(subscribed, undefined)
    const recovered = yield* recover(store, config, sid, opened, crashed)
    const { ledger } = recovered
    const { floors, deadSeqs, requeuedSeqs } = ledger

    const submit = fencedSubmit(writer, group)

    // ---- state of the pipeline ---------------------------------------------------------------
    let stopping = false
    let isolating = false
    const gate = {
      get accepting() {
        return !stopping
      },
      limit: config.maxInFlight
    }
    const dispatcher = new Dispatcher({ ordering: config.ordering, gate, capacity: config.capacity, batchSize: config.batchSize })
    dispatcher.buffer(recovered.inFlight.length)
    const news = new Signal({ immediate: true })
    const dirty = new Signal()
    const fetchGate = yield* Latch.make(false)
    const fatal = yield* Deferred.make<never, SessionError>()
    const timers = yield* Scope.fork(sessionScope, "parallel")

    for (const dl of recovered.holds) dispatcher.restoreHold(dl.key ?? undefined, dl.seq)

    const markDirty = () => dirty.raise()
    const runnable = new Runnable({ store, dispatcher, ledger, timers, clock, changed: markDirty })
    const makeRunnable = (slot: Slot) => runnable.makeRunnable(slot)
    const admit = (work: Work) => runnable.admit(work)

    /** Runs a background part of the session; its failure (not interruption) ends the session. */
    const guard = <A, E>(eff: Effect.Effect<A, E>): Effect.Effect<void> =>
      eff.pipe(
        Effect.asVoid,
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.void : Deferred.failCause(fatal, cause as Cause.Cause<never>).pipe(Effect.asVoid)
        )
      )

    /**
     * The work finished for good: acked, filtered, or dead-lettered without a hold. `persisted`:
     * its ack is already committed (a transactional ack).
     */
    const finish = (work: Work, persisted = false): Effect.Effect<void, SessionError> => {
      giveBack(work)
      const next = dispatcher.finish(work)
      const release = next === undefined ? Effect.void : makeRunnable(next)
      if (!work.precise || persisted) {
        if (work.requeued && persisted) requeuedSeqs.delete(work.event.seq)
        return release
      }
      // A precise run's start is on record; its ack must be too before anything else runs, or a
      // crash of the next suspect would be charged to this one as well. A requeued event stays
      // known as requeued until its row is gone, so a refresh cannot admit it a second time.
      return flushOnce(false).pipe(
        Effect.andThen(Effect.sync(() => {
          if (work.requeued) requeuedSeqs.delete(work.event.seq)
        })),
        Effect.andThen(release)
      )
    }

    /**
     * Set once an ack transaction failed, or the session failed: the acks submitted after it must
     * not commit (the next session, which may already have read the cursor, redelivers them).
     */
    let acksFailed = false
    const ackFailed = () => acksFailed
    /** The lanes' next events after runs whose ack commits landed, for `successor` to start. */
    const successors: Array<Slot> = []
    const successorsReady = new Signal()

    /** Gives back the buffer slot of work that finished for good, and marks its ack for the flusher. */
    const giveBack = (work: Work): void => {
      if (work.floor !== undefined) {
        work.floor.done(work.event.seq)
        dispatcher.release()
      }
      if (work.hasRow) {
        ledger.queueDelete(work.event.seq)
        work.hasRow = false
      }
      markDirty()
    }

    const rowOf = (work: Work, state: Delivery["state"]): Delivery => deliveryRow(group, work, state)

    const deadLetter = (work: Work): Effect.Effect<void, SessionError> =>
      Effect.gen(function*() {
        yield* discardRun(work)
        const holds = config.onPoison === "hold" && dispatcher.laneOf(work.event.key) !== undefined
        const t = now()
        const dl: DeadLetter = {
          group,
          topic: work.event.topic,
          seq: work.event.seq,
          eventId: work.event.id,
          key: work.event.key ?? null,
          attempts: work.attempts,
          errorMessage: work.lastError ?? "the process stopped while the handler was running",
          errorStack: work.lastErrorStack,
          firstFailedAt: work.firstFailedAt ?? t,
          lastFailedAt: work.lastFailedAt ?? t,
          deadAt: t,
          holdsKey: holds
        }
        yield* submit({ deadLetters: [{ owner: sid, deadLetter: dl }] })
        work.hasRow = false
        deadSeqs.add(work.event.seq)
        yield* Effect.logWarning(
          `group ${group}: event ${work.event.id} (${work.event.topic} #${work.event.seq}) dead-lettered after ${work.attempts} attempt(s): ${dl.errorMessage}`
        )
        if (holds) {
          if (work.floor !== undefined) {
            work.floor.done(work.event.seq)
            dispatcher.release()
            markDirty()
          } else {
            requeuedSeqs.delete(work.event.seq)
          }
          dispatcher.hold(work)
        } else {
          yield* finish(work)
        }
      })

    /**
     * Acknowledges a successful run. Without publishes this is in-memory bookkeeping (the flusher
     * persists the floor later). With publishes, they and the ack are one transaction: the ack is
     * merged into the stored cursor and the delivery row removed, so either both exist or neither
     * does (and the event is redelivered). The in-memory floor learns of the ack right after the
     * commit, before any later transaction reads it. The worker does not wait for that commit
     * (except for precise runs and the handler's own transaction), so the acks of many runs share
     * one.
     */
    const acknowledge = (work: Work): Effect.Effect<void, SessionError> => {
      const { publishes, tx } = work
      if (publishes === undefined && tx === undefined) return finish(work)
      work.publishes = undefined
      work.tx = undefined
      const { seq, topic } = work.event
      const floor = work.floor
      const part = {
        appends: publishes === undefined ? [] : publishes.map((p) => p.draft),
        acks: floor === undefined ? undefined : [{ group, owner: sid, topic, seq }],
        deliveries: work.hasRow ? [ledger.deleteRow(seq)] : [],
        onCommit: floor === undefined ? undefined : () => floor.done(seq),
        cancelled: ackFailed
      }
      work.hasRow = false
      if (tx === undefined && !work.precise && !isolating) {
        // The worker does not wait for the commit: it goes on with other work, so the acks of many
        // runs share one transaction. The key's next event runs only once the commit has landed
        // (it may read what this run published); the buffer slot is given back then too. If the
        // commit fails, the session ends and every event not acked yet is redelivered, in order:
        // the acks submitted after it are cancelled, never committed.
        writer.enqueue(part, (exit) => {
          if (Exit.isFailure(exit)) {
            acksFailed = true
            Deferred.doneUnsafe(fatal, Exit.failCause(exit.cause))
          } else if (exit.value.fenced.includes(group)) {
            acksFailed = true
            Deferred.doneUnsafe(fatal, Exit.fail(new LeaseLost()))
          } else {
            giveBack(work)
            const next = dispatcher.finish(work)
            if (next !== undefined) {
              successors.push(next)
              successorsReady.raise()
            }
          }
        })
        return Effect.void
      }
      if (tx === undefined) return Effect.flatMap(submit(part), () => finish(work, true))
      // The handler's own transaction: the ack and the publishes are applied in it, then it commits
      // (unless an earlier ack failed: then none may commit after it).
      if (acksFailed) return Effect.andThen(tx.rollback, Effect.fail(cancelledWrite))
      return tx.commit({ ...part, now: now(), progress: [], deadLetters: [] }, part.onCommit).pipe(
        Effect.flatMap((result) => {
          if (result.fenced.includes(group)) return Effect.fail(new LeaseLost())
          const appended = new Set<string>()
          for (let i = 0; i < part.appends.length; i++) if (result.appended[i]!.existing === undefined) appended.add(part.appends[i]!.topic)
          if (appended.size > 0) deps.wakeups.notify(appended)
          return finish(work, true)
        })
      )
    }

    /** Forgets what a run that did not succeed published, and rolls back its transaction. */
    const discardRun = (work: Work): Effect.Effect<void> => {
      work.publishes = undefined
      const tx = work.tx
      if (tx === undefined) return Effect.void
      work.tx = undefined
      return tx.rollback
    }

    const settle = (work: Work, outcome: Outcome): Effect.Effect<void, SessionError> =>
      Effect.gen(function*() {
        if (outcome._tag === "ack") return yield* acknowledge(work)
        yield* discardRun(work)
        const t = now()
        work.lastError = outcome.message
        work.lastErrorStack = outcome.stack
        work.firstFailedAt ??= t
        work.lastFailedAt = t
        if (work.attempts >= config.maxAttempts) return yield* deadLetter(work)
        const delay = outcome.delayMs ?? retryDelay(config.backoff, work.attempts, random)
        work.notBefore = t + delay
        yield* submit({ deliveries: [{ _tag: "upsert", owner: sid, delivery: rowOf(work, work.requeued ? "requeued" : "retry") }] })
        work.hasRow = true
        yield* makeRunnable(work)
      })

    // ---- running handlers ------------------------------------------------------------------
    // The hot path (auto mode, handler succeeds) is synchronous bookkeeping around one handler
    // call; every other outcome goes through `completeSlow`. Ack timeouts are enforced by one
    // watchdog fiber, not a timer per run: every deadline is start + ackTimeoutMs, so the oldest
    // running delivery is always the first to expire.
    const inFlight = new Set<Work>()
    const inFlightChanged = new Signal()

    const notOutstanding = (eventId: string) =>
      new AckError({
        group,
        eventId,
        detail: "no delivery of it is outstanding (it was already settled, or its ack timeout expired and it will be redelivered)"
      })

    const badDelay = (eventId: string, delayMs: unknown) =>
      new AckError({ group, eventId, detail: `a nack delay is a number of milliseconds >= 0, got ${JSON.stringify(delayMs) ?? String(delayMs)}` })

    const validDelay = (delayMs: unknown) => delayMs === undefined || (typeof delayMs === "number" && Number.isFinite(delayMs) && delayMs >= 0)

    /** Settles the current run of `work`: once; a second ack or nack is refused. */
    const decide = (work: Work, run: number, decision: Decision): Effect.Effect<void, AckError> => {
      if (decision._tag === "nack" && !validDelay(decision.delayMs)) return Effect.fail(badDelay(work.event.id, decision.delayMs))
      if (work.run !== run || !inFlight.has(work)) return Effect.fail(notOutstanding(work.event.id))
      if (work.decision !== undefined) {
        return Effect.fail(new AckError({ group, eventId: work.event.id, detail: `this delivery was already ${work.decision._tag}ed` }))
      }
      work.decision = decision
      work.onDecision?.()
      return Effect.void
    }

    /** True once the run can take no more publishes or writes: over, or acked/nacked. */
    const settledRun = (work: Work, run: number) => work.run !== run || !inFlight.has(work) || work.decision !== undefined

    class RunContext implements DeliveryContext {
      readonly group = group
      readonly work: Work
      readonly run: number
      constructor(work: Work) {
        this.work = work
        this.run = work.run
      }
      get attempt() {
        return this.work.attempts
      }
      get ack() {
        return Effect.suspend(() => decide(this.work, this.run, { _tag: "ack" }))
      }
      nack(delayMs?: number) {
        return Effect.suspend(() => decide(this.work, this.run, { _tag: "nack", delayMs }))
      }
      get transaction(): Effect.Effect<Kysely<any>, PublishError | StoreError> {
        return Effect.suspend((): Effect.Effect<Kysely<any>, PublishError | StoreError> => {
          const work = this.work
          if (settledRun(work, this.run)) {
            return Effect.fail(new PublishError({
              topic: work.event.topic, reason: "settled",
              detail: `the delivery of event ${work.event.id} is already settled: its transaction is closed`
            }))
          }
          if (work.tx !== undefined) return Effect.succeed(work.tx.db)
          return Effect.uninterruptible(Effect.map(store.beginTransaction, (tx) => {
            work.tx = tx
            return tx.db
          }))
        })
      }
      publish(topic: string, payload: unknown, options?: PublishOptions): Effect.Effect<PendingEvent, PublishError> {
        return Effect.withFiber((fiber) => {
          const work = this.work
          if (settledRun(work, this.run)) {
            return Effect.fail(new PublishError({
              topic: String(topic), reason: "settled",
              detail: `the delivery of event ${work.event.id} that would cause it is already settled (a handler publishes before it returns or acks)`
            }))
          }
          const given = options ?? {}
          const prepared = deps.prepare(fiber, topic, payload, typeof given === "object" && given !== null && given.causedBy === undefined ? { ...given, causedBy: work.event.id } : given)
          if (prepared instanceof PublishError) return Effect.fail(prepared)
          ;(work.publishes ??= []).push(prepared)
          return Effect.succeed(pendingRecordOf(prepared))
        })
      }
    }

    const begin = (work: Work, self: Fiber.Fiber<unknown, unknown>) => {
      work.attempts++
      work.run++
      work.decision = undefined
      work.handlerDone = false
      work.publishes = undefined
      work.tx = undefined
      work.deadline = now() + config.ackTimeoutMs
      work.fiber = self
      inFlight.add(work)
      if (inFlight.size === 1) inFlightChanged.raise()
    }

    const end = (work: Work) => {
      inFlight.delete(work)
      work.fiber = undefined
    }

    const awaitDecision = (work: Work): Effect.Effect<void> =>
      work.decision !== undefined
        ? Effect.void
        : suspend<void>((wake) => {
          work.onDecision = () => wake(undefined)
          return () => {
            work.onDecision = undefined
          }
        })

    const completeSlow = (work: Work, exit: Exit.Exit<unknown, unknown>, self: Fiber.Fiber<unknown, unknown>): Effect.Effect<void, SessionError> =>
      Effect.gen(function*() {
        // The watchdog took this delivery over (ack timeout) and interrupted us.
        if (work.fiber !== self || !inFlight.has(work)) return yield* Effect.interrupt
        work.handlerDone = true
        if (work.decision === undefined && Exit.isFailure(exit)) {
          end(work)
          if (Cause.hasInterruptsOnly(exit.cause)) {
            if (stopping) {
              yield* discardRun(work)
              return yield* Effect.interrupt
            }
            return yield* settle(work, failure("the handler was interrupted"))
          }
          const { message, stack } = errorText(exit.cause)
          return yield* settle(work, { _tag: "fail", message, stack })
        }
        if (work.decision === undefined && config.ackMode === "manual") {
          yield* awaitDecision(work)
          if (work.fiber !== self || !inFlight.has(work)) return yield* Effect.interrupt
        }
        end(work)
        const decision = work.decision as Decision | undefined
        if (decision?._tag === "nack") return yield* settle(work, failure("nacked", decision.delayMs))
        return yield* acknowledge(work)
      })

    const runHandler = (work: Work, self: Fiber.Fiber<unknown, unknown>): Effect.Effect<void, SessionError> => {
      begin(work, self)
      return Effect.flatMap(Effect.exit(Effect.suspend(() => handler(work.event, new RunContext(work)))), (exit) => {
        if (exit._tag === "Success" && work.decision === undefined && config.ackMode === "auto" && work.fiber === self) {
          end(work)
          return work.publishes === undefined && work.tx === undefined ? finish(work) : acknowledge(work)
        }
        return completeSlow(work, exit, self)
      })
    }

    const evaluateFilter = (work: Work): Outcome | "skip" | "run" => {
      try {
        return config.filter!(work.event) ? "run" : "skip"
      } catch (e) {
        return { _tag: "fail", message: `filter threw: ${e instanceof Error ? e.message : String(e)}`, stack: e instanceof Error ? e.stack ?? null : null }
      }
    }

    /** Everything before a run that is not the plain case: exhausted attempts, a filter to retry,
     * a start to record first (suspects and requeued events). */
    const prepareSlow = (work: Work, self: Fiber.Fiber<unknown, unknown>): Effect.Effect<void, SessionError> =>
      Effect.gen(function*() {
        if (work.attempts >= config.maxAttempts) return yield* deadLetter(work)
        if (work.filterPending) {
          const verdict = evaluateFilter(work)
          if (verdict === "skip") return yield* finish(work)
          if (verdict !== "run") {
            work.attempts++
            return yield* settle(work, verdict)
          }
          work.filterPending = false
        }
        if (work.precise) {
          const state = work.requeued ? "requeued" : "running"
          yield* submit({ deliveries: [{ _tag: "upsert", owner: sid, delivery: { ...rowOf(work, state), attempts: work.attempts + 1 } }] })
          work.hasRow = true
        }
        return yield* runHandler(work, self)
      })

    const handle = (work: Work, self: Fiber.Fiber<unknown, unknown>): Effect.Effect<void, SessionError> =>
      work.attempts >= config.maxAttempts || work.filterPending || work.precise
        ? prepareSlow(work, self)
        : runHandler(work, self)

    const afterRun = Effect.sync(() => {
      dispatcher.ended()
      if (isolating && dispatcher.quiet) endIsolation()
      dispatcher.wakeIdle()
    })

    // Handlers finishing synchronously run back to back without returning to the event loop:
    // CPU-bound ones would starve timers, signals and lease renewal. A worker yields to the event
    // loop after a handler that kept it busy (a slow run), or when the loop has not had a turn for
    // long. Not after every run: yielding often lets the fetcher overfill the buffer and park
    // events behind busy keys, which costs key-ordered groups much of their throughput.
    let lastYield = now()
    const workerLoop = (self: Fiber.Fiber<unknown, unknown>): Effect.Effect<void, SessionError> => {
      let started = 0
      const next = Effect.suspend(() => {
        const at = now()
        if (at - started < slowRunMs && at - lastYield < yieldAfterMs) return loop
        lastYield = at
        return Effect.andThen(Effect.yieldNow, loop)
      })
      const loop: Effect.Effect<void, SessionError> = Effect.flatMap(dispatcher.take, (work) => {
        if (work === undefined) return Effect.void
        started = now()
        return Effect.flatMap(handle(work, self), () => Effect.flatMap(afterRun, () => next))
      })
      return loop
    }

    const workers: Array<Fiber.Fiber<void, never>> = []
    // Each worker has its own transaction slot (see `TransactionSlot`); a transaction its handler
    // left open when the worker ends (interrupted by the watchdog or the drain) is rolled back.
    const startWorker = Effect.suspend(() => {
      const slot: { current: HandlerTransaction | undefined } = { current: undefined }
      return Effect.forkIn(guard(Effect.withFiber((self) => workerLoop(self))).pipe(
        Effect.ensuring(Effect.suspend(() => slot.current?.rollback ?? Effect.void)),
        Effect.provideService(CurrentGroup, instance),
        Effect.provideService(TransactionSlot, slot)
      ), sessionScope).pipe(
        Effect.tap((fiber) => Effect.sync(() => workers.push(fiber)))
      )
    })

    const watchdog = Effect.gen(function*() {
      while (true) {
        const oldest = inFlight.values().next().value as Work | undefined
        if (oldest === undefined) {
          yield* inFlightChanged.wait
          continue
        }
        const wait = oldest.deadline - now()
        if (wait > 0) {
          yield* Effect.sleep(wait)
          continue
        }
        const fiber = oldest.fiber
        end(oldest)
        if (fiber !== undefined) yield* Fiber.interrupt(fiber)
        dispatcher.ended()
        if (!stopping) yield* startWorker
        yield* settle(oldest, failure(
          oldest.handlerDone
            ? `the event was not acknowledged within ${config.ackTimeoutMs} ms (ackTimeoutMs)`
            : `the handler did not finish within ${config.ackTimeoutMs} ms (ackTimeoutMs) and was interrupted`
        ))
        dispatcher.wakeIdle()
      }
    })

    // ---- recovery: charge the suspects, delete orphan rows --------------------------------------
    const suspects = recovered.suspects
    if (recovered.writes.length > 0) yield* submit({ deliveries: recovered.writes })
    if (suspects > 0) {
      yield* Effect.logWarning(
        `group ${group}: recovering ${suspects} event(s) that were in flight when the previous owner stopped; running them one at a time`
      )
    }

    const endIsolation = () => {
      if (!isolating) return
      isolating = false
      gate.limit = config.maxInFlight
      fetchGate.openUnsafe()
    }

    // ---- the fetcher -------------------------------------------------------------------------
    const filter = config.filter
    const admitFetched = (event: Event): Effect.Effect<void, StoreError> => {
      const floor = floors.get(event.topic)!
      const seq = event.seq
      if (floor.wasDone(seq) || deadSeqs.has(seq) || requeuedSeqs.has(seq)) {
        floor.passed(seq)
        return Effect.void
      }
      let filterPending = false
      if (filter !== undefined) {
        try {
          if (!filter(event)) {
            floor.passed(seq)
            return Effect.void
          }
        } catch {
          filterPending = true
        }
      }
      floor.fetched(seq)
      // Behind a held key, or a long queue of its key: park it (seq only) instead of buffering it.
      const stub: Parked = { parked: true, seq, topic: event.topic, key: event.key, floor, filterPending }
      if (dispatcher.park(stub)) return Effect.void
      dispatcher.buffer()
      const row = ledger.takeRow(seq)
      const work = newWork(event, floor, row, false)
      work.filterPending = filterPending
      return admit(work)
    }

    const readPage = (pageLimit: number): Effect.Effect<ReadonlyArray<Event>, StoreError> => {
      if (topics.length === 1) {
        const topic = topics[0]!
        return store.readTopic(topic, floors.get(topic)!.position, pageLimit)
      }
      return Effect.gen(function*() {
        const merged: Array<Event> = []
        let cutoff = Number.POSITIVE_INFINITY
        for (const topic of topics) {
          const page = yield* store.readTopic(topic, floors.get(topic)!.position, pageLimit)
          for (const e of page) merged.push(e)
          if (page.length === pageLimit) cutoff = Math.min(cutoff, page[page.length - 1]!.seq)
        }
        merged.sort((a, b) => a.seq - b.seq)
        const kept = merged.filter((e) => e.seq <= cutoff)
        return kept.length > pageLimit ? kept.slice(0, pageLimit) : kept
      })
    }

    // While the fetcher waits for news, commits that append to our topics raise our lease mark in
    // the same transaction (see `LeaseHook`), so new events arrive already leased.
    let waitingForNews = false
    const fetcher = Effect.gen(function*() {
      yield* fetchGate.await
      while (true) {
        // Refill only when a whole batch fits, so each fetch (and its lease write) carries a batch.
        while (!dispatcher.hasRoom) yield* dispatcher.room.wait
        const page = yield* readPage(config.batchSize)
        if (page.length === 0) {
          waitingForNews = true
          yield* news.wait.pipe(Effect.ensuring(Effect.sync(() => {
            waitingForNews = false
          })))
          continue
        }
        const leased: Array<[string, AckFloor]> = []
        const maxByTopic = new Map<string, number>()
        for (const e of page) maxByTopic.set(e.topic, e.seq)
        for (const [topic, max] of maxByTopic) {
          const floor = floors.get(topic)!
          if (max > floor.leasedUpto) {
            floor.leasedUpto = max
            leased.push([topic, floor])
          }
        }
        if (leased.length > 0) yield* submit(progressPart(leased, false))
        for (const e of page) yield* admitFetched(e)
        markDirty()
      }
    })

    // ---- the flusher -------------------------------------------------------------------------
    // Progress is taken inside the transaction (`progressNow`): a transactional ack committed
    // while this write waited is then part of it, never overwritten by an older view.
    // A floor stays dirty until a write of its progress has committed: if the transaction fails
    // and the writer retries the part alone, it is taken again (not found clean and skipped).
    const progressPart = (of: Iterable<readonly [string, AckFloor]>, onlyDirty: boolean): WritePart => {
      let marks: Array<readonly [AckFloor, number]> = []
      return {
        progressNow: () => {
          marks = []
          const progress: Array<ProgressWrite> = []
          for (const [topic, floor] of of) {
            if (onlyDirty && !floor.dirty) continue
            marks.push([floor, floor.mark])
            progress.push({ group, owner: sid, topic, ...floor.progress() })
          }
          return progress
        },
        onCommit: () => {
          for (const [floor, mark] of marks) floor.persisted(mark)
        }
      }
    }
    const flushOnce = (final: boolean) =>
      Effect.suspend(() => {
        let dirty = final
        for (const floor of floors.values()) {
          if (final) floor.leasedUpto = -1
          if (floor.dirty) dirty = true
        }
        const deletes = ledger.takeDeletes()
        if (!dirty && deletes.length === 0) return Effect.void
        return submit({ ...progressPart(floors, !final), deliveries: deletes }).pipe(Effect.asVoid)
      })

    // While the group is busy, floors are persisted at most every `commitIntervalMs` (a crash
    // redelivers at most that much); as soon as it is idle they are persisted at once.
    const flusher = Effect.gen(function*() {
      while (true) {
        yield* dirty.wait
        if (dispatcher.buffered > 0) yield* Effect.raceFirst(Effect.sleep(config.commitIntervalMs), dispatcher.idleNow.wait)
        yield* flushOnce(false)
      }
    })

    // ---- lease renewal -----------------------------------------------------------------------
    const renewer = Effect.gen(function*() {
      while (true) {
        yield* Effect.sleep(Math.max(1, Math.floor(config.leaseMs / 3)))
        const t = now()
        const ok = yield* store.renewLease(group, sid, t + config.leaseMs, t)
        if (!ok) return yield* Effect.fail(new LeaseLost())
      }
    })

    // ---- requeued dead letters and released holds -----------------------------------------------
    /** Admits requeued dead letters; `known` rows (loaded at start) are already in requeuedSeqs. */
    const admitRequeued = (deliveries: ReadonlyArray<Delivery>, known = false) =>
      Effect.gen(function*() {
        const fresh = known ? deliveries : deliveries.filter((d) => !requeuedSeqs.has(d.seq))
        if (fresh.length === 0) return
        const events = yield* store.readSeqs(fresh.map((d) => d.seq))
        const bySeq = new Map(events.map((e) => [e.seq, e]))
        for (const d of fresh) {
          requeuedSeqs.add(d.seq)
          const event = bySeq.get(d.seq)
          if (event === undefined) continue
          const work = newWork(event, undefined, d, true)
          yield* runnable.admitRequeued(work)
        }
      })

    const refresh = Effect.gen(function*() {
      const snapshot = yield* store.loadGroup(group, topics)
      const requeued = snapshot.deliveries.filter((d) => d.state === "requeued" && !requeuedSeqs.has(d.seq))
      yield* admitRequeued(requeued)
      const stillHeld = new Set(snapshot.holds.map((h) => h.seq))
      const released = dispatcher.releaseHolds((seq) => stillHeld.has(seq) || requeuedSeqs.has(seq))
      for (const next of released) yield* makeRunnable(next)
    })

    // ---- lanes after committed acks -------------------------------------------------------------
    const successor = Effect.gen(function*() {
      while (true) {
        yield* successorsReady.wait
        yield* runnable.makeAllRunnable(successors.splice(0))
      }
    })

    const refresher = Effect.gen(function*() {
      while (true) {
        yield* refreshSignal.wait
        yield* refresh
      }
    })

    // ---- start ---------------------------------------------------------------------------------
    const unwatch = deps.wakeups.watch(topics, news)
    const unhook = writer.hook({
      group,
      owner: sid,
      topics: new Set(topics),
      idle: () => waitingForNews && !stopping && !isolating,
      leased: (topic, seq) => {
        const floor = floors.get(topic)
        if (floor !== undefined && seq > floor.leasedUpto) floor.leasedUpto = seq
      }
    })
    const unwatchRefresh = deps.wakeups.watch([], refreshSignal)
    yield* Effect.addFinalizer(() => Effect.sync(() => {
      unwatch()
      unwatchRefresh()
      unhook()
    }))

    expose({
      decide: (eventId, decision, run) =>
        Effect.suspend(() => {
          let work: Work | undefined
          for (const w of inFlight) if (w.event.id === eventId) work = w
          if (work === undefined || (run !== undefined && work.run !== run)) return Effect.fail(notOutstanding(eventId))
          return decide(work, work.run, decision)
        }),
      stats: () => ({
        group,
        topics,
        buffered: dispatcher.buffered,
        running: dispatcher.running,
        floors: Object.fromEntries([...floors].map(([topic, floor]) => [topic, floor.floor])),
        heldKeys: dispatcher.heldKeys(),
        parked: dispatcher.parked,
        requeued: requeuedSeqs.size,
        isolating
      })
    })

    for (let i = 0; i < config.maxInFlight; i++) yield* startWorker
    const background = [
      yield* Effect.forkIn(guard(watchdog), sessionScope),
      yield* Effect.forkIn(guard(flusher), sessionScope),
      yield* Effect.forkIn(guard(renewer), sessionScope),
      yield* Effect.forkIn(guard(refresher), sessionScope),
      yield* Effect.forkIn(guard(successor), sessionScope)
    ]
    const fetcherFiber = yield* Effect.forkIn(guard(fetcher), sessionScope)

    if (suspects > 0) {
      isolating = true
      gate.limit = 1
    }
    for (const work of recovered.inFlight) yield* admit(work)
    if (suspects === 0) yield* fetchGate.open
    else if (dispatcher.quiet) endIsolation()
    yield* admitRequeued(recovered.requeued, true)
    dispatcher.wakeIdle()

    // ---- run until stopped or failed ------------------------------------------------------------
    const stop = yield* Effect.raceFirst(
      Deferred.await(stopRequested).pipe(Effect.as(true)),
      Deferred.await(fatal)
    ).pipe(Effect.tapError(() => Effect.sync(() => {
      // A failed session's acks still queued in the writer must not commit.
      acksFailed = true
    })))
    if (!stop) return

    // ---- drain ---------------------------------------------------------------------------------
    stopping = true
    unhook()
    yield* Fiber.interrupt(fetcherFiber)
    yield* Scope.close(timers, Exit.void)
    dispatcher.dismissIdle()
    const drained = yield* Effect.timeoutOption(Fiber.awaitAll(workers), config.drainTimeoutMs)
    if (Option.isNone(drained)) {
      yield* Effect.logWarning(`group ${group}: handlers still running after ${config.drainTimeoutMs} ms; interrupting them`)
      yield* Fiber.interruptAll(workers)
    }
    yield* Fiber.interruptAll(background)
    yield* flushOnce(true)
    yield* store.releaseLease(group, sid, now())
    released = true
  }))

