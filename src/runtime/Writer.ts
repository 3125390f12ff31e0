/**
 * The group-commit writer: the runtime's hot-path writes (publishes, acks, progress, attempt
 * records, dead letters) are submitted here and applied by one fiber that takes everything pending
 * and commits it in a single store transaction. Concurrent publishers therefore share commits, and
 * a publish resolves only once its transaction has committed. The rare writes (leases, new and
 * moved cursors, requeues, topic definitions, maintenance) call the store directly.
 *
 * If a merged transaction fails, each request is retried alone so one bad request cannot fail its
 * neighbours. A commit and the hand-back of its results are uninterruptible: a submitter never
 * waits for a result that will not come. After `close`, submissions fail with `BusClosedError`.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { BusMetrics, disabled, type Recorder } from "../observability/BusMetrics.ts"
import { StoreError } from "../store/storeErrors.ts"
import type {
  AckWrite, AppendResult, CommitResult, DeadLetterWrite, DeliveryWrite, LeaseOnAppend, ProgressWrite, RuntimeStore, WriteBatch
} from "../store/Store.ts"
import type { EventDraft } from "../store/records.ts"
import { BusClosedError } from "./busErrors.ts"
import { suspend } from "./Signal.ts"

export interface WritePart {
  readonly appends?: ReadonlyArray<EventDraft> | undefined
  readonly progress?: ReadonlyArray<ProgressWrite> | undefined
  /** Progress taken from in-memory state inside the transaction (see `WriteBatch.progressNow`). */
  readonly progressNow?: (() => ReadonlyArray<ProgressWrite>) | undefined
  readonly acks?: ReadonlyArray<AckWrite> | undefined
  readonly deliveries?: ReadonlyArray<DeliveryWrite> | undefined
  readonly deadLetters?: ReadonlyArray<DeadLetterWrite> | undefined
  /**
   * Called as soon as the part's transaction has committed, before the writer starts another
   * one: in-memory state that a later transaction reads (an ack floor) is updated in time.
   */
  readonly onCommit?: (() => void) | undefined
  /**
   * Asked right before the part would be committed: a cancelled part is not written and its
   * submitter gets a `StoreError` (a group cancels the acks that follow one that failed).
   */
  readonly cancelled?: (() => boolean) | undefined
  /** The part only records lease marks (`WriteBatch.relaxed`); a batch is relaxed when all its parts are. */
  readonly relaxed?: boolean | undefined
}

/** The failure of a write its submitter cancelled (see `WritePart.cancelled`): nothing was written. */
export const cancelledWrite = new StoreError({ op: "commit", cause: new Error("cancelled: an earlier write it depends on failed, or its session ended") })

type Resume = (exit: Exit.Exit<CommitResult, StoreError | BusClosedError>) => void

interface Pending {
  readonly part: WritePart
  readonly resume: Resume
}

/**
 * A consumer group that wants its lease mark raised in the same transaction that appends to its
 * topics, while it is caught up: the events it is about to fetch are then already leased, and the
 * publish-to-handler path needs one commit instead of two.
 */
export interface LeaseHook {
  readonly group: string
  readonly owner: string
  readonly topics: ReadonlySet<string>
  /** The partition a partitioned group's unit reads (appends to other partitions do not concern it). */
  readonly partition?: number | undefined
  /** True while the group has read everything and waits for news. */
  readonly idle: () => boolean
  /** Called after a commit raised the group's lease mark on `topic` to `seq`. */
  readonly leased: (topic: string, seq: number) => void
}

export interface Writer {
  readonly submit: (part: WritePart) => Effect.Effect<CommitResult, StoreError | BusClosedError>
  /**
   * Submits without waiting: `done` is called with the outcome once the part's transaction has
   * committed (or failed), from the writer fiber. For callers that must not block on the commit.
   */
  readonly enqueue: (part: WritePart, done: Resume) => void
  /** Registers a lease hook; returns its removal. */
  readonly hook: (hook: LeaseHook) => () => void
  /** Stops accepting writes, commits what is pending, and ends the writer fiber. */
  readonly close: Effect.Effect<void>
  /** The bus's metrics (`BusMetrics` where the writer was made; disabled without it). */
  readonly metrics: Recorder
}

