/** The Postgres section: sibus on Postgres against raw `pg` and pg-boss on the same server. */
import { median, percentile } from "../common.ts"
import { fmt, n, quick, rounds, type Row } from "../harness.ts"
import { liveLatency } from "../live.ts"
import { bossInsert, bossLatency, bossSend, bossWork } from "../pgboss.ts"
import { dropPgDb, freshPgDb, rawPgInsert, rawPgReadParse } from "../postgres.ts"
import { consume, publishBatches, publishConcurrent } from "../sibus.ts"
import { wakeup } from "../wakeup.ts"

export const postgresSection = async (url: string): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  /** One side of a round, run in a schema of its own that it drops after; events/s. */
  type Side = () => Promise<number>
  /** A side on a fresh sibus schema (migrated by sibus). */
  const onSchema = (f: (location: string) => Promise<number>): Side => async () => {
    const location = await freshPgDb(url)
    try {
      return await f(location)
    } finally {
      await dropPgDb(location)
    }
  }
  interface Baseline {
    readonly name: string
    /** Names the baseline in its column: "raw pg", "pg-boss". */
    readonly label: string
    readonly target: number
    readonly run: Side
  }
  /** Rates as `fmt`, with a decimal below 10k/s (pg-boss's `send` is about 1k/s). */
  const rate = (x: number) => (x >= 1000 && x < 10_000 ? `${(x / 1000).toFixed(1)}k/s` : fmt(x))
  /**
   * Rounds of every baseline then sibus, each on a fresh schema; a row per baseline with the
   * medians of both rates and of the per-round ratio (sibus / baseline).
   */
  const pgRows = async (ours: Side, baselines: ReadonlyArray<Baseline>) => {
    const bases = baselines.map((): Array<number> => [])
    const ratios = baselines.map((): Array<number> => [])
    const oursRates: Array<number> = []
    for (let r = 0; r < rounds; r++) {
      const round: Array<number> = []
      for (const b of baselines) round.push(await b.run())
      const o = await ours()
      oursRates.push(o)
      round.forEach((x, k) => {
        bases[k]!.push(x)
        ratios[k]!.push(o / x)
      })
    }
    baselines.forEach(({ label, name, target }, k) => {
      const base = median(bases[k]!)
      const ratio = median(ratios[k]!)
      rows.push({ name, raw: `${label} ${rate(base)}`, sibus: rate(median(oursRates)), ratio: `${ratio.toFixed(2)} x`, target: `>= ${target} x`, ok: ratio >= target })
      console.error(`${name}: ${label} ${rate(base)}, sibus ${rate(median(oursRates))}, ratio ${ratio.toFixed(2)}`)
    })
  }
  const events = n(50_000)
  const sendSeconds = quick ? 2 : 5
  await pgRows(onSchema((l) => publishConcurrent(l, events, 64)), [
    {
      name: "64 concurrent publishers, each awaiting its publish (vs raw pg: 1000-row inserts, one transaction each)",
      label: "raw pg", target: 0.6, run: onSchema((l) => rawPgInsert(l, events, 1000))
    },
    {
      name: `the same (vs pg-boss: \`send\` from 64 concurrent senders, each awaiting, for ${sendSeconds} s)`,
      label: "pg-boss", target: 20, run: () => bossSend(url, sendSeconds, 64)
    }
  ])
  await pgRows(onSchema((l) => publishBatches(l, events, 1000)), [
    { name: "publishAll of 1000 (vs raw pg: 1000-row inserts, one transaction each)", label: "raw pg", target: 0.8, run: onSchema((l) => rawPgInsert(l, events, 1000)) },
    { name: "the same (vs pg-boss: `insert` of 1000 jobs per call)", label: "pg-boss", target: 1, run: () => bossInsert(url, events, 1000) }
  ])
  const backlog = n(100_000)
  await pgRows(onSchema(async (l) => {
    await rawPgInsert(l, backlog, 1000)
    return consume(l, backlog, { ordering: "none", batchSize: 1000 })
  }), [
    {
      name: `one group, no-op handler, ${backlog / 1000}k backlog (vs raw pg: paged read + parse)`, label: "raw pg", target: 0.4,
      run: onSchema(async (l) => {
        await rawPgInsert(l, backlog, 1000)
        return rawPgReadParse(l)
      })
    },
    {
      name: `the same (vs pg-boss: \`work\` with a no-op handler draining ${backlog / 1000}k jobs)`, label: "pg-boss", target: 4,
      run: () => bossWork(url, backlog)
    }
  ])
  const latencySamples = quick ? 100 : 400
  /** p50 and p99 of cross-process latencies; p99 is infinite when an event never arrived. */
  const percentiles = (all: ReadonlyArray<number>) => {
    const samples = all.filter(Number.isFinite)
    return { p50: percentile(samples, 50), p99: samples.length < all.length ? Number.POSITIVE_INFINITY : percentile(samples, 99) }
  }
  const ms = ({ p50, p99 }: { p50: number; p99: number }) => `p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`
  {
    const boss = percentiles(await bossLatency(url, latencySamples, true))
    const bossPolled = percentiles(await bossLatency(url, latencySamples, false))
    const location = await freshPgDb(url)
    const ours = percentiles(await wakeup(location, latencySamples))
    await dropPgDb(location)
    rows.push({
      name: "publish-to-handler latency across two processes (LISTEN/NOTIFY)",
      raw: `pg-boss, NOTIFY: ${ms(boss)}; polling only: ${ms(bossPolled)}`,
      sibus: ms(ours), ratio: "-", target: "p50 <= 2 ms, p99 <= 10 ms", ok: ours.p50 <= 2 && ours.p99 <= 10
    })
    console.error(`postgres wake-up across processes: ${ms(ours)}; pg-boss with NOTIFY ${ms(boss)}, polling only ${ms(bossPolled)}`)
  }
  {
    const location = await freshPgDb(url)
    const live = percentiles(await liveLatency(location, latencySamples))
    await dropPgDb(location)
    rows.push({
      name: "live fan-out: a publish seen by a live subscriber (`rt.live`) in another process", raw: "-",
      sibus: ms(live), ratio: "-", target: "p99 <= 10 ms", ok: live.p99 <= 10
    })
    console.error(`postgres live fan-out across processes: ${ms(live)}`)
  }
  return rows
}
