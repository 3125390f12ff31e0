/**
 * The `Inspect` service: what an operator reads about a database, without a bus and without
 * moving anything. Topics with their stored settings and counts, every group's position with its
 * lag and the work it has outstanding, a topic's events, one event with its progress in every
 * group, dead letters, and a wait for other processes' commits. `sib topics`, `sib groups`,
 * `sib tail`, `sib event`, `sib dlq` and the status line of `sib run` read through it; it needs only
 * a `Store` (its `admin` part, and the reads `floorOf` and `event` use).
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { storedTopic, type StoredTopic } from "../options/topicSpec.ts"
import type { StoreError } from "../store/storeErrors.ts"
import type { Cursor, DeadLetter, Delivery, Event, GroupMember, GroupPosition, TopicStats } from "../store/records.ts"
import { type DeadLetterQuery, Store, type StoreShape } from "../store/Store.ts"
import { isLive } from "./group/lease.ts"
import { floorOf, type StartFromError } from "./group/startFrom.ts"
import { type HostInfo, nodeHost } from "./HostInfo.ts"
import { foldUnits } from "./foldedAdmin.ts"
import { firstEventAfter, oldestUndone } from "./oldestUndone.ts"
import type { StartFrom } from "./subscribeOptions.ts"

/** A topic as stored: its settings (defaults where none were stored) and what it holds. */
export interface TopicInfo {
  readonly name: string
  /** Undefined when the topic has no events. */
  readonly stats: TopicStats | undefined
  readonly settings: StoredTopic
}

/** One group on one topic: where its cursor is, how far behind, and what it has outstanding. */
export interface GroupInfo {
  readonly cursor: Cursor
  /** The partition, for one partition of a partitioned group (one `GroupInfo` per partition). */
  readonly partition?: number | undefined
  /** The topic's highest seq (at least the cursor: retention may have deleted every event). */
  readonly headSeq: number
  /** Events after the cursor. */
  readonly lag: number
  /** Age (ms) of the oldest event after the cursor that is not done; 0 when caught up (the time lag). */
  readonly lagMs: number
  /** Events a live consumer has fetched and not finished (0 without a live consumer). */
  readonly inFlight: number
  readonly retrying: number
  readonly deadLetters: number
  /** Events retention deleted before the group processed them. */
  readonly skipped: number
  /** The live consumer, if one holds the group's lease. */
  readonly owner: { readonly sid: string; readonly pid: number | null; readonly host: string | null; readonly leaseExpiresAt: number | null } | undefined
}

/** Where one event stands for one group that has a cursor on its topic. */
export type EventProgress =
  /** At or below the group's floor, or in its acked ranges: handled (or filtered out). */
  | { readonly state: "done" }
  /** Not yet done: waiting to be fetched, or running now when `running` (a live consumer leased it). */
  | { readonly state: "pending"; readonly running: boolean }
  /** Failed and waiting for a retry, a crash suspect, a run under isolation, or a requeued dead letter. */
  | { readonly state: "retrying"; readonly delivery: Delivery }
  | { readonly state: "dead"; readonly deadLetter: DeadLetter }

/** One event with its progress in every group that consumes its topic. */
export interface EventInfo {
  readonly event: Event
  readonly groups: ReadonlyArray<{ readonly group: string; readonly progress: EventProgress }>
}

/** The partitions whose lease `member` holds now, ascending (on any of its group's topics). */
export const partitionsHeld = (member: GroupMember, groups: ReadonlyArray<GroupInfo>): ReadonlyArray<number> =>
  [...new Set(groups.flatMap((g) => (g.cursor.group === member.group && g.partition !== undefined && g.owner?.sid === member.member ? [g.partition] : [])))]
    .sort((a, b) => a - b)

