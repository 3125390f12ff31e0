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
 */
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
import type { Runnable } from "./runnable.ts"
import type { SessionError } from "./types.ts"
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

  get loop(): Effect.Effect<never, SessionError> {
    const self = this
    return Effect.gen(function*() {
      const { dispatcher, ledger } = self
      yield* self.phase.fetchGate.await
      /** The next page, being read while this one's lease mark commits (see `readAhead`). */
      let ahead: Fiber.Fiber<Page, StoreError> | undefined
      while (true) {
        let next: Page
        if (ahead !== undefined) {
          // It was read into room kept for it.
          next = yield* Fiber.join(ahead)
          ahead = undefined
        } else {
          // Refill only when a whole batch fits, so each fetch (and its lease write) carries a batch.
          while (!dispatcher.hasRoom) yield* dispatcher.room.wait
          const { limit, maxBytes } = self.pageSize(dispatcher.roomBytes)
          next = yield* self.readPage(limit, maxBytes)
        }
        const { events: page, bytes, readUpto } = next
        if (page.length === 0) {
          if (readUpto !== undefined && self.passOthers(readUpto)) self.progress.markDirty()
          self.waitingForNews = true
          yield* self.news.wait.pipe(Effect.ensuring(Effect.sync(() => {
            self.waitingForNews = false
          })))
          continue
        }
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
        ahead = yield* self.readAhead(page, bytes, readUpto)
        // The marks are bookkeeping for crash accounting: committed without waiting for the disk
        // where the store can (they are on the way from another process's publish to the handler).
        if (leased.length > 0) yield* self.submit({ ...self.progress.part(leased, false), relaxed: true })
        // Each event holds its page's average of payload bytes in the buffer.
        const each = bytes / page.length
        yield* dispatcher.admittingPage(Effect.forEach(page, (e) => self.admit(e, each), { discard: true }))
        if (readUpto !== undefined) self.passOthers(readUpto)
        self.progress.markDirty()
      }
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
    if (buffered > dispatcher.capacity - config.batchSize || !dispatcher.bytesFit(bytes)) return Effect.succeed(undefined)
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
    const { ledger, dispatcher } = this
    const floor = ledger.floor(event.topic)
    const seq = event.seq
    if (floor.wasDone(seq) || ledger.settledApart(seq)) {
      floor.passed(seq)
      return Effect.void
    }
    const filter = this.config.filter
    const verdict = filter === undefined ? "run" : filterVerdict(filter, event)
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
