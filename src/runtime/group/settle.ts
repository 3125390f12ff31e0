/**
 * Settling a run: what its outcome writes, and what runs next.
 *
 * - **Success** (`acknowledge`): a run that published nothing and opened no transaction is done in
 *   memory (the flusher persists the floor later). Otherwise its publishes, its ack (merged into
 *   the stored cursor) and the removal of its delivery row are one write: pipelined (handed to
 *   the writer, the worker goes on; the key's next event starts once the commit lands, from the
 *   `successor` fiber), committed before going on (a precise run, a suspect or a requeued dead
 *   letter, or any run while isolating), or applied inside the handler's own transaction, which
 *   then commits.
 * - **Failure** (`settle` with a failed outcome): the run's publishes are dropped and its
 *   transaction rolled back; the attempt is recorded as a `retry` row with its time (the backoff,
 *   or the nack's delay), and the event runs again then; at `maxAttempts` it becomes a dead letter
 *   (`deadLetter`), which under `onPoison: "hold"` keeps its key blocked.
 * - **Ack cancellation**: once an ack's commit failed, or the session failed, no later ack of this
 *   session may commit (the next session, which may already have read the cursor, redelivers those
 *   events, and their publishes must not exist). `cancelAcks` sets that for good; the writer asks
 *   `cancelled` right before it commits one of our parts.
 * - A precise run's ack is persisted before anything else runs (`finish` flushes): otherwise a
 *   crash of the next suspect would be charged to this one as well.
 */
import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Random from "effect/Random"
import type { GroupMetrics, GroupTopicSeries } from "../../observability/BusMetrics.ts"
import type { DeadLetter } from "../../store/records.ts"
import type { CommitResult } from "../../store/Store.ts"
import { IdTaken, StoreError } from "../../store/storeErrors.ts"
import type { BusEvents } from "../busEvents.ts"
import { clipForLog, LineThrottle } from "../lineThrottle.ts"
import type { GroupConfig } from "../subscribeOptions.ts"
import { retryDelay } from "../retryDelay.ts"
import { Signal, type Wakeups } from "../Signal.ts"
import { cancelledWrite, type WritePart, type Writer } from "../Writer.ts"
import type { Dispatcher } from "./dispatch.ts"
import { LeaseLost } from "./lease.ts"
import type { Ledger } from "./ledger.ts"
import type { SessionPhase } from "./phase.ts"
import type { Progress } from "./progress.ts"
import type { Runnable } from "./runnable.ts"
import type { SessionError } from "./types.ts"
import { deliveryRow, type Outcome, type Slot, stoppedWhileRunning, type Work } from "./work.ts"


/**
 * An ack's commit refused for what the run itself published (an id naming another topic's event):
 * the run's failure, counted, retried and at last dead-lettered like a throw, not a database
 * failure that would end the session and run the same events again for ever.
 */
const refusedPublish = (cause: Cause.Cause<unknown>): Outcome | undefined => {
  const e = Cause.squash(cause)
  if (!(e instanceof StoreError)) return undefined
  if (e.cause instanceof IdTaken) return { _tag: "fail", message: `what the handler published was refused: ${e.cause.message}`, stack: null }
  return refusedData(e.cause) ? { _tag: "fail", message: `the handler's writes were refused at commit: ${e.message}`, stack: null } : undefined
}

/**
 * A database's refusal of what a commit wrote, not a failure of the database: a constraint of the
 * handler's own tables (checked at commit when deferred), a value it cannot take, a serialization
 * failure or a deadlock (Postgres SQLSTATE classes 22, 23 and 40; SQLite's constraint codes). The
 * run fails and is retried, as if it had thrown.
 */
const refusedData = (cause: unknown): boolean => {
  const code = (cause as { code?: unknown } | null)?.code
  if (typeof code !== "string") return false
  return /^(22|23|40)[0-9A-Z]{3}$/.test(code) || code.startsWith("SQLITE_CONSTRAINT")
}

