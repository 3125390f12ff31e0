/**
 * The fetcher: reads pages (`batchSize`) after the read position of each topic (a k-way merge by
 * seq for fan-in) and admits their events. It waits at the phase's gate until the session runs
 * (after isolation), and refills only when a whole batch fits in the buffer (backpressure), so
 * each fetch, and its lease write, carries a batch. Before dispatching a page it records the lease
 * mark (`leasedUpto`) of each topic it reaches: after a crash, recovery charges what lies below it.
 *
 * An event already done (a stored acked range), a dead letter or a requeued one is passed over; one
 * the filter skips is done (its row, if an earlier session left one, deleted); one whose key is
 * held or has a long queue is parked (`dispatch.ts`); the others are buffered and admitted.
 *
 * Where reads wait on a server (Postgres), the next page is read while this one's lease mark
 * commits and its events are admitted, if the buffer has room for both (`readAhead`).
 *
 * With nothing to read it waits for news: a `Signal` raised by commits to its topics (at once in
 * this process; other processes' commits through the bus's change poll). Meanwhile the writer
 * raises the group's lease mark in every transaction that appends to its topics (`leaseHook`), so
 * new events arrive already leased and the idle publish-to-handler path takes one commit.
 *
 * A filter runs as each event is admitted, synchronously: after a filter call of `slowRunMs` or
 * more, or when the loop has not had a turn for `yieldAfterMs`, the fetcher yields to the event
 * loop, as a worker does after a handler run (a `.sib` filter computing ~70 ms an event held the
 * timers and other groups for seconds over a page).
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { GroupMetrics } from "../../observability/BusMetrics.ts"
import type { StoreError } from "../../store/storeErrors.ts"
import type { Event } from "../../store/records.ts"
import type { CommitResult, EventPage, RuntimeStore } from "../../store/Store.ts"
import type { AckFloor } from "../AckFloor.ts"
import type { GroupConfig } from "../subscribeOptions.ts"
import { Signal } from "../Signal.ts"
import type { LeaseHook, WritePart } from "../Writer.ts"
import type { Dispatcher } from "./dispatch.ts"
import type { Ledger } from "./ledger.ts"
import type { SessionPhase } from "./phase.ts"
import type { Progress } from "./progress.ts"
import { monotonicMillis } from "../monotonic.ts"
import type { Runnable } from "./runnable.ts"
import type { SessionError } from "./types.ts"
import { slowRunMs, yieldAfterMs } from "./workers.ts"
import { filterVerdict, newWork, type Parked } from "./work.ts"

/** A fetched page; a partition's page also says how far it covers each topic (`PartitionPage`). */
interface Page extends EventPage {
  readonly readUpto?: ReadonlyMap<string, number> | undefined
}

export class Fetcher {
  /** Raised when one of the group's topics gained events. */
  readonly news = new Signal({ immediate: true })
  /** True while everything is read and the fetcher waits for news. */
  private waitingForNews = false
  private readonly config: GroupConfig
  private readonly store: RuntimeStore
  private readonly ledger: Ledger
  private readonly dispatcher: Dispatcher
  private readonly runnable: Runnable
  private readonly progress: Progress
  private readonly phase: SessionPhase
  private readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
  private readonly maxEventBytes: number
  private readonly metrics: GroupMetrics
  private readonly clock: Clock.Clock
  /** When (monotonic ms) filtering last let the event loop turn. */
  private lastYield: number

  constructor(args: {
    readonly config: GroupConfig
    readonly store: RuntimeStore
    readonly ledger: Ledger
    readonly dispatcher: Dispatcher
    readonly runnable: Runnable
    readonly progress: Progress
    readonly phase: SessionPhase
    readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
    /** The largest event there can be (bytes): a page has no more events than the buffer's room holds at this size. */
    readonly maxEventBytes: number
    readonly metrics: GroupMetrics
    readonly clock: Clock.Clock
  }) {
    this.config = args.config
    this.store = args.store
    this.ledger = args.ledger
    this.dispatcher = args.dispatcher
    this.runnable = args.runnable
    this.progress = args.progress
    this.phase = args.phase
    this.submit = args.submit
    this.maxEventBytes = args.maxEventBytes
    this.metrics = args.metrics
    this.clock = args.clock
    this.lastYield = monotonicMillis(args.clock)
  }

