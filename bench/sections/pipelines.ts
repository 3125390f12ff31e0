/**
 * The pipelines section: handlers publishing follow-ups (vs the no-op handler, and vs raw SQL
 * doing the same), the outbox relay, and compaction's lock holds.
 */
import { compactionBench } from "../compaction.ts"
import { alternate, fmt, n, quick, ratioRow, type Row } from "../harness.ts"
import { outboxBaseline, outboxRelayRate } from "../outbox.ts"
import { rawInsert, rawReadPublish } from "../raw.ts"
import { consume, consumeAndPublish } from "../sibus.ts"

export const pipelinesSection = async (): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  const backlog = n(100_000)
  /** Rounds on fresh files holding the same backlog (100 keys): baseline, then sibus. */
  const onBacklog = async (
    name: string,
    target: number,
    baseline: (file: string) => number | Promise<number>,
    ours: (file: string) => Promise<number>
  ) => {
    const m = await alternate(async (f) => {
      rawInsert(f, backlog, 1000, 100)
      return baseline(f)
    }, async (f) => {
      rawInsert(f, backlog, 1000, 100)
      return ours(f)
    })
    rows.push({
      name, raw: fmt(m.baseline), sibus: fmt(m.ours), ratio: `${m.ratio.toFixed(2)} x`, target: `>= ${target} x`, ok: m.ratio >= target
    })
    console.error(`${name}: baseline ${fmt(m.baseline)}, sibus ${fmt(m.ours)}, ratio ${m.ratio.toFixed(2)}`)
  }
  for (const ordering of ["none", "key"] as const) {
    const options = { ordering, batchSize: 1000 }
    await onBacklog(
      `a handler publishing one follow-up per event, ordering ${ordering}, ${backlog / 1000}k backlog (vs the no-op handler of the same group)`,
      0.5, (f) => consume(f, backlog, options), (f) => consumeAndPublish(f, backlog, options))
  }
  await onBacklog(
    `the same, ordering none (vs raw: paged read + parse, follow-up inserts and a cursor update in one transaction per 1000)`,
    0.5, (f) => rawReadPublish(f), (f) => consumeAndPublish(f, backlog, { ordering: "none", batchSize: 1000 }))
  await ratioRow(rows, "outbox relay: rows added beforehand, published into the bus and marked sent (vs raw inserts, 100-row transactions)", 0.25,
    (f) => outboxBaseline(f, n(20_000)), (f) => outboxRelayRate(f, n(20_000)))
  {
    const [events, keys] = quick ? [100_000, 1_000] : [1_000_000, 10_000]
    const f = await compactionBench(events, keys)
    const label = (x: number) => (x >= 1_000_000 ? `${x / 1_000_000}M` : `${x / 1000}k`)
    rows.push({
      name: `compaction of ${label(events)} events over ${label(keys)} keys (one pass, default settings): total time; peak write-lock hold`,
      raw: "-", sibus: `${(f.totalMs / 1000).toFixed(1)} s (${f.batches} transactions); peak hold ${f.peakLockMs.toFixed(1)} ms`,
      ratio: "-", target: "peak hold <= 50 ms", ok: f.peakLockMs <= 50
    })
    console.error(`compaction: ${(f.totalMs / 1000).toFixed(1)} s, peak hold ${f.peakLockMs.toFixed(1)} ms`)
  }
  return rows
}