export class Settle {
  private readonly config: GroupConfig
  private readonly ledger: Ledger
  private readonly dispatcher: Dispatcher
  private readonly runnable: Runnable
  private readonly progress: Progress
  private readonly phase: SessionPhase
  private readonly writer: Writer
  private readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
  private readonly wakeups: Wakeups
  private readonly clock: Clock.Clock
  /** The dead letters' log lines, shared by the bus's groups (see `deadLetter`). */
  private readonly deadLetterLines: LineThrottle
  private readonly random: Random.Random
  private readonly metrics: GroupMetrics
  private readonly events: BusEvents | undefined
  /** Ends the session (from the writer's callback of a pipelined ack). */
  private readonly fail: (cause: Cause.Cause<SessionError>) => void
  private acksCancelled = false
  /** The lanes' next items after runs whose ack commits landed, for `successor` to start. */
  private readonly successors: Array<Slot> = []
  /** Runs whose pipelined ack was refused for what they published, for `successor` to settle as failed. */
  private readonly refused: Array<{ readonly work: Work; readonly outcome: Outcome }> = []
  private readonly successorsReady = new Signal()

  constructor(args: {
    readonly config: GroupConfig
    readonly ledger: Ledger
    readonly dispatcher: Dispatcher
    readonly runnable: Runnable
    readonly progress: Progress
    readonly phase: SessionPhase
    readonly writer: Writer
    readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
    readonly wakeups: Wakeups
    readonly clock: Clock.Clock
    readonly deadLetterLines?: LineThrottle | undefined
    readonly random: Random.Random
    readonly metrics: GroupMetrics
    readonly events?: BusEvents | undefined
    readonly fail: (cause: Cause.Cause<SessionError>) => void
  }) {
    this.config = args.config
    this.ledger = args.ledger
    this.dispatcher = args.dispatcher
    this.runnable = args.runnable
    this.progress = args.progress
    this.phase = args.phase
    this.writer = args.writer
    this.submit = args.submit
    this.wakeups = args.wakeups
    this.clock = args.clock
    this.deadLetterLines = args.deadLetterLines ?? new LineThrottle(10)
    this.random = args.random
    this.metrics = args.metrics
    this.events = args.events
    this.fail = args.fail
  }

  /** The work's (topic, group) series, if metrics are on. */
  private series(work: Work): GroupTopicSeries | undefined {
    return work.series ??= this.metrics.series(work.event.topic)
  }

  /** A run succeeded (counted here, before its ack is written). */
  succeeded(work: Work): void {
    const series = this.series(work)
    if (series !== undefined) series.acked.n++
  }

  /** Asked by the writer right before it commits one of this session's acks. */
  readonly cancelled = (): boolean => this.acksCancelled

  /** No ack of this session commits from now on (an ack failed, or the session did). */
  cancelAcks(): void {
    this.acksCancelled = true
  }

  /** Settles a run by its outcome. */
  settle(work: Work, outcome: Outcome): Effect.Effect<void, SessionError> {
    const self = this
    return Effect.gen(function*() {
      if (outcome._tag === "ack") {
        self.succeeded(work)
        return yield* self.acknowledge(work)
      }
      const series = self.series(work)
      if (series !== undefined) series.nacked.n++
      yield* self.discardRun(work)
      const t = self.clock.currentTimeMillisUnsafe()
      work.lastError = outcome.message
      work.lastErrorStack = outcome.stack
      work.firstFailedAt ??= t
      work.lastFailedAt = t
      if (work.attempts >= self.config.maxAttempts) return yield* self.deadLetter(work)
      const delay = outcome.delayMs ?? retryDelay(self.config.backoff, work.attempts, self.random)
      work.notBefore = t + delay
      yield* self.submit({ deliveries: [self.ledger.upsertRow(deliveryRow(self.ledger.group, work, work.requeued ? "requeued" : "retry"))] })
      work.hasRow = true
      yield* self.runnable.makeRunnable(work)
    })
  }