const empty: ReadonlyArray<never> = []

/**
 * Starts the writer in the current scope. `committed` is told which topics gained events after
 * each commit (to wake their subscribers). Commits are recorded in the `BusMetrics` of the
 * context, if any (published events by topic, commit time and size).
 */
export const makeWriter = Effect.fnUntraced(function*(
  store: RuntimeStore,
  committed: (topics: ReadonlySet<string>) => void
) {
  let pending: Array<Pending> = []
  const hooks = new Set<LeaseHook>()
  let wake: (() => void) | undefined
  let closed = false
  const metrics = Option.getOrElse(yield* Effect.serviceOption(BusMetrics), () => disabled)

  const distribute = (items: ReadonlyArray<Pending>, result: CommitResult) => {
    for (const item of items) item.part.onCommit?.()
    let offset = 0
    const topics = new Set<string>()
    for (const item of items) {
      const n = item.part.appends?.length ?? 0
      let appended: ReadonlyArray<AppendResult> = empty
      if (n > 0) {
        appended = items.length === 1 ? result.appended : result.appended.slice(offset, offset + n)
        for (let i = 0; i < n; i++) {
          if (appended[i]!.existing !== undefined) continue
          const topic = item.part.appends![i]!.topic
          topics.add(topic)
          metrics.published(topic)
        }
        offset += n
      }
      item.resume(Exit.succeed({ appended, fenced: result.fenced }))
    }
    if (topics.size > 0) committed(topics)
  }

  /** Lease raises for idle groups reading the topics these appends go to. */
  const leasesFor = (appends: ReadonlyArray<EventDraft>): ReadonlyArray<LeaseOnAppend> => {
    if (hooks.size === 0 || appends.length === 0) return empty
    let out: Array<LeaseOnAppend> | undefined
    for (const hook of hooks) {
      if (!hook.idle()) continue
      let topics: Set<string> | undefined
      for (const a of appends) {
        if (hook.partition !== undefined && a.partition !== hook.partition) continue
        if (hook.topics.has(a.topic) && !(topics ??= new Set()).has(a.topic)) topics.add(a.topic)
      }
      if (topics !== undefined) for (const topic of topics) (out ??= []).push({ group: hook.group, owner: hook.owner, topic })
    }
    return out ?? empty
  }

  const merge = (items: ReadonlyArray<Pending>, now: number): WriteBatch & { readonly leases: ReadonlyArray<LeaseOnAppend> } => {
    if (items.length === 1) {
      const p = items[0]!.part
      const appends = p.appends ?? empty
      return {
        now,
        appends,
        progress: p.progress ?? empty,
        progressNow: p.progressNow,
        acks: p.acks,
        deliveries: p.deliveries ?? empty,
        deadLetters: p.deadLetters ?? empty,
        leases: leasesFor(appends),
        relaxed: p.relaxed === true && appends.length === 0
      }
    }
    const appends: Array<EventDraft> = []
    const progress: Array<ProgressWrite> = []
    const progressNow: Array<() => ReadonlyArray<ProgressWrite>> = []
    const acks: Array<AckWrite> = []
    const deliveries: Array<DeliveryWrite> = []
    const deadLetters: Array<DeadLetterWrite> = []
    for (const { part } of items) {
      if (part.appends !== undefined) for (const a of part.appends) appends.push(a)
      if (part.progress !== undefined) for (const p of part.progress) progress.push(p)
      if (part.progressNow !== undefined) progressNow.push(part.progressNow)
      if (part.acks !== undefined) for (const a of part.acks) acks.push(a)
      if (part.deliveries !== undefined) for (const d of part.deliveries) deliveries.push(d)
      if (part.deadLetters !== undefined) for (const d of part.deadLetters) deadLetters.push(d)
    }
    return {
      now,
      appends,
      progress,
      progressNow: progressNow.length === 0 ? undefined : () => progressNow.flatMap((f) => f()),
      acks,
      deliveries,
      deadLetters,
      leases: leasesFor(appends),
      relaxed: appends.length === 0 && items.every((i) => i.part.relaxed === true)
    }
  }

  /** Tells the hooked groups what the committed batch leased to them. */
  const announceLeases = (batch: ReturnType<typeof merge>, result: CommitResult) => {
    if (batch.leases.length === 0) return
    const maxByTopic = new Map<string, number>()
    for (let i = 0; i < batch.appends.length; i++) {
      const a = result.appended[i]!
      if (a.existing === undefined && (maxByTopic.get(batch.appends[i]!.topic) ?? 0) < a.seq) {
        maxByTopic.set(batch.appends[i]!.topic, a.seq)
      }
    }
    for (const l of batch.leases) {
      if (result.fenced.includes(l.group)) continue
      const seq = maxByTopic.get(l.topic)
      if (seq === undefined) continue
      for (const hook of hooks) if (hook.group === l.group && hook.owner === l.owner) hook.leased(l.topic, seq)
    }
  }

  const clock = yield* Clock.Clock

  /** Commits the items of a failed merge one by one (so one bad request cannot fail its neighbours). */
  const commitEach = (items: ReadonlyArray<Pending>, now: number) =>
    Effect.forEach(items, (item) => {
      if (item.part.cancelled?.() === true) return Effect.sync(() => item.resume(Exit.fail(cancelledWrite)))
      const batch = merge([item], now)
      return Effect.map(Effect.exit(store.commit(batch)), (single) => {
        if (Exit.isSuccess(single)) {
          announceLeases(batch, single.value)
          distribute([item], single.value)
        } else item.resume(single)
      })
    }, { discard: true })

  const commitAll = (all: ReadonlyArray<Pending>): Effect.Effect<void> =>
    Effect.uninterruptible(Effect.suspend(() => {
      let items = all
      if (all.some((item) => item.part.cancelled?.() === true)) {
        const kept: Array<Pending> = []
        for (const item of all) {
          if (item.part.cancelled?.() === true) item.resume(Exit.fail(cancelledWrite))
          else kept.push(item)
        }
        items = kept
        if (items.length === 0) return Effect.void
      }
      const now = clock.currentTimeMillisUnsafe()
      const batch = merge(items, now)
      // A measurement of real work, not a schedule: the monotonic clock, not the Effect Clock.
      const started = performance.now()
      return Effect.flatMap(Effect.exit(store.commit(batch)), (exit) => {
        if (Exit.isSuccess(exit)) {
          metrics.committed((performance.now() - started) / 1000, items.length)
          announceLeases(batch, exit.value)
          distribute(items, exit.value)
          return Effect.void
        }
        if (items.length === 1) {
          items[0]!.resume(exit)
          return Effect.void
        }
        return commitEach(items, now)
      })
    }))

  // The writer wakes on its scheduler, after the submitting fiber yields: every fiber that is
  // ready to submit does so before the commit, which is what makes this a group commit.
  const waitForWork = Effect.suspend(() =>
    pending.length > 0 ? Effect.void : suspend<void>((w) => {
      wake = () => w(undefined)
      return () => {
        wake = undefined
      }
    })
  )

  const drain: Effect.Effect<void> = Effect.suspend(() => {
    if (pending.length === 0) return Effect.void
    const items = pending
    pending = []
    return Effect.flatMap(commitAll(items), () => drain)
  })

  const loop: Effect.Effect<never> = Effect.flatMap(waitForWork, () => Effect.flatMap(drain, () => loop))

  const fiber = yield* Effect.forkScoped(loop)

  const enqueue = (part: WritePart, resume: Resume): void => {
    if (closed) return resume(Exit.fail(new BusClosedError({ operation: "write" })))
    pending.push({ part, resume })
    if (wake !== undefined) {
      const w = wake
      wake = undefined
      w()
    }
  }

  const submit = (part: WritePart) =>
    Effect.callback<CommitResult, StoreError | BusClosedError>((resume) => enqueue(part, resume))

  const close = Effect.gen(function*() {
    if (closed) return
    closed = true
    yield* Fiber.interrupt(fiber)
    yield* drain
  })
  yield* Effect.addFinalizer(() => close)

  const hook = (h: LeaseHook) => {
    hooks.add(h)
    return () => {
      hooks.delete(h)
    }
  }

  return { submit, enqueue, close, hook, metrics } satisfies Writer
})