  /**
   * One page of `topic` from the store (of the unit's partition, for a partitioned group's unit),
   * its read time recorded.
   */
  private readTopic(topic: string, limit: number, maxBytes?: number, after = this.ledger.floor(topic).position): Effect.Effect<Page, StoreError> {
    const series = this.metrics.series(topic)
    const unit = this.config.unit
    const read: Effect.Effect<Page, StoreError> = unit === undefined
      ? this.store.readPage(topic, after, limit, maxBytes)
      : Effect.map(this.store.readPartition(topic, unit.partition, after, limit), (page) => ({ ...page, readUpto: new Map([[topic, page.readUpto]]) }))
    if (series === undefined) return read
    return Effect.suspend(() => {
      // A measurement of real work, not a schedule: the monotonic clock, not the Effect Clock.
      const started = performance.now()
      return Effect.tap(read, () => Effect.sync(() => series.poll.observe((performance.now() - started) / 1000)))
    })
  }

  /** The writer's hook: while we wait for news (and run), its appends to our topics are leased to us. */
  leaseHook(): LeaseHook {
    const { ledger, phase } = this
    return {
      group: ledger.group,
      owner: ledger.owner,
      topics: new Set(this.config.topics),
      partition: this.config.unit?.partition,
      idle: () => this.waitingForNews && phase.leasesOnAppend,
      leased: (topic, seq) => {
        const floor = ledger.floors.get(topic)
        if (floor !== undefined && seq > floor.leasedUpto) floor.leasedUpto = seq
      }
    }
  }

  /**
   * The fetch loop: the next page, then what to do with it, again. Written as a chain of effects,
   * not `Effect.gen`: each `yield*` of an effect allocates Effect's iterator result (`{ value, done }`,
   * one object literal in effect's `SingleShotGen` for the whole process) and the generator holds
   * it while the effect runs, so a loop suspended on a page's read and admission (most of a
   * consume's allocation) kept ~80 % of them alive at young collections. Past 85 % V8 pretenures
   * that literal's site for good (`--trace-pretenuring-statistics` showed it tip over in about one
   * consume in twenty), and each result, in the old generation, then kept the effect it held (a
   * page's admission, and the page) alive through young collections: the slow consume mode.
   */
  get loop(): Effect.Effect<never, SessionError> {
    return Effect.andThen(this.phase.fetchGate.await, Effect.suspend(() => this.nextPage(undefined)))
  }

  /** The next page: `ahead`, read into room kept for it (see `readAhead`), or one read now. */
  private nextPage(ahead: Fiber.Fiber<Page, StoreError> | undefined): Effect.Effect<never, SessionError> {
    return Effect.flatMap(ahead !== undefined ? Fiber.join(ahead) : this.refill, (next) => this.takePage(next))
  }

  /** A stall because parking is full was logged (and parking has not had room since). */
  private toldParkedFull = false

  /** Refills only when a whole batch fits, so each fetch (and its lease write) carries a batch. */
  private readonly refill: Effect.Effect<Page, StoreError> = Effect.suspend(() => {
    const dispatcher = this.dispatcher
    if (!dispatcher.hasRoom) {
      // Parking full is a stall an operator must hear of (the group looks busy otherwise): once a stall.
      if (!dispatcher.parkedFit && !this.toldParkedFull) {
        this.toldParkedFull = true
        const held = dispatcher.heldKeys()
        return Effect.andThen(
          Effect.logWarning(`group ${this.config.group}: ${dispatcher.parked.toLocaleString("en-US")} events wait parked behind busy or held keys${
            held.length === 0 ? "" : ` (held by dead letters: ${held.slice(0, 5).map((k) => JSON.stringify(k)).join(", ")}${held.length > 5 ? ", ..." : ""})`
          }; it reads no further until some are handled${held.length === 0 ? "" : ": requeue or drop those dead letters (sib dlq)"}`),
          Effect.andThen(dispatcher.room.wait, this.refill)
        )
      }
      return Effect.andThen(dispatcher.room.wait, this.refill)
    }
    if (dispatcher.parkedFit) this.toldParkedFull = false
    const { limit, maxBytes } = this.pageSize(dispatcher.roomBytes)
    return this.readPage(limit, maxBytes)
  })

