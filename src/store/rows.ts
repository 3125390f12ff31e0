/**
 * Row <-> record conversions shared by every dialect: snake_case columns and JSON text on one
 * side, the records of `records.ts` on the other. Numbers may arrive as strings or bigints from
 * some drivers (Postgres BIGINT); `num` normalizes them.
 */
import type { Cursor, DeadLetter, Delivery, DeliveryState, GroupLease, GroupMember, Json, SeqRanges, TopicRecord } from "./records.ts"
import type { ConsumerGroupsTable, CursorsTable, DeadLettersTable, DeliveriesTable, GroupMembersTable, TopicsTable } from "./schema.ts"

export const num = (v: unknown): number => (typeof v === "number" ? v : Number(v))
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v))

export const encodeRanges = (ranges: SeqRanges): string | null => (ranges.length === 0 ? null : JSON.stringify(ranges))
export const decodeRanges = (text: string | null): SeqRanges =>
  text === null ? [] : (JSON.parse(text) as ReadonlyArray<readonly [number, number]>)

export const cursorOfRow = (row: CursorsTable): Cursor => ({
  topic: row.topic,
  group: row.grp,
  floor: num(row.floor),
  acked: decodeRanges(row.acked),
  leasedUpto: num(row.leased_upto),
  updatedAt: num(row.updated_at),
  redelivered: num(row.redelivered)
})

export const leaseOfRow = (row: Pick<ConsumerGroupsTable, "grp" | "owner_sid" | "owner_pid" | "owner_host" | "lease_expires_at">): GroupLease => ({
  group: row.grp,
  ownerSid: row.owner_sid,
  ownerPid: numOrNull(row.owner_pid),
  ownerHost: row.owner_host,
  expiresAt: numOrNull(row.lease_expires_at)
})

export const memberOfRow = (row: GroupMembersTable): GroupMember => ({
  group: row.grp,
  member: row.member,
  pid: numOrNull(row.pid),
  host: row.host,
  beats: num(row.beats),
  joinedAt: num(row.joined_at),
  updatedAt: num(row.updated_at)
})

export const deliveryOfRow = (row: DeliveriesTable): Delivery => ({
  group: row.grp,
  topic: row.topic,
  seq: num(row.seq),
  eventId: row.event_id,
  attempts: num(row.attempts),
  state: row.state as DeliveryState,
  nextAttemptAt: numOrNull(row.next_attempt_at),
  lastError: row.last_error,
  lastErrorStack: row.last_error_stack,
  firstFailedAt: numOrNull(row.first_failed_at),
  lastFailedAt: numOrNull(row.last_failed_at)
})

export const deliveryParams = (d: Delivery) => ({
  group: d.group, seq: d.seq, topic: d.topic, eventId: d.eventId, attempts: d.attempts, state: d.state,
  nextAttemptAt: d.nextAttemptAt, lastError: d.lastError, lastErrorStack: d.lastErrorStack,
  firstFailedAt: d.firstFailedAt, lastFailedAt: d.lastFailedAt
})

export const deadLetterOfRow = (row: DeadLettersTable): DeadLetter => ({
  group: row.grp,
  topic: row.topic,
  seq: num(row.seq),
  eventId: row.event_id,
  key: row.key,
  attempts: num(row.attempts),
  errorMessage: row.error_message,
  errorStack: row.error_stack,
  firstFailedAt: num(row.first_failed_at),
  lastFailedAt: num(row.last_failed_at),
  deadAt: num(row.dead_at),
  holdsKey: num(row.holds_key) === 1
})

export const deadLetterParams = (d: DeadLetter) => ({
  group: d.group, seq: d.seq, topic: d.topic, eventId: d.eventId, key: d.key, attempts: d.attempts,
  errorMessage: d.errorMessage, errorStack: d.errorStack, firstFailedAt: d.firstFailedAt,
  lastFailedAt: d.lastFailedAt, deadAt: d.deadAt, holdsKey: d.holdsKey ? 1 : 0
})

export const topicOfRow = (row: TopicsTable): TopicRecord => ({
  name: row.name,
  config: JSON.parse(row.config) as Json,
  createdAt: num(row.created_at),
  updatedAt: num(row.updated_at)
})
