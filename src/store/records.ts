/**
 * The persisted records of sibus: events, cursors, deliveries and dead letters, as the store
 * hands them to the runtime. These are plain data; the rules about them (ack floors, attempts,
 * leases) live in the runtime. Column encodings (JSON text, nullable columns) stay in the store.
 */

/** Any JSON value. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** A stored event. `seq` is assigned by the store in commit order and never reused. */
export interface Event<P = Json> {
  readonly id: string
  readonly seq: number
  readonly ts: number
  readonly topic: string
  readonly key?: string
  readonly partition?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly payload: P
  readonly causedBy?: ReadonlyArray<string>
  readonly tags?: ReadonlyArray<string>
  readonly sid?: string
}

/**
 * An event ready to be written: validated, with its id and timestamp chosen and its JSON columns
 * already serialized (the runtime serializes once to check sizes; the store does not do it again).
 */
export interface EventDraft {
  readonly id: string
  readonly ts: number
  readonly topic: string
  readonly key: string | null
  readonly partition: number | null
  readonly headers: string | null
  readonly payload: string
  readonly causedBy: string | null
  readonly tags: string | null
  readonly sid: string | null
  /**
   * The publisher chose the id (not stored): only such an id can already name an event, and one
   * naming an event of another topic fails the whole transaction (see `IdTaken`).
   */
  readonly idGiven?: true | undefined
}

/** The columns of an event row, in the order every event query selects them. */
export const eventColumns = [
  "seq", "id", "ts", "topic", "key", "partition", "headers", "payload", "caused_by", "tags", "sid"
] as const

/** An event row as read in raw (array) mode, in `eventColumns` order. */
export type EventTuple = readonly [
  seq: number, id: string, ts: number, topic: string, key: string | null, partition: number | null,
  headers: string | null, payload: string, causedBy: string | null, tags: string | null, sid: string | null
]

interface DecodedEvent {
  id: string; seq: number; ts: number; topic: string; payload: Json
  key?: string; partition?: number; headers?: Record<string, string>
  causedBy?: ReadonlyArray<string>; tags?: ReadonlyArray<string>; sid?: string
}

/**
 * Makes a decoded event: a plain object (its prototype is `Object.prototype`, as a literal's), but
 * built by `new`, not by an object literal. V8 tracks each literal's allocation site and, when
 * most objects of a site survive a young-generation collection, allocates that site's objects in
 * the old generation from then on ("pretenuring"). A consume's first collections can find a whole
 * buffer of fresh events alive; the literal's site was then pretenured and every later event (and
 * the payload it points to) cost old-generation garbage and slow collections: the consume ran at
 * ~0.6 x its speed in ~260 MB for the rest of the process. Objects made by `new` have no such site.
 */
const PlainEvent = function(this: DecodedEvent, id: string, seq: number, ts: number, topic: string, payload: Json) {
  this.id = id
  this.seq = seq
  this.ts = ts
  this.topic = topic
  this.payload = payload
} as unknown as { new(id: string, seq: number, ts: number, topic: string, payload: Json): DecodedEvent; prototype: object }
PlainEvent.prototype = Object.prototype

/** Decodes a raw event row. Optional fields that are NULL are left out of the record. */
export const decodeEventTuple = (row: EventTuple): Event => {
  const event = new PlainEvent(row[1], row[0], row[2], row[3], JSON.parse(row[7]) as Json)
  if (row[4] !== null) event.key = row[4]
  if (row[5] !== null) event.partition = row[5]
  if (row[6] !== null) event.headers = JSON.parse(row[6]) as Record<string, string>
  if (row[8] !== null) event.causedBy = JSON.parse(row[8]) as ReadonlyArray<string>
  if (row[9] !== null) event.tags = JSON.parse(row[9]) as ReadonlyArray<string>
  if (row[10] !== null) event.sid = row[10]
  return event
}

/** Inclusive seq ranges, ascending and disjoint. */
export type SeqRanges = ReadonlyArray<readonly [number, number]>

/**
 * The durable progress of one group on one topic.
 * - `floor`: every event of the topic at or below it is acked, filtered out or dead-lettered.
 * - `acked`: ranges above the floor that are also done (out-of-order completions).
 * - `leasedUpto`: events in (floor, leasedUpto] that are not in `acked` may have been running
 *   when the owner stopped; if the owner crashed, each of them is charged one attempt.
 */
export interface Cursor {
  readonly topic: string
  readonly group: string
  readonly floor: number
  readonly acked: SeqRanges
  readonly leasedUpto: number
  readonly updatedAt: number
  /** Runs that were redeliveries (an event's second run or later), over the group's life. */
  readonly redelivered: number
}

/** Why a delivery row exists: a failed event waiting for its retry, a crash suspect, a run in
 * progress under crash isolation, or a dead letter sent back by `requeue`. */
export type DeliveryState = "retry" | "suspect" | "running" | "requeued"

/** Attempts of one event by one group, kept across restarts. */
export interface Delivery {
  readonly group: string
  readonly topic: string
  readonly seq: number
  readonly eventId: string
  readonly attempts: number
  readonly state: DeliveryState
  readonly nextAttemptAt: number | null
  readonly lastError: string | null
  readonly lastErrorStack: string | null
  readonly firstFailedAt: number | null
  readonly lastFailedAt: number | null
}

/** An event a group gave up on after its attempts were exhausted. */
export interface DeadLetter {
  readonly group: string
  readonly topic: string
  readonly seq: number
  readonly eventId: string
  readonly key: string | null
  readonly attempts: number
  readonly errorMessage: string
  readonly errorStack: string | null
  readonly firstFailedAt: number
  readonly lastFailedAt: number
  readonly deadAt: number
  /** With `onPoison: "hold"`, later events of the same key wait until this is requeued or dropped. */
  readonly holdsKey: boolean
}

/** Who consumes a group, and until when that claim holds. */
export interface GroupLease {
  readonly group: string
  readonly ownerSid: string | null
  readonly ownerPid: number | null
  readonly ownerHost: string | null
  readonly expiresAt: number | null
}

/**
 * A process consuming a partitioned group: it joined at `joinedAt` and raises `beats` while it
 * lives (its heartbeat). Liveness is judged by watching `beats` rise, on the watcher's own
 * monotonic clock, never by comparing the stored times with another clock.
 */
export interface GroupMember {
  readonly group: string
  readonly member: string
  readonly pid: number | null
  readonly host: string | null
  readonly beats: number
  readonly joinedAt: number
  readonly updatedAt: number
}

/** A topic's stored settings. */
export interface TopicRecord {
  readonly name: string
  readonly config: Json
  readonly createdAt: number
  readonly updatedAt: number
}

/** What a topic holds: its events (count, first and last seq, last publish time). */
export interface TopicStats {
  readonly topic: string
  readonly events: number
  readonly firstSeq: number | null
  readonly lastSeq: number | null
  readonly lastTs: number | null
}

/** A group's position on one of its topics, with its lease and the work it has outstanding. */
export interface GroupPosition {
  readonly cursor: Cursor
  /** The partition, for a unit of a partitioned group (its cursor named by the group). */
  readonly partition?: number | undefined
  readonly lease: GroupLease | undefined
  /** Events with recorded failed attempts that are not dead letters (retrying or waiting). */
  readonly retrying: number
  readonly deadLetters: number
  /**
   * Events retention deleted before the group had processed them (only topics configured with
   * `retainUntilConsumed: false` do that); the group went on from the oldest remaining event.
   */
  readonly skipped: number
}
