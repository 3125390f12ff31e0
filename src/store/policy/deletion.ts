/**
 * Compaction and retention steps as programs (the contract is in `../maintenanceSteps.ts`). Each
 * step runs as one bulk write transaction that reads the slowest cursor, dead letters and delivery
 * rows itself, so a cursor moved or a dead letter stored a moment before is honoured. Steps are
 * bounded by their `limit`: the write lock is held for one step, never for a whole pass.
 */
import type { CompactPosition, CompactStep, CompactStepResult, PruneStep, PruneStepResult } from "../maintenanceSteps.ts"
import { all, get, type Program, run } from "../storeProgram.ts"
import type { Statements } from "../queries.ts"
import type { SeqRanges } from "../records.ts"
import { decodeRanges, num } from "../rows.ts"

/** Whether `seq` is inside one of the ascending, disjoint `ranges`. */
const inRanges = (ranges: SeqRanges, seq: number): boolean => {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    const [a, b] = ranges[mid]!
    if (seq < a) hi = mid - 1
    else if (seq > b) lo = mid + 1
    else return true
  }
  return false
}

/** Superseded events examined per deleted event allowed, at most, in one step. */
const scanFactor = 4

function* slowest(q: Statements, topic: string): Program<{ readonly group: string; readonly floor: number } | undefined> {
  const row = (yield get(q.slowestCursor, { topic })) as { grp: string; floor: number } | undefined
  return row === undefined ? undefined : { group: row.grp, floor: num(row.floor) }
}

/**
 * Whether a dead letter or a delivery row points to an event of `topic`: delivery rows are few
 * (off the happy path only) and read once; dead letters are probed per event.
 */
function* pinnedOn(q: Statements, topic: string): Program<(seq: number) => Program<boolean>> {
  const deliveries = new Set(((yield all(q.topicDeliverySeqs, { topic })) as ReadonlyArray<{ seq: number }>).map((r) => num(r.seq)))
  return function*(seq) {
    return deliveries.has(seq) || (yield get(q.deadLetterAt, { topic, seq })) !== undefined
  }
}

/**
 * One compaction step: first the superseded events of the topic's keys in (key, seq) order, then
 * the expired tombstones by seq.
 */
export function* compactStep(q: Statements, step: CompactStep): Program<CompactStepResult> {
  const { limit, topic } = step
  const slow = yield* slowest(q, topic)
  const bound = slow?.floor ?? Number.POSITIVE_INFINITY
  const isPinned = yield* pinnedOn(q, topic)
  const scan = limit * scanFactor
  let superseded = 0
  let tombstones = 0
  let kept = 0
  let waiting = 0
  let waitingUpto: number | undefined
  const result = (next: CompactPosition | undefined): CompactStepResult => ({
    superseded, tombstones, kept, waiting, slowestGroup: slow?.group, waitingUpto, next
  })

  if (step.from.phase === "superseded") {
    const rows = (yield all(q.keyScan, { topic, key: step.from.key, seq: step.from.seq, limit: scan })) as ReadonlyArray<{ key: string; seq: number }>
    // The last event examined so far: its key's latest unless a later one of the key follows.
    let prev: { key: string; seq: number } | undefined = step.from.seq > 0 ? { key: step.from.key, seq: step.from.seq } : undefined
    for (const row of rows) {
      const current = { key: row.key, seq: num(row.seq) }
      if (prev !== undefined && prev.key === current.key) {
        if (prev.seq > bound) {
          waiting++
          waitingUpto = Math.max(waitingUpto ?? 0, prev.seq)
        }
        else if (yield* isPinned(prev.seq)) kept++
        else {
          yield run(q.deleteEvent, { seq: prev.seq })
          superseded++
        }
      }
      prev = current
      if (superseded >= limit) return result({ phase: "superseded", ...current })
    }
    return result(rows.length === scan && prev !== undefined ? { phase: "superseded", ...prev } : { phase: "tombstones", seq: 0 })
  }

  const rows = (yield all(q.tombstoneScan, { topic, after: step.from.seq, limit: scan })) as ReadonlyArray<{ seq: number; key: string | null; ts: number }>
  const cutoff = step.now - step.deleteRetentionMs
  for (const row of rows) {
    const seq = num(row.seq)
    // Tombstones come in seq order: the rest are above the slowest cursor too.
    if (seq > bound) return result(undefined)
    if (row.key === null || num(row.ts) > cutoff) continue
    const ofKey = { topic, key: row.key, seq }
    // Superseded (the first phase deletes it), or an older event of the key is still stored:
    // deleting the tombstone would bring that older value back as the key's latest.
    if ((yield get(q.laterOfKey, ofKey)) !== undefined || (yield get(q.earlierOfKey, ofKey)) !== undefined) continue
    if (yield* isPinned(seq)) {
      kept++
      continue
    }
    yield run(q.deleteEvent, { seq })
    tombstones++
    if (tombstones >= limit) return result({ phase: "tombstones", seq })
  }
  return result(rows.length === scan ? { phase: "tombstones", seq: num(rows[rows.length - 1]!.seq) } : undefined)
}