  /** Leases a page's events (the mark committed first), admits them, and goes on; with none, waits for news. */
  private takePage(next: Page): Effect.Effect<never, SessionError> {
    const { events: page, bytes, readUpto } = next
    if (page.length === 0) {
      if (readUpto !== undefined && this.passOthers(readUpto)) this.progress.markDirty()
      this.waitingForNews = true
      return Effect.flatMap(
        Effect.ensuring(this.news.wait, Effect.sync(() => {
          this.waitingForNews = false
        })),
        () => this.nextPage(undefined)
      )
    }
    const ledger = this.ledger
    const leased: Array<[string, AckFloor]> = []
    const maxByTopic = new Map<string, number>()
    for (const e of page) maxByTopic.set(e.topic, e.seq)
    for (const [topic, max] of maxByTopic) {
      const floor = ledger.floor(topic)
      if (max > floor.leasedUpto) {
        floor.leasedUpto = max
        leased.push([topic, floor])
      }
    }
    return Effect.flatMap(this.readAhead(page, bytes, readUpto), (ahead) => {
      // The marks are bookkeeping for crash accounting: committed without waiting for the disk
      // where the store can (they are on the way from another process's publish to the handler).
      const mark = leased.length > 0 ? this.submit({ ...this.progress.part(leased, false), relaxed: true }) : Effect.void
      // Each event holds its page's average of payload bytes in the buffer.
      const each = bytes / page.length
      const admitted = this.dispatcher.admittingPage(Effect.forEach(page, (e) => this.admit(e, each), { discard: true }))
      return Effect.andThen(
        Effect.andThen(mark, admitted),
        Effect.suspend(() => {
          if (readUpto !== undefined) this.passOthers(readUpto)
          this.progress.markDirty()
          return this.nextPage(ahead)
        })
      )
    })
  }

  /**
   * How large a page may be with `room` bytes free: the store cuts it by bytes where it can (one
   * topic), else its count is what fits even if every event were as large as an event can be.
   */
  private pageSize(room: number): { readonly limit: number; readonly maxBytes: number | undefined } {
    const config = this.config
    const cutByStore = this.store.pageBytes === true && config.topics.length === 1 && config.unit === undefined
    return cutByStore
      ? { limit: config.batchSize, maxBytes: room }
      : { limit: Math.max(1, Math.min(config.batchSize, Math.floor(room / this.maxEventBytes))), maxBytes: undefined }
  }

  /**
   * Where reads wait on a server (`RuntimeStore.readsWait`), the page after `page` (of one topic)
   * starts reading now, while `page`'s lease mark commits and its events are admitted, when the
   * buffer has room for both beside what it holds: a fetcher whose handlers keep up then takes
   * the longer of a read and a mark per page, not both. Undefined when there is no such room.
   */
  private readAhead(page: ReadonlyArray<Event>, bytes: number, readUpto: ReadonlyMap<string, number> | undefined) {
    const { config, dispatcher } = this
    if (this.store.readsWait !== true || config.topics.length !== 1) return Effect.succeed(undefined)
    const buffered = dispatcher.buffered + page.length
    const room = dispatcher.roomBytes - bytes
    if (buffered > dispatcher.capacity - config.batchSize || !dispatcher.parkedFit || !dispatcher.bytesFit(bytes)) return Effect.succeed(undefined)
    const { limit, maxBytes } = this.pageSize(Math.max(1, room))
    const topic = config.topics[0]!
    // Where admitting `page` leaves the read position (see `admit` and `passOthers`).
    const after = Math.max(this.ledger.floor(topic).position, page.at(-1)!.seq, readUpto?.get(topic) ?? 0)
    return Effect.forkChild(this.readTopic(topic, limit, maxBytes, after), { startImmediately: true })
  }

