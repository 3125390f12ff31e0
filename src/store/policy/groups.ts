/**
 * The programs that keep a consumer group's state beyond the commit: claiming its lease, creating
 * and moving its cursors, loading what a session resumes from, requeueing dead letters, and the
 * positions `sib groups` reports. Each runs as one transaction.
 */
import { all, get, type Program, run } from "../storeProgram.ts"
import type { Statements } from "../queries.ts"
import type { Cursor, Delivery, GroupPosition } from "../records.ts"
import {
  cursorOfRow, deadLetterOfRow, deliveryOfRow, deliveryParams, leaseOfRow, num
} from "../rows.ts"
import type { ConsumerGroupsTable, CursorsTable, DeadLettersTable, DeliveriesTable } from "../schema.ts"
import type { GroupSnapshot, LeaseClaim } from "../Store.ts"

/** A compare-and-set on the group's lease (the group row is created first when it is new). */
export function* claimLease(q: Statements, claim: LeaseClaim): Program<boolean> {
  yield run(q.ensureGroup, { group: claim.group, now: claim.now })
  const values = {
    group: claim.group, owner: claim.owner, pid: claim.pid, host: claim.host, expiresAt: claim.expiresAt, now: claim.now
  }
  const changed = claim.expectedOwner === null
    ? (yield run(q.claimLeaseFromNobody, values)) as number
    : (yield run(q.claimLeaseFrom, { ...values, expected: claim.expectedOwner })) as number
  return changed === 1
}

export function* getCursor(q: Statements, group: string, topic: string): Program<Cursor | undefined> {
  const row = (yield get(q.getCursor, { topic, group })) as CursorsTable | undefined
  return row === undefined ? undefined : cursorOfRow(row)
}

/** Creates the cursor at `floor` unless it exists; answers the stored one. */
export function* initCursor(q: Statements, group: string, topic: string, floor: number, now: number): Program<Cursor> {
  yield run(q.insertCursor, { topic, group, floor, now })
  return (yield* getCursor(q, group, topic))!
}

/**
 * Moves a cursor: its ack state starts over at `floor`, and the group's retries on the topic and
 * its dead letters above the floor are forgotten (those events will be delivered again). Requeued
 * dead letters stay: an operator asked for them.
 */
export function* setCursor(q: Statements, group: string, topic: string, floor: number, now: number): Program<void> {
  yield run(q.upsertCursor, { topic, group, floor, now })
  yield run(q.deleteTopicDeliveries, { group, topic })
  yield run(q.deleteDeadLettersAbove, { group, topic, floor })
}

/** What a group session resumes from, on the topics it consumes, read as one snapshot. */
export function* loadGroup(q: Statements, group: string, topics: ReadonlyArray<string>): Program<GroupSnapshot> {
  const leaseRow = (yield get(q.readLease, { group })) as ConsumerGroupsTable | undefined
  const cursors = new Map<string, Cursor>()
  for (const topic of topics) {
    const cursor = yield* getCursor(q, group, topic)
    if (cursor !== undefined) cursors.set(topic, cursor)
  }
  const wanted = new Set(topics)
  const deliveries = ((yield all(q.groupDeliveries, { group })) as ReadonlyArray<DeliveriesTable>).map(deliveryOfRow).filter((d) => wanted.has(d.topic))
  const deadLetterSeqs = ((yield all(q.groupDeadLetterSeqs, { group })) as ReadonlyArray<{ seq: number; topic: string }>)
    .filter((d) => wanted.has(d.topic)).map((d) => num(d.seq))
  const holds = ((yield all(q.groupHolds, { group })) as ReadonlyArray<DeadLettersTable>).map(deadLetterOfRow).filter((d) => wanted.has(d.topic))
  return { lease: leaseRow === undefined ? undefined : leaseOfRow(leaseRow), cursors, deliveries, deadLetterSeqs, holds }
}

/** Moves dead letters back to their group as `requeued` deliveries with no attempts. */
export function* requeue(q: Statements, group: string, seqs: ReadonlyArray<number> | "all"): Program<ReadonlyArray<Delivery>> {
  const rows: Array<DeadLettersTable> = []
  if (seqs === "all") {
    rows.push(...((yield all(q.groupDeadLetters, { group })) as ReadonlyArray<DeadLettersTable>))
  } else {
    for (const seq of seqs) {
      const row = (yield get(q.deadLetter, { group, seq })) as DeadLettersTable | undefined
      if (row !== undefined) rows.push(row)
    }
  }
  const out: Array<Delivery> = []
  for (const row of rows) {
    const dl = deadLetterOfRow(row)
    const delivery: Delivery = {
      group, topic: dl.topic, seq: dl.seq, eventId: dl.eventId, attempts: 0, state: "requeued",
      nextAttemptAt: null, lastError: dl.errorMessage, lastErrorStack: dl.errorStack,
      firstFailedAt: null, lastFailedAt: null
    }
    yield run(q.upsertDelivery, deliveryParams(delivery))
    yield run(q.deleteDeadLetter, { group, seq: dl.seq })
    out.push(delivery)
  }
  return out
}

/** Every stored cursor with its lease and its counts of retrying events and dead letters. */
export function* groupPositions(q: Statements): Program<ReadonlyArray<GroupPosition>> {
  function* counts(t: typeof q.retryingCounts): Program<Map<string, number>> {
    const out = new Map<string, number>()
    for (const r of ((yield all(t, {})) as ReadonlyArray<{ grp: string; topic: string; n: number }>)) out.set(`${r.grp}\u0000${r.topic}`, num(r.n))
    return out
  }
  const retrying = yield* counts(q.retryingCounts)
  const dead = yield* counts(q.deadLetterCounts)
  const rows = (yield all(q.allCursors, {})) as ReadonlyArray<CursorsTable & Omit<ConsumerGroupsTable, "grp" | "created_at" | "updated_at">>
  return rows.map((row) => ({
    cursor: cursorOfRow(row),
    lease: row.owner_sid === null ? undefined : leaseOfRow(row),
    retrying: retrying.get(`${row.grp}\u0000${row.topic}`) ?? 0,
    deadLetters: dead.get(`${row.grp}\u0000${row.topic}`) ?? 0,
    skipped: num(row.skipped)
  }))
}

/** What deleting a group removed. */
export interface GroupDeletion {
  readonly cursors: number
  readonly deliveries: number
  readonly deadLetters: number
}

/**
 * Deletes everything stored for `group` (cursors, delivery records, dead letters, its lease row),
 * provided its lease owner is still `expectedOwner` (read in the same transaction); undefined when
 * the owner changed in between, and nothing is deleted.
 */
export function* deleteGroup(q: Statements, group: string, expectedOwner: string | null): Program<GroupDeletion | undefined> {
  const owner = ((yield get(q.leaseOwner, { group })) as { owner_sid: string | null } | undefined)?.owner_sid ?? null
  if (owner !== expectedOwner) return undefined
  const cursors = (yield run(q.deleteGroupCursors, { group })) as number
  const deliveries = (yield run(q.deleteGroupDeliveries, { group })) as number
  const deadLetters = (yield run(q.deleteGroupDeadLetters, { group })) as number
  yield run(q.deleteGroupRow, { group })
  return { cursors, deliveries, deadLetters }
}