/** One retention step: the oldest expired events, oldest first, from `afterSeq`. */
export function* pruneStep(q: Statements, step: PruneStep): Program<PruneStepResult> {
  const { expiredBefore, expiredUpto, topic } = step
  const slow = step.retainUntilConsumed ? yield* slowest(q, topic) : undefined
  const cursors = step.retainUntilConsumed
    ? []
    : ((yield all(q.topicCursors, { topic })) as ReadonlyArray<{ grp: string; floor: number; acked: string | null }>)
      .map((r) => ({ group: r.grp, floor: num(r.floor), acked: decodeRanges(r.acked), skipped: 0 }))
  const isPinned = yield* pinnedOn(q, topic)
  let deleted = 0
  let kept = 0
  function* result(next: number | undefined, waitingFor: string | undefined, blockedAt?: number): Program<PruneStepResult> {
    const skipped: Array<{ group: string; events: number }> = []
    for (const c of cursors) {
      if (c.skipped === 0) continue
      yield run(q.addSkipped, { topic, group: c.group, count: c.skipped })
      skipped.push({ group: c.group, events: c.skipped })
    }
    return { deleted, kept, skipped, waitingFor, blockedAt, next }
  }
  const rows = (yield all(q.seqScan, { topic, after: step.afterSeq, limit: step.limit })) as ReadonlyArray<{ seq: number; ts: number }>
  for (const row of rows) {
    const seq = num(row.seq)
    const expired = (expiredUpto !== undefined && seq <= expiredUpto) || (expiredBefore !== undefined && num(row.ts) < expiredBefore)
    if (!expired) return yield* result(undefined, undefined)
    if (slow !== undefined && seq > slow.floor) return yield* result(undefined, slow.group, seq)
    if (yield* isPinned(seq)) {
      kept++
      continue
    }
    yield run(q.deleteEvent, { seq })
    deleted++
    for (const c of cursors) if (seq > c.floor && !inRanges(c.acked, seq)) c.skipped++
  }
  return yield* result(rows.length === step.limit ? num(rows[rows.length - 1]!.seq) : undefined, undefined)
}

/** One purge step: deletes the oldest `limit` events of `topic` at or below `upto`; answers how many. */
export function* purgeStep(q: Statements, topic: string, upto: number, limit: number): Program<number> {
  return (yield run(q.deleteOldestEvents, { topic, upto, limit })) as number
}

/**
 * The end of a purge up to `upto`: the topic's delivery records and dead letters go (their events
 * are gone) and every cursor below `upto` moves up to it; with `forget`, its cursors and stored
 * settings go too (the topic is deleted).
 */
export function* finishPurge(q: Statements, topic: string, upto: number, now: number, forget: boolean): Program<void> {
  yield run(q.deleteTopicAllDeliveries, { topic })
  yield run(q.deleteTopicDeadLetters, { topic })
  if (forget) {
    yield run(q.deleteTopicCursors, { topic })
    yield run(q.deleteTopicRow, { topic })
  } else {
    yield run(q.raiseTopicCursors, { topic, upto, now })
  }
}