  /**
   * Acknowledges a successful run. Without publishes this is in-memory bookkeeping (the flusher
   * persists the floor later). With publishes, they and the ack are one transaction: the ack is
   * merged into the stored cursor and the delivery row removed, so either both exist or neither
   * does (and the event is redelivered). The in-memory floor learns of the ack right after the
   * commit, before any later transaction reads it. The worker does not wait for that commit
   * (except for precise runs, while isolating, and the handler's own transaction), so the acks of
   * many runs share one.
   */
  acknowledge(work: Work): Effect.Effect<void, SessionError> {
    const { publishes, tx } = work
    if (publishes === undefined && tx === undefined) return this.finish(work)
    work.publishes = undefined
    work.tx = undefined
    const { group, owner } = this.ledger
    const { seq, topic } = work.event
    const floor = work.floor
    const part = {
      appends: publishes === undefined ? [] : publishes.map((p) => p.draft),
      acks: floor === undefined ? undefined : [{ group, owner, topic, seq }],
      deliveries: work.hasRow ? [this.ledger.deleteRow(seq)] : [],
      onCommit: floor === undefined ? undefined : () => floor.done(seq),
      cancelled: this.cancelled
    }
    const hadRow = work.hasRow
    work.hasRow = false
    /** Its publishes were refused: nothing was written, the run failed. */
    const failed = (outcome: Outcome) => {
      work.hasRow = hadRow
      return this.settle(work, outcome)
    }
    if (tx === undefined && !work.precise && this.phase.pipelining) {
      // The worker does not wait for the commit: it goes on with other work, so the acks of many
      // runs share one transaction. The key's next event runs only once the commit has landed
      // (it may read what this run published); the buffer slot is given back then too. If the
      // commit fails, the session ends and every event not acked yet is redelivered, in order:
      // the acks submitted after it are cancelled, never committed.
      this.writer.enqueue(part, (exit) => {
        const refused = Exit.isFailure(exit) ? refusedPublish(exit.cause) : undefined
        if (refused !== undefined) {
          // Its own part failed alone (the writer retries a merged batch part by part): the others
          // committed, and this run is settled as failed by the successor fiber.
          work.hasRow = hadRow
          this.refused.push({ work, outcome: refused })
          this.successorsReady.raise()
        } else if (Exit.isFailure(exit)) {
          this.cancelAcks()
          this.fail(exit.cause)
        } else if (exit.value.fenced.includes(group)) {
          this.cancelAcks()
          this.fail(Cause.fail(new LeaseLost()))
        } else {
          this.giveBack(work)
          const next = this.dispatcher.finish(work)
          if (next !== undefined) {
            this.successors.push(next)
            this.successorsReady.raise()
          }
        }
      })
      return Effect.void
    }
    if (tx === undefined) {
      return this.submit(part).pipe(Effect.matchCauseEffect({
        onFailure: (cause) => {
          const refused = refusedPublish(cause)
          return refused === undefined ? Effect.failCause(cause) : failed(refused)
        },
        onSuccess: () => this.finish(work, true)
      }))
    }
    // The handler's own transaction: the ack and the publishes are applied in it, then it commits
    // (unless an earlier ack failed: then none may commit after it).
    if (this.acksCancelled) return Effect.andThen(tx.rollback, Effect.fail(cancelledWrite))
    return tx.commit({ ...part, now: this.clock.currentTimeMillisUnsafe(), progress: [], deadLetters: [] }, part.onCommit).pipe(
      Effect.catchCause((cause) => {
        const refused = refusedPublish(cause)
        if (refused !== undefined) return Effect.andThen(failed(refused), Effect.succeed(undefined))
        // The commit may have landed (a connection lost in COMMIT): from here nothing of this
        // session commits; the next one reads what is stored.
        this.cancelAcks()
        return Effect.failCause(cause)
      }),
      Effect.flatMap((result) => {
        if (result === undefined) return Effect.void
        if (result.fenced.includes(group)) return Effect.fail(new LeaseLost())
        const appended = new Set<string>()
        for (let i = 0; i < part.appends.length; i++) {
          if (result.appended[i]!.existing !== undefined) continue
          appended.add(part.appends[i]!.topic)
          this.writer.metrics.published(part.appends[i]!.topic)
        }
        if (appended.size > 0) this.wakeups.notify(appended)
        return this.finish(work, true)
      })
    )
  }

  /** Forgets what a run that did not succeed published, and rolls back its transaction. */
  discardRun(work: Work): Effect.Effect<void> {
    work.publishes = undefined
    const tx = work.tx
    if (tx === undefined) return Effect.void
    work.tx = undefined
    return tx.rollback
  }

