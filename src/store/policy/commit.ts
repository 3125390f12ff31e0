/**
 * The commit of a `WriteBatch`, as one program (see `../Store.ts` for the contract): appends,
 * then every group write fenced by the lease read inside the transaction, ack writes merged into
 * the stored cursor, and lease marks raised over this batch's appends.
 *
 * It runs once per group commit, so it stays flat: one generator, statements yielded directly.
 */
import { addDone, unionDone } from "../ackRanges.ts"
import { append, type EventRows, events, get, type Program, run } from "../storeProgram.ts"
import type { Statements } from "../queries.ts"
import type { AppendResult, CommitResult, ProgressWrite, WriteBatch } from "../Store.ts"
import type { CursorsTable } from "../schema.ts"
import { cursorOfRow, deadLetterParams, deliveryParams, encodeRanges } from "../rows.ts"
import { IdTaken } from "../storeErrors.ts"

export function* commitBatch(q: Statements, batch: WriteBatch): Program<CommitResult> {
  const appended: Array<AppendResult> = []
  if (batch.appends.length > 0) {
    const seqs = (yield append(batch.appends)) as ReadonlyArray<number | undefined>
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]
      if (seq !== undefined) {
        appended.push({ seq, existing: undefined })
      } else {
        const draft = batch.appends[i]!
        const existing = ((yield events(q.eventById, { id: draft.id })) as EventRows).events[0]!
        if (existing.topic !== draft.topic) {
          // An event this very batch inserted (rolled back with it) is named by its topic alone.
          throw new IdTaken(draft.id, draft.topic, { topic: existing.topic, seq: seqs.includes(existing.seq) ? undefined : existing.seq })
        }
        appended.push({ seq: existing.seq, existing })
      }
    }
  }
  const leases = batch.leases ?? []
  const acks = batch.acks ?? []
  const progress: ReadonlyArray<ProgressWrite> = batch.progressNow === undefined ? batch.progress : [...batch.progress, ...batch.progressNow()]
  if (progress.length === 0 && acks.length === 0 && batch.deliveries.length === 0 && batch.deadLetters.length === 0 && leases.length === 0) {
    return { appended, fenced: [] }
  }

  // The lease owner of every group this batch writes for, read first, inside the transaction.
  const owners = new Map<string, string | null>()
  const groups = [
    ...progress.map((p) => p.group), ...acks.map((a) => a.group), ...leases.map((l) => l.group),
    ...batch.deliveries.map((w) => (w._tag === "upsert" ? w.delivery.group : w.group)), ...batch.deadLetters.map((w) => w.deadLetter.group)
  ]
  for (const group of groups) {
    if (owners.has(group)) continue
    owners.set(group, ((yield get(q.leaseOwner, { group })) as { owner_sid: string | null } | undefined)?.owner_sid ?? null)
  }
  const fenced = new Set<string>()
  const holds = (group: string, owner: string): boolean => {
    if (owners.get(group) === owner) return true
    fenced.add(group)
    return false
  }

  for (const p of progress) {
    if (!holds(p.group, p.owner)) continue
    // Merged with the stored cursor, never lowering it: an ack stored by a handler transaction
    // whose commit landed though its answer was lost (a connection dropped in COMMIT) is not in
    // the owner's memory, and overwriting would make its event run again.
    const row = (yield get(q.getCursor, { topic: p.topic, group: p.group })) as CursorsTable | undefined
    const done = row === undefined ? p : unionDone(p.floor, p.acked, cursorOfRow(row))
    yield run(q.writeProgress, {
      topic: p.topic, group: p.group, floor: done.floor, acked: encodeRanges(done.acked), leasedUpto: p.leasedUpto, redelivered: p.redelivered ?? null, now: batch.now
    })
  }

  if (acks.length > 0) {
    const seqsByCursor = new Map<string, { group: string; topic: string; seqs: Array<number> }>()
    for (const a of acks) {
      // Appends in this batch may be the acked event's publishes: without the ack they must not
      // exist either, so a fenced ack rolls the whole transaction back.
      if (!holds(a.group, a.owner)) {
        throw new Error(`group ${a.group} is consumed by another owner: its ack and the publishes that go with it were rolled back`)
      }
      const id = `${a.group}\u0000${a.topic}`
      let entry = seqsByCursor.get(id)
      if (entry === undefined) seqsByCursor.set(id, entry = { group: a.group, topic: a.topic, seqs: [] })
      entry.seqs.push(a.seq)
    }
    for (const { group, seqs, topic } of seqsByCursor.values()) {
      const row = (yield get(q.getCursor, { topic, group })) as CursorsTable | undefined
      if (row === undefined) continue
      const cursor = cursorOfRow(row)
      const done = addDone(cursor.floor, cursor.acked, seqs)
      yield run(q.writeProgress, {
        topic, group, floor: done.floor, acked: encodeRanges(done.acked), leasedUpto: Math.max(cursor.leasedUpto, done.floor),
        redelivered: cursor.redelivered, now: batch.now
      })
    }
  }

  for (const w of batch.deliveries) {
    if (w._tag === "upsert") {
      if (holds(w.delivery.group, w.owner)) yield run(q.upsertDelivery, deliveryParams(w.delivery))
    } else if (holds(w.group, w.owner)) {
      yield run(q.deleteDelivery, { group: w.group, seq: w.seq })
    }
  }
  for (const w of batch.deadLetters) {
    const d = w.deadLetter
    if (!holds(d.group, w.owner)) continue
    yield run(q.upsertDeadLetter, deadLetterParams(d))
    yield run(q.deleteDelivery, { group: d.group, seq: d.seq })
  }

  // Last, so that a progress write of this batch cannot lower what it raises.
  if (leases.length > 0) {
    const maxByTopic = new Map<string, number>()
    for (let i = 0; i < batch.appends.length; i++) {
      const a = appended[i]!
      if (a.existing !== undefined) continue
      const topic = batch.appends[i]!.topic
      if ((maxByTopic.get(topic) ?? 0) < a.seq) maxByTopic.set(topic, a.seq)
    }
    for (const l of leases) {
      const seq = maxByTopic.get(l.topic)
      if (seq !== undefined && holds(l.group, l.owner)) yield run(q.raiseLease, { topic: l.topic, group: l.group, seq, now: batch.now })
    }
  }
  return { appended, fenced: [...fenced] }
}