export interface InspectShape {
  /** Every topic that has settings or events, by name. */
  readonly topics: Effect.Effect<ReadonlyArray<TopicInfo>, StoreError>
  /** Every group's position on each of its topics, by group then topic. */
  readonly groups: Effect.Effect<ReadonlyArray<GroupInfo>, StoreError>
  /** The stored positions alone (no counts): cheap enough to read every second. */
  readonly positions: Effect.Effect<ReadonlyArray<GroupPosition>, StoreError>
  readonly headSeq: (topic: string) => Effect.Effect<number, StoreError>
  /** How many events of `topic` have a seq in (afterSeq, uptoSeq]. */
  readonly countEvents: (topic: string, afterSeq: number, uptoSeq: number, partition?: number) => Effect.Effect<number, StoreError>
  /** The members of every partitioned group (the processes consuming it), by group then join time. */
  readonly members: Effect.Effect<ReadonlyArray<GroupMember>, StoreError>
  /** The position after which the last `count` events of `topic` follow. */
  readonly floorForLast: (topic: string, count: number) => Effect.Effect<number, StoreError>
  /** The position a start (`earliest`, `{ seq }`, `{ ts }`, `{ id }`, `{ afterId }`, ...) names on `topic`. */
  readonly floorOf: (topic: string, from: StartFrom) => Effect.Effect<number, StoreError | StartFromError>
  readonly deadLetters: (query: DeadLetterQuery) => Effect.Effect<ReadonlyArray<DeadLetter>, StoreError>
  /** An event by id, with its progress in each group consuming its topic (undefined: no such event). */
  readonly event: (id: string) => Effect.Effect<EventInfo | undefined, StoreError>
  /** The events with these seqs that still exist, ascending (a dead letter's event, say). */
  readonly eventsAt: (seqs: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<Event>, StoreError>
  /** Events of `topic` after `afterSeq`, ascending, at most `limit`. */
  readonly read: (topic: string, afterSeq: number, limit: number) => Effect.Effect<ReadonlyArray<Event>, StoreError>
  /**
   * Starts watching for commits by other connections; the effect it returns waits for the next
   * one (checking every `pollMs`). A database that cannot tell wakes the waiter every `pollMs`.
   */
  readonly watchCommits: (pollMs: number) => Effect.Effect<Effect.Effect<void, StoreError>, StoreError>
}

export const make = (store: StoreShape, host: HostInfo = nodeHost): InspectShape => {
  const { runtime } = store
  const admin = foldUnits(store)

  const groups = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const out: Array<GroupInfo> = []
    for (const p of yield* admin.groupPositions) {
      const { cursor, lease, partition } = p
      const headSeq = Math.max(yield* runtime.headSeq(cursor.topic), cursor.floor)
      const live = isLive(lease, now, host)
      const count = (after: number, upto: number) => admin.countEvents(cursor.topic, after, upto, partition)
      let inFlight = 0
      if (live && cursor.leasedUpto > cursor.floor) {
        inFlight = yield* count(cursor.floor, cursor.leasedUpto)
        for (const [from, to] of cursor.acked) inFlight -= yield* count(from - 1, Math.min(to, cursor.leasedUpto))
      }
      const lag = yield* count(cursor.floor, headSeq)
      const oldest = lag === 0 ? undefined : yield* oldestUndone(firstEventAfter(store, cursor.topic, partition), cursor)
      out.push({
        cursor,
        partition,
        headSeq,
        lag,
        lagMs: oldest === undefined ? 0 : Math.max(0, now - oldest.ts),
        inFlight: Math.max(0, inFlight),
        retrying: p.retrying,
        deadLetters: p.deadLetters,
        skipped: p.skipped,
        owner: live ? { sid: lease.ownerSid, pid: lease.ownerPid, host: lease.ownerHost, leaseExpiresAt: lease.expiresAt } : undefined
      })
    }
    return out
  })

  const topics = Effect.gen(function*() {
    const stats = new Map((yield* admin.topicStats).map((s) => [s.topic, s]))
    const settings = new Map((yield* runtime.topics).map((t) => [t.name, storedTopic(t.config)]))
    return [...new Set([...stats.keys(), ...settings.keys()])].sort().map((name) => ({
      name,
      stats: stats.get(name),
      settings: settings.get(name) ?? storedTopic(undefined)
    }))
  })

  const event = (id: string) =>
    Effect.gen(function*() {
      const found = yield* runtime.eventById(id)
      if (found === undefined) return undefined
      const now = yield* Clock.currentTimeMillis
      const dead = new Map((yield* admin.deadLetters({ eventId: id })).map((d) => [d.group, d]))
      const retrying = new Map((yield* admin.deliveries({ eventId: id })).map((d) => [d.group, d]))
      const groups: Array<EventInfo["groups"][number]> = []
      for (const p of yield* admin.groupPositions) {
        const { cursor, lease } = p
        if (cursor.topic !== found.topic) continue
        // A partitioned group's event is its partition's business alone.
        if (p.partition !== undefined && p.partition !== found.partition) continue
        const group = cursor.group
        const deadLetter = dead.get(group)
        const delivery = retrying.get(group)
        const done = found.seq <= cursor.floor || cursor.acked.some(([from, to]) => found.seq >= from && found.seq <= to)
        const progress: EventProgress = deadLetter !== undefined
          ? { state: "dead", deadLetter }
          : delivery !== undefined
          ? { state: "retrying", delivery }
          : done
          ? { state: "done" }
          : { state: "pending", running: found.seq <= cursor.leasedUpto && isLive(lease, now, host) }
        groups.push({ group, progress })
      }
      return { event: found, groups }
    })

  const watchCommits = (pollMs: number) =>
    Effect.gen(function*() {
      const changeToken = store.capabilities.changeToken
      if (changeToken === undefined) return Effect.sleep(pollMs)
      let token = yield* changeToken
      return Effect.gen(function*() {
        while (true) {
          yield* Effect.sleep(pollMs)
          const next = yield* changeToken
          if (next !== token) {
            token = next
            return
          }
        }
      })
    })

  return {
    topics,
    groups,
    positions: admin.groupPositions,
    headSeq: runtime.headSeq,
    countEvents: admin.countEvents,
    // A member that is a dead process on this host is gone (as the group's members judge it),
    // though its row stays until a live member removes it.
    members: Effect.map(admin.members, (members) =>
      members.filter((m) => !(m.host === host.hostname && m.pid !== null && m.pid !== host.pid && !host.isAlive(m.pid)))),
    floorForLast: admin.floorForLast,
    floorOf: (topic, from) => floorOf(runtime, topic, from),
    deadLetters: admin.deadLetters,
    event,
    eventsAt: runtime.readSeqs,
    read: admin.readTopic,
    watchCommits
  }
}

export class Inspect extends Context.Service<Inspect, InspectShape>()("sibus/Inspect") {
  /** Inspection of the provided `Store`. */
  static readonly layer: Layer.Layer<Inspect, never, Store> = Layer.effect(Inspect, Effect.map(Effect.service(Store), (store) => make(store)))
}