  /**
   * Moves a partition's read positions past the other partitions' events up to where its last
   * page covered each topic (after the page's own events were admitted); true when one moved.
   */
  private passOthers(readUpto: ReadonlyMap<string, number>): boolean {
    let moved = false
    for (const [topic, upto] of readUpto) {
      const floor = this.ledger.floor(topic)
      if (upto > floor.position) {
        floor.passed(upto)
        moved = true
      }
    }
    return moved
  }

  /**
   * The next page after each topic's read position, in seq order (merged across topics), of at
   * most `limit` events (and `maxBytes`, one topic on a store that cuts pages by bytes).
   */
  private readPage(limit: number, maxBytes?: number): Effect.Effect<Page, StoreError> {
    const topics = this.config.topics
    if (topics.length === 1) return this.readTopic(topics[0]!, limit, maxBytes)
    const self = this
    return Effect.gen(function*() {
      const merged: Array<Event> = []
      let bytes = 0
      let cutoff = Number.POSITIVE_INFINITY
      const covered = new Map<string, number>()
      for (const topic of topics) {
        const page = yield* self.readTopic(topic, limit)
        for (const e of page.events) merged.push(e)
        bytes += page.bytes
        if (page.events.length === limit) cutoff = Math.min(cutoff, page.events[page.events.length - 1]!.seq)
        const upto = page.readUpto?.get(topic)
        if (upto !== undefined) covered.set(topic, upto)
      }
      merged.sort((a, b) => a.seq - b.seq)
      const kept = merged.filter((e) => e.seq <= cutoff)
      const events = kept.length > limit ? kept.slice(0, limit) : kept
      // What the merge kept covers each topic up to its cut at most.
      const last = events.at(-1)?.seq
      const bound = events.length < kept.length && last !== undefined ? last : cutoff
      const readUpto = covered.size === 0 ? undefined : new Map([...covered].map(([topic, upto]) => [topic, Math.min(upto, bound)]))
      // (Bytes of events the merge dropped are counted too: an over-estimate, read again later.)
      return { events, bytes: merged.length === 0 ? 0 : bytes * (events.length / merged.length), readUpto }
    })
  }

  /** A fetched event: passed over, skipped by the filter, parked, or buffered and admitted. */
  private admit(event: Event, bytes: number): Effect.Effect<void, StoreError> {
    const ledger = this.ledger
    const floor = ledger.floor(event.topic)
    const seq = event.seq
    if (floor.wasDone(seq) || ledger.settledApart(seq)) {
      floor.passed(seq)
      return Effect.void
    }
    const filter = this.config.filter
    if (filter === undefined) return this.place(event, bytes, "run")
    const began = monotonicMillis(this.clock)
    const placed = this.place(event, bytes, filterVerdict(filter, event))
    const at = monotonicMillis(this.clock)
    if (at - began < slowRunMs && at - this.lastYield < yieldAfterMs) return placed
    this.lastYield = at
    return Effect.andThen(placed, Effect.yieldNow)
  }

  /** Passes over an event the filter skipped, or buffers (or parks) it to run. */
  private place(event: Event, bytes: number, verdict: ReturnType<typeof filterVerdict>): Effect.Effect<void, StoreError> {
    const { ledger, dispatcher } = this
    const floor = ledger.floor(event.topic)
    const seq = event.seq
    if (verdict === "skip") {
      floor.passed(seq)
      if (ledger.takeRow(seq) !== undefined) ledger.queueDelete(seq)
      return Effect.void
    }
    // The filter threw: the worker evaluates it again, and a second throw is a failed attempt.
    const filterPending = verdict !== "run"
    floor.fetched(seq)
    // Behind a held key, or a long queue of its key: park it (seq only) instead of buffering it.
    const stub: Parked = { parked: true, seq, topic: event.topic, key: event.key, floor, filterPending }
    if (dispatcher.park(stub)) return Effect.void
    dispatcher.buffer(bytes)
    const work = newWork(event, floor, ledger.takeRow(seq), false)
    work.filterPending = filterPending
    work.bytes = bytes
    return this.runnable.admit(work)
  }
}
