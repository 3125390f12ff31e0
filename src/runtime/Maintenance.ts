/**
 * Maintenance: compaction and retention passes over the store, run on demand (`Bus.compact`,
 * `Bus.prune`, `sib compact`, `sib prune`) and by the bus on a `Clock` schedule. A pass walks one
 * topic in steps (`MaintenanceStore.compactStep` / `pruneStep`), each one short transaction of at
 * most `batchSize` deletions (fewer when steps run past 20 ms), followed by a checkpoint of the
 * database's log outside the lock where it has one (the `checkpoint` capability: SQLite's WAL) and
 * a rest (by default as long as both took), so other writers, in this process or another, take the
 * write lock in between. Time is measured with `Clock`.
 *
 * Settings come from the store (`topics.config`), so every process acts on the same ones whoever
 * defined the topic. What may be deleted (nothing above the slowest cursor, unless retention says
 * otherwise; nothing a dead letter or a delivery row points to) is decided by the store inside each
 * step. Skips caused by `retainUntilConsumed: false` are counted by the store and logged here.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import type { StoreError } from "../store/storeErrors.ts"
import { type CompactPosition, compactStart, type CompactStepResult, type PruneStepResult } from "../store/maintenanceSteps.ts"
import type { Json } from "../store/records.ts"
import type { StoreShape } from "../store/Store.ts"
import { MaintenanceError } from "./busErrors.ts"
import { isLive } from "./group/lease.ts"
import { type HostInfo, nodeHost } from "./HostInfo.ts"
import { maintenanceSpec } from "../options/maintenanceSpec.ts"
import { check, type OptionProblem } from "../options/spec.ts"
import { type StoredTopic, storedTopic } from "../options/topicSpec.ts"

export interface MaintenanceOptions {
  /** How often the bus compacts and prunes every topic (ms; default 60 000). */
  readonly intervalMs?: number | undefined
  /**
   * Most events deleted in one transaction (default 1000). A pass starts there and shrinks its
   * batches when one holds the write lock longer than 20 ms (growing back when they are quick).
   */
  readonly batchSize?: number | undefined
  /**
   * Rest after each step, as a multiple of the time the step and its checkpoint took (default 1:
   * the lock is free at least half of the time a pass runs; 0 only yields to other fibers).
   */
  readonly pauseRatio?: number | undefined
}

export type ResolvedMaintenance = { readonly [K in keyof MaintenanceOptions]-?: number }

/** The options with their defaults, or what is wrong with them (named as `maintenance.<option>`). */
export const resolveMaintenance = (options: MaintenanceOptions | undefined): ResolvedMaintenance | OptionProblem => {
  const checked = check(maintenanceSpec, options)
  if (!checked.ok) return { ...checked.problem, path: checked.problem.path === "" ? "maintenance" : `maintenance.${checked.problem.path}` }
  return checked.value as ResolvedMaintenance
}

/** A topic's maintenance settings, read from its stored config (invalid values are ignored). */
export type TopicSettings = Pick<StoredTopic, "compaction" | "deleteRetentionMs" | "retention">

const settingsOf = (config: Json): TopicSettings => storedTopic(config)

/** What one compaction pass did on one topic. */
export interface CompactionReport {
  readonly topic: string
  /** superseded + tombstones */
  readonly deleted: number
  readonly superseded: number
  readonly tombstones: number
  /** Events that could go but are kept for a dead letter or a retry. */
  readonly kept: number
  /** Superseded events above the slowest group's cursor, left for a later pass. */
  readonly waiting: number
  readonly slowestGroup: string | null
  /** The groups whose cursors hold `waiting` events back, slowest first. */
  readonly holders: ReadonlyArray<Holder>
  /** Transactions run, and the longest of them (ms, as `Clock` measures it). */
  readonly batches: number
  readonly longestBatchMs: number
  readonly durationMs: number
}

/**
 * A group holding events back: its cursor, whether a live consumer holds it, and for how long
 * nothing has moved it when none does (`sib groups delete` removes an abandoned one).
 */
export interface Holder {
  readonly group: string
  readonly cursor: number
  readonly consuming: boolean
  /** Since its cursor last moved (ms); null while a live consumer holds the group. */
  readonly inactiveMs: number | null
}

/** What one retention pass did on one topic. */
export interface PruneReport {
  readonly topic: string
  readonly deleted: number
  /** Expired events kept for a dead letter or a retry. */
  readonly kept: number
  /** Groups that lost events they had not processed (`retainUntilConsumed: false`), and how many. */
  readonly skipped: ReadonlyArray<{ readonly group: string; readonly events: number }>
  /** The group whose cursor holds back expired events (`retainUntilConsumed`), if one does. */
  readonly waitingFor: string | null
  /** Every group whose cursor holds expired events back, slowest first. */
  readonly holders: ReadonlyArray<Holder>
  readonly batches: number
  readonly longestBatchMs: number
  readonly durationMs: number
}

