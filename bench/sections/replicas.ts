/**
 * The replicas section: one group's work over 1, 2 and 4 member processes, and the hand-off after
 * a kill -9.
 */
import { freshDb, median, percentile, removeDb } from "../common.ts"
import { quick, type Row } from "../harness.ts"
import { dropPgDb, freshPgDb, postgresBenchUrl } from "../postgres.ts"
import { rebalance, scaling } from "../replicas.ts"

export const replicasSection = async (): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  const events = quick ? 5000 : 20_000
  const dialects: Array<{ readonly name: string; readonly fresh: () => Promise<string>; readonly drop: (location: string) => Promise<void> | void }> = [
    { name: "SQLite", fresh: freshDb, drop: removeDb },
    ...(postgresBenchUrl === undefined ? [] : [{ name: "Postgres", fresh: () => freshPgDb(postgresBenchUrl!), drop: dropPgDb }])
  ]
  const on = async <A>(d: typeof dialects[number], f: (location: string) => Promise<A>): Promise<A> => {
    const location = await d.fresh()
    try {
      return await f(location)
    } finally {
      await d.drop(location)
    }
  }
  for (const d of dialects) {
    const rate: Record<number, number> = {}
    for (const n of [1, 2, 4]) {
      rate[n] = await on(d, (location) => scaling(location, n, events))
      console.error(`${d.name}: ${n} member(s), ${rate[n]!.toFixed(0)} events/s`)
    }
    for (const [n, target] of [[2, 1.8], [4, 3.2]] as const) {
      const ratio = rate[n]! / rate[1]!
      rows.push({
        name: `${d.name}: a group whose handler waits 5 ms, ${events / 1000}k events over 8 partitions, ${n} member processes (vs 1 member)`,
        raw: `${Math.round(rate[1]!)}/s`, sibus: `${Math.round(rate[n]!)}/s`, ratio: `${ratio.toFixed(2)} x`, target: `>= ${target} x`, ok: ratio >= target
      })
    }
    const { handoffMs, redelivered } = await on(d, (location) => rebalance(location, quick ? 3 : 7))
    const p50 = percentile(handoffMs, 50)
    const p99 = percentile(handoffMs, 99)
    console.error(`${d.name}: hand-off after kill -9 ${handoffMs.join(", ")} ms; redelivered ${redelivered.join(", ")}`)
    rows.push({
      name: `${d.name}: kill -9 of one of 2 members under a stream, until the other delivers from its partitions (${handoffMs.length} kills; leaseMs 1000)`,
      raw: "lease 1000 ms", sibus: `p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms; redelivered per hand-off: median ${median(redelivered)}, max ${Math.max(...redelivered)}`,
      ratio: `${(p99 / 1000).toFixed(2)} x lease`, target: "p99 <= 1 x lease", ok: p99 <= 1000
    })
  }
  return rows
}