  /**
   * The work finished for good: acked, filtered, or dead-lettered without a hold. `persisted`:
   * its ack is already committed (a transactional ack).
   */
  finish(work: Work, persisted = false): Effect.Effect<void, SessionError> {
    this.giveBack(work)
    const next = this.dispatcher.finish(work)
    const release = next === undefined ? Effect.void : this.runnable.makeRunnable(next)
    const requeuedSeqs = this.ledger.requeuedSeqs
    const ledger = this.ledger
    if (!work.precise || persisted) {
      if (work.requeued && persisted) {
        requeuedSeqs.delete(work.event.seq)
        this.ledger.epoch++
      }
      return release
    }
    // A precise run's start is on record; its ack must be too before anything else runs, or a
    // crash of the next suspect would be charged to this one as well. A requeued event stays
    // known as requeued until its row is gone, so a refresh cannot admit it a second time.
    return this.progress.flush(false).pipe(
      Effect.andThen(Effect.sync(() => {
        if (work.requeued) {
          requeuedSeqs.delete(work.event.seq)
          ledger.epoch++
        }
      })),
      Effect.andThen(release)
    )
  }

  /** Gives back the buffer slot of work that finished for good, and marks its ack for the flusher. */
  private giveBack(work: Work): void {
    if (work.floor !== undefined) {
      work.floor.done(work.event.seq)
      this.dispatcher.release(work.bytes)
    }
    if (work.hasRow) {
      this.ledger.queueDelete(work.event.seq)
      work.hasRow = false
    }
    this.progress.markDirty()
  }

  /** Gives up on `work` after its last attempt: a dead letter (holding its key under `onPoison: "hold"`). */
  deadLetter(work: Work): Effect.Effect<void, SessionError> {
    const self = this
    return Effect.gen(function*() {
      const { config, ledger, dispatcher } = self
      yield* self.discardRun(work)
      const holds = config.onPoison === "hold" && dispatcher.laneOf(work.event.key) !== undefined
      const t = self.clock.currentTimeMillisUnsafe()
      const dl: DeadLetter = {
        group: ledger.group,
        topic: work.event.topic,
        seq: work.event.seq,
        eventId: work.event.id,
        key: work.event.key ?? null,
        attempts: work.attempts,
        errorMessage: work.lastError ?? stoppedWhileRunning,
        errorStack: work.lastErrorStack,
        firstFailedAt: work.firstFailedAt ?? t,
        lastFailedAt: work.lastFailedAt ?? t,
        deadAt: t,
        holdsKey: holds
      }
      yield* self.submit({ deadLetters: [{ owner: ledger.owner, deadLetter: dl }] })
      const series = self.series(work)
      if (series !== undefined) series.deadLettered.n++
      work.hasRow = false
      ledger.deadSeqs.add(work.event.seq)
      ledger.epoch++
      // A line each, at most 10 a second (a handler failing on every event of a backlog would
      // write thousands), its error cut to 500 characters: the dead letter keeps the whole text.
      const line = self.deadLetterLines.pass(
        `group ${config.group}: event ${work.event.id} (${work.event.topic} #${work.event.seq}) dead-lettered after ${work.attempts} attempt(s): ${clipForLog(dl.errorMessage, 500)}`,
        self.clock.currentTimeMillisUnsafe()
      )
      if (line !== undefined) yield* Effect.logWarning(line)
      self.events?.emit({
        type: "deadLettered", group: config.group, topic: dl.topic, seq: dl.seq, eventId: dl.eventId, key: dl.key, attempts: dl.attempts, error: dl.errorMessage
      })
      if (!holds) return yield* self.finish(work)
      if (work.floor !== undefined) {
        work.floor.done(work.event.seq)
        dispatcher.release(work.bytes)
        self.progress.markDirty()
      } else {
        ledger.requeuedSeqs.delete(work.event.seq)
      }
      dispatcher.hold(work)
    })
  }

  /** Starts the lanes' next items after pipelined acks landed (they may read what those runs published). */
  get successor(): Effect.Effect<never, SessionError> {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        yield* self.successorsReady.wait
        yield* self.runnable.makeAllRunnable(self.successors.splice(0))
        for (const { outcome, work } of self.refused.splice(0)) yield* self.settle(work, outcome)
      }
    })
  }
}