export interface Maintenance {
  readonly options: ResolvedMaintenance
  /** One compaction pass over `topic`, or over every compacted topic. */
  readonly compact: (topic?: string) => Effect.Effect<ReadonlyArray<CompactionReport>, MaintenanceError | StoreError>
  /** One retention pass over `topic`, or over every topic with retention. */
  readonly prune: (topic?: string) => Effect.Effect<ReadonlyArray<PruneReport>, MaintenanceError | StoreError>
  /** Compacts and prunes every topic every `intervalMs` (the first time after one interval), logging what it did. */
  readonly schedule: Effect.Effect<never>
}

const elapsedMs = (from: bigint, to: bigint) => Number(to - from) / 1e6

/** The write-lock hold a pass aims its batches at (ms). */
const targetStepMs = 20
const minimumLimit = 16

/** The next batch size after a step of `ms` with `limit`: aimed at `targetStepMs`, never above `max`, at most doubling. */
const nextLimit = (limit: number, ms: number, max: number): number =>
  ms <= 0 ? max : Math.max(Math.min(minimumLimit, max), Math.min(max, limit * 2, Math.floor((limit * targetStepMs) / ms)))

export const make = (store: StoreShape, options: ResolvedMaintenance, host: HostInfo = nodeHost): Maintenance => {
  // One pass at a time per process: the schedule and an on-demand call do not walk the same topic twice.
  const lock = Semaphore.makeUnsafe(1)
  const batchSize = options.batchSize
  const checkpoint = store.capabilities.checkpoint

  /**
   * Runs one step, timed (its duration is its write-lock hold), then the checkpoint of what it
   * deleted (outside the lock), then rests in proportion to both (or just yields).
   */
  const timed = <A, E>(step: Effect.Effect<A, E>, deleted: (result: A) => number) =>
    Effect.gen(function*() {
      const t0 = yield* Clock.monotonicTimeNanos
      const result = yield* step
      const t1 = yield* Clock.monotonicTimeNanos
      if (deleted(result) > 0 && checkpoint !== undefined) yield* checkpoint
      const rest = elapsedMs(t0, yield* Clock.monotonicTimeNanos) * options.pauseRatio
      yield* rest > 0 ? Effect.sleep(rest) : Effect.yieldNow
      return [result, elapsedMs(t0, t1)] as const
    })

  /** The groups on `topic` whose cursors are below `seq`, slowest first. */
  const holdersBelow = (topic: string, seq: number | undefined): Effect.Effect<ReadonlyArray<Holder>, StoreError> =>
    seq === undefined ? Effect.succeed([]) : Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      return (yield* store.admin.groupPositions)
        .filter((p) => p.cursor.topic === topic && p.cursor.floor < seq)
        .sort((a, b) => a.cursor.floor - b.cursor.floor)
        .map((p) => {
          const consuming = isLive(p.lease, now, host)
          return { group: p.cursor.group, cursor: p.cursor.floor, consuming, inactiveMs: consuming ? null : Math.max(0, now - p.cursor.updatedAt) }
        })
    })

  const topicsWith = (operation: "compact" | "prune", wanted: string | undefined, applies: (s: TopicSettings) => boolean) =>
    Effect.gen(function*() {
      const all = (yield* store.runtime.topics).map((t) => ({ name: t.name, settings: settingsOf(t.config) }))
      if (wanted === undefined) return all.filter((t) => applies(t.settings))
      const found = all.find((t) => t.name === wanted)
      const setting = operation === "compact" ? "compaction: true" : "retention: { maxAgeMs, maxCount }"
      if (found === undefined && (yield* store.runtime.headSeq(wanted)) === 0) {
        return yield* new MaintenanceError({ operation, topic: wanted, detail: "there is no topic of that name (see sib topics)" })
      }
      if (found === undefined || !applies(found.settings)) {
        return yield* new MaintenanceError({
          operation, topic: wanted,
          detail: `the topic is not ${operation === "compact" ? "compacted" : "under retention"}: define it with ${setting}`
        })
      }
      return [found]
    })

  const compactTopic = (topic: string, settings: TopicSettings) =>
    Effect.gen(function*() {
      const started = yield* Clock.monotonicTimeNanos
      const now = yield* Clock.currentTimeMillis
      let from: CompactPosition | undefined = compactStart
      let limit = batchSize
      let superseded = 0, tombstones = 0, kept = 0, waiting = 0, batches = 0, longest = 0
      let slowestGroup: string | null = null
      let waitingUpto: number | undefined
      while (from !== undefined) {
        const [r, ms]: readonly [CompactStepResult, number] = yield* timed(
          store.maintenance.compactStep({ topic, from, limit, now, deleteRetentionMs: settings.deleteRetentionMs }),
          (r) => r.superseded + r.tombstones
        )
        limit = nextLimit(limit, ms, batchSize)
        superseded += r.superseded
        tombstones += r.tombstones
        kept += r.kept
        waiting += r.waiting
        if (r.waitingUpto !== undefined) waitingUpto = Math.max(waitingUpto ?? 0, r.waitingUpto)
        slowestGroup = r.slowestGroup ?? null
        batches++
        longest = Math.max(longest, ms)
        from = r.next
      }
      const report: CompactionReport = {
        topic, deleted: superseded + tombstones, superseded, tombstones, kept, waiting, slowestGroup,
        holders: yield* holdersBelow(topic, waitingUpto), batches, longestBatchMs: longest, durationMs: elapsedMs(started, yield* Clock.monotonicTimeNanos)
      }
      return report
    })

  const pruneTopic = (topic: string, retention: NonNullable<TopicSettings["retention"]>) =>
    Effect.gen(function*() {
      const started = yield* Clock.monotonicTimeNanos
      const now = yield* Clock.currentTimeMillis
      const expiredBefore = retention.maxAgeMs === undefined ? undefined : now - retention.maxAgeMs
      // Events published during the pass only make this bound older than it could be: safe.
      const expiredUpto = retention.maxCount === undefined ? undefined : yield* store.admin.floorForLast(topic, retention.maxCount)
      let after: number | undefined = 0
      let limit = batchSize
      let deleted = 0, kept = 0, batches = 0, longest = 0
      let waitingFor: string | null = null
      let blockedAt: number | undefined
      const skipped = new Map<string, number>()
      // Logged even when a later step fails: the counts are already committed.
      const logSkips = Effect.suspend(() =>
        Effect.forEach(skipped, ([group, events]) =>
          Effect.logWarning(
            `retention on ${topic} deleted ${events} event(s) group ${group} had not processed (retainUntilConsumed: false); it goes on from the oldest remaining event`
          ), { discard: true }))
      yield* Effect.gen(function*() {
        while (after !== undefined) {
          const [r, ms]: readonly [PruneStepResult, number] = yield* timed(
            store.maintenance.pruneStep({
              topic, afterSeq: after, limit, expiredBefore, expiredUpto, retainUntilConsumed: retention.retainUntilConsumed
            }),
            (r) => r.deleted
          )
          limit = nextLimit(limit, ms, batchSize)
          deleted += r.deleted
          kept += r.kept
          for (const s of r.skipped) skipped.set(s.group, (skipped.get(s.group) ?? 0) + s.events)
          waitingFor = r.waitingFor ?? null
          blockedAt = r.blockedAt
          batches++
          longest = Math.max(longest, ms)
          after = r.next
        }
      }).pipe(Effect.ensuring(logSkips))
      const report: PruneReport = {
        topic, deleted, kept, skipped: [...skipped].map(([group, events]) => ({ group, events })), waitingFor,
        holders: yield* holdersBelow(topic, blockedAt), batches,
        longestBatchMs: longest, durationMs: elapsedMs(started, yield* Clock.monotonicTimeNanos)
      }
      return report
    })

  const compact: Maintenance["compact"] = (topic) =>
    lock.withPermit(Effect.gen(function*() {
      const topics = yield* topicsWith("compact", topic, (s) => s.compaction)
      return yield* Effect.forEach(topics, (t) => compactTopic(t.name, t.settings))
    }))

  const prune: Maintenance["prune"] = (topic) =>
    lock.withPermit(Effect.gen(function*() {
      const topics = yield* topicsWith("prune", topic, (s) => s.retention !== undefined)
      return yield* Effect.forEach(topics, (t) => pruneTopic(t.name, t.settings.retention!))
    }))

  const round = Effect.gen(function*() {
    for (const r of yield* compact()) {
      if (r.deleted > 0) yield* Effect.logInfo(`compacted ${r.topic}: deleted ${r.superseded} superseded event(s) and ${r.tombstones} tombstone(s) in ${r.batches} transaction(s)`)
    }
    for (const r of yield* prune()) {
      if (r.deleted > 0) yield* Effect.logInfo(`retention on ${r.topic}: deleted ${r.deleted} expired event(s) in ${r.batches} transaction(s)`)
    }
  })

  const schedule: Effect.Effect<never> = Effect.sleep(options.intervalMs).pipe(
    Effect.andThen(round.pipe(Effect.catchCause((cause) => Effect.logWarning(`maintenance failed; trying again in ${options.intervalMs} ms`, cause)))),
    Effect.forever
  )

  return { options, compact, prune, schedule }
}
