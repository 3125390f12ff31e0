/**
 * What every bench section shares: the run's size (`--quick`), a row of the tables, and the ways
 * rows are measured (rounds alternating a baseline and sibus on fresh files; the idle latency row).
 */
import { freshDb, median, percentile, removeDb } from "./common.ts"
import { latency } from "./sibus.ts"

export const quick = process.argv.includes("--quick")
export const rounds = quick ? 1 : 3
const scale = quick ? 0.2 : 1
/** A count of events at this run's size. */
export const n = (x: number) => Math.round(x * scale)
/** The bench's folder (its scripts run as child processes from here). */
export const benchDir = import.meta.dirname

export interface Row {
  readonly name: string
  readonly raw: string
  readonly sibus: string
  readonly ratio: string
  readonly target: string
  readonly ok: boolean
}

export const fmt = (n: number) => (n >= 1000 ? `${Math.round(n / 1000)}k/s` : `${n.toFixed(0)}/s`)

/**
 * Rounds alternating a baseline and sibus, each on a fresh database file: the medians of both
 * rates and of their per-round ratio (ours / baseline).
 */
export const alternate = async (
  baseline: (file: string) => number | Promise<number>,
  ours: (file: string) => number | Promise<number>
) => {
  const bases: Array<number> = []
  const oursRates: Array<number> = []
  const ratios: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const a = await freshDb()
    const b0 = await baseline(a)
    removeDb(a)
    const b = await freshDb()
    const o = await ours(b)
    removeDb(b)
    bases.push(b0)
    oursRates.push(o)
    ratios.push(o / b0)
  }
  return { baseline: median(bases), ours: median(oursRates), ratio: median(ratios) }
}

/** A row of `alternate`'s medians into `rows`, against a ratio target. */
export const ratioRow = async (
  rows: Array<Row>,
  name: string,
  target: number,
  raw: (file: string) => number | Promise<number>,
  sibus: (file: string) => Promise<number>
) => {
  const m = await alternate(raw, sibus)
  rows.push({
    name, raw: fmt(m.baseline), sibus: fmt(m.ours), ratio: `${m.ratio.toFixed(2)} x`,
    target: `>= ${target} x`, ok: m.ratio >= target
  })
  console.error(`${name}: raw ${fmt(m.baseline)}, sibus ${fmt(m.ours)}, ratio ${m.ratio.toFixed(2)}`)
}

/** The idle publish-to-handler latency row, against p50 and p99 bars in ms (the core section's and the performance section's). */
export const idleLatencyRow = async (rows: Array<Row>, p50Bar: number, p99Bar: number) => {
  const file = await freshDb()
  const samples = await latency(file, quick ? 300 : 2000)
  removeDb(file)
  const p50 = percentile(samples, 50)
  const p99 = percentile(samples, 99)
  rows.push({
    name: "publish-to-handler latency, idle bus", raw: "-", sibus: `p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`,
    ratio: "-", target: `p50 <= ${p50Bar} ms, p99 <= ${p99Bar} ms`, ok: p50 <= p50Bar && p99 <= p99Bar
  })
  console.error(`idle latency: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`)
}
