/**
 * Compaction and retention steps on SQLite (the contract is in `../maintenance.ts`). Each step is
 * one `BEGIN IMMEDIATE` transaction that reads the slowest cursor, dead letters and delivery rows
 * itself, so a cursor moved or a dead letter stored a moment before is honoured. Steps are bounded
 * by their `limit`: the write lock is held for one step, never for a whole pass.
 *
 * A step's commit skips SQLite's automatic WAL checkpoint (deletions dirty many pages, so nearly
 * every step would end in one); the caller runs `checkpoint` after the step instead. The automatic
 * checkpoint also runs after the write lock is released, so this changes what a step's duration
 * measures (the lock hold alone), not what other writers wait for.
 */
import type SqliteDatabase from "better-sqlite3"
import type { CompactPosition, CompactStep, CompactStepResult, PruneStep, PruneStepResult } from "../maintenance.ts"
import type { Queries } from "../queries.ts"
import type { SeqRanges } from "../records.ts"
import { decodeRanges, num } from "../rows.ts"
import { bind, type Template } from "../template.ts"

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

export const makeMaintenance = (
  db: SqliteDatabase.Database,
  q: Queries,
  stmt: (t: Template<string>) => SqliteDatabase.Statement
) => {
  const get = <R, P extends string>(t: Template<P>, values: { readonly [K in P]: unknown }) =>
    stmt(t).get(bind(t, values)) as R | undefined
  const all = <R, P extends string>(t: Template<P>, values: { readonly [K in P]: unknown }) =>
    stmt(t).all(bind(t, values)) as Array<R>
  const deleteEvent = (seq: number) => stmt(q.deleteEvent).run(bind(q.deleteEvent, { seq }))

  const slowest = (topic: string): { readonly group: string; readonly floor: number } | undefined => {
    const row = get<{ grp: string; floor: number }, "topic">(q.slowestCursor, { topic })
    return row === undefined ? undefined : { group: row.grp, floor: num(row.floor) }
  }

  /** Whether a dead letter or a delivery row points to the event (delivery rows are few: off the happy path only). */
  const pinned = (topic: string): ((seq: number) => boolean) => {
    const deliveries = new Set(all<{ seq: number }, "topic">(q.topicDeliverySeqs, { topic }).map((r) => num(r.seq)))
    return (seq) => deliveries.has(seq) || get<{ seq: number }, "topic" | "seq">(q.deadLetterAt, { topic, seq }) !== undefined
  }

  const compact = db.transaction((step: CompactStep): CompactStepResult => {
    const { topic, limit } = step
    const slow = slowest(topic)
    const bound = slow?.floor ?? Number.POSITIVE_INFINITY
    const isPinned = pinned(topic)
    const scan = limit * scanFactor
    let superseded = 0
    let tombstones = 0
    let kept = 0
    let waiting = 0
    const result = (next: CompactPosition | undefined): CompactStepResult => ({
      superseded, tombstones, kept, waiting, slowestGroup: slow?.group, next
    })

    if (step.from.phase === "superseded") {
      const rows = all<{ key: string; seq: number }, "topic" | "key" | "seq" | "limit">(q.keyScan, {
        topic, key: step.from.key, seq: step.from.seq, limit: scan
      })
      // The last event examined so far: its key's latest unless a later one of the key follows.
      let prev: { key: string; seq: number } | undefined = step.from.seq > 0 ? { key: step.from.key, seq: step.from.seq } : undefined
      for (const row of rows) {
        const current = { key: row.key, seq: num(row.seq) }
        if (prev !== undefined && prev.key === current.key) {
          if (prev.seq > bound) waiting++
          else if (isPinned(prev.seq)) kept++
          else {
            deleteEvent(prev.seq)
            superseded++
          }
        }
        prev = current
        if (superseded >= limit) return result({ phase: "superseded", ...current })
      }
      return result(rows.length === scan && prev !== undefined ? { phase: "superseded", ...prev } : { phase: "tombstones", seq: 0 })
    }

    const rows = all<{ seq: number; key: string | null; ts: number }, "topic" | "after" | "limit">(q.tombstoneScan, {
      topic, after: step.from.seq, limit: scan
    })
    const cutoff = step.now - step.deleteRetentionMs
    for (const row of rows) {
      const seq = num(row.seq)
      // Tombstones come in seq order: the rest are above the slowest cursor too.
      if (seq > bound) return result(undefined)
      if (row.key === null || num(row.ts) > cutoff) continue
      const ofKey = { topic, key: row.key, seq }
      // Superseded (the first phase deletes it), or an older event of the key is still stored:
      // deleting the tombstone would bring that older value back as the key's latest.
      if (get(q.laterOfKey, ofKey) !== undefined || get(q.earlierOfKey, ofKey) !== undefined) continue
      if (isPinned(seq)) {
        kept++
        continue
      }
      deleteEvent(seq)
      tombstones++
      if (tombstones >= limit) return result({ phase: "tombstones", seq })
    }
    return result(rows.length === scan ? { phase: "tombstones", seq: num(rows[rows.length - 1]!.seq) } : undefined)
  })

  const prune = db.transaction((step: PruneStep): PruneStepResult => {
    const { topic, expiredBefore, expiredUpto } = step
    const slow = step.retainUntilConsumed ? slowest(topic) : undefined
    const cursors = step.retainUntilConsumed
      ? []
      : all<{ grp: string; floor: number; acked: string | null }, "topic">(q.topicCursors, { topic })
        .map((r) => ({ group: r.grp, floor: num(r.floor), acked: decodeRanges(r.acked), skipped: 0 }))
    const isPinned = pinned(topic)
    let deleted = 0
    let kept = 0
    const result = (next: number | undefined, waitingFor: string | undefined): PruneStepResult => {
      const skipped: Array<{ group: string; events: number }> = []
      for (const c of cursors) {
        if (c.skipped === 0) continue
        stmt(q.addSkipped).run(bind(q.addSkipped, { topic, group: c.group, count: c.skipped }))
        skipped.push({ group: c.group, events: c.skipped })
      }
      return { deleted, kept, skipped, waitingFor, next }
    }
    const rows = all<{ seq: number; ts: number }, "topic" | "after" | "limit">(q.seqScan, { topic, after: step.afterSeq, limit: step.limit })
    for (const row of rows) {
      const seq = num(row.seq)
      const expired = (expiredUpto !== undefined && seq <= expiredUpto) || (expiredBefore !== undefined && num(row.ts) < expiredBefore)
      if (!expired) return result(undefined, undefined)
      if (slow !== undefined && seq > slow.floor) return result(undefined, slow.group)
      if (isPinned(seq)) {
        kept++
        continue
      }
      deleteEvent(seq)
      deleted++
      for (const c of cursors) if (seq > c.floor && !inRanges(c.acked, seq)) c.skipped++
    }
    return result(rows.length === step.limit ? num(rows[rows.length - 1]!.seq) : undefined, undefined)
  })

  /** Runs `f` with the automatic checkpoint off, so the commit inside it does not checkpoint. */
  const withoutAutoCheckpoint = <A>(f: () => A): A => {
    const previous = db.pragma("wal_autocheckpoint", { simple: true }) as number
    db.pragma("wal_autocheckpoint = 0")
    try {
      return f()
    } finally {
      db.pragma(`wal_autocheckpoint = ${previous}`)
    }
  }

  return {
    compact: (step: CompactStep) => withoutAutoCheckpoint(() => compact.immediate(step)),
    prune: (step: PruneStep) => withoutAutoCheckpoint(() => prune.immediate(step)),
    /** Copies what the log holds into the database file without waiting for readers or writers. */
    checkpoint: () => {
      db.pragma("wal_checkpoint(PASSIVE)")
    }
  }
}
