/**
 * The performance section: the Promise API consume in fresh processes of the built package,
 * publishAll against raw and plainjob, and latency idle and under load.
 */
import { execFileSync } from "node:child_process"
import { join } from "node:path"
import { freshDb, median, percentile, removeDb } from "../common.ts"
import { alternate, benchDir, fmt, idleLatencyRow, n, quick, ratioRow, type Row } from "../harness.ts"
import { plainjobAddMany } from "../plainjob.ts"
import { rawInsert, rawReadParse } from "../raw.ts"
import { latencyUnderLoad, publishBatches } from "../sibus.ts"

export const performanceSection = async (): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  const backlog = n(100_000)
  // The consume processes run the built package, as users do: build it from these sources first.
  execFileSync("npm", ["run", "--silent", "build"], { cwd: join(benchDir, ".."), stdio: ["ignore", "ignore", "inherit"] })
  /** One consume of the backlog in a fresh process (bench/consumeProcess.js), by `api`, as `group`. */
  const consumeIn = (file: string, api: "promise" | "effect", group: string) =>
    JSON.parse(execFileSync(process.execPath, [join(benchDir, "consumeProcess.js"), file, String(backlog), api, group], {
      encoding: "utf8", stdio: ["ignore", "pipe", "inherit"]
    })) as { rate: number; peakMb: number }
  const runs = quick ? 3 : 10
  const raws: Array<number> = []
  const promised: Array<{ rate: number; peakMb: number }> = []
  const effects: Array<number> = []
  const apiRatios: Array<number> = []
  for (let r = 0; r < runs; r++) {
    const file = await freshDb()
    rawInsert(file, backlog, 1000, 100)
    raws.push(rawReadParse(file).rate)
    // The two APIs take turns going first; each reads the whole backlog as a group of its own.
    const order = r % 2 === 0 ? ["promise", "effect"] as const : ["effect", "promise"] as const
    const got: Record<string, { rate: number; peakMb: number }> = {}
    for (const api of order) got[api] = consumeIn(file, api, `${api}-${r}`)
    removeDb(file)
    promised.push(got["promise"]!)
    effects.push(got["effect"]!.rate)
    apiRatios.push(got["promise"]!.rate / got["effect"]!.rate)
    console.error(`consume round ${r + 1}: raw ${fmt(raws.at(-1)!)}, promise ${fmt(got["promise"]!.rate)} (${got["promise"]!.peakMb.toFixed(0)} MB), effect ${fmt(got["effect"]!.rate)}`)
  }
  {
    const rates = promised.map((p) => p.rate)
    const best = Math.max(...rates)
    const worst = Math.min(...rates)
    const ratio = median(rates) / median(raws)
    // The machine's own drift: raw's runs, one per round, spread as much when the machine's speed moves.
    const rawSpread = Math.min(...raws) / Math.max(...raws)
    rows.push({
      name: `consume, no-op handler, ${backlog / 1000}k backlog, through the Promise API, ${runs} runs each in a fresh process (vs raw paged read + parse)`,
      raw: `${fmt(median(raws))} (worst ${rawSpread.toFixed(2)} x the best)`,
      sibus: `median ${fmt(median(rates))}; best ${fmt(best)}, worst ${fmt(worst)} (${(worst / best).toFixed(2)} x the best)`,
      ratio: `${ratio.toFixed(2)} x`, target: ">= 0.5 x; every run >= 0.85 x the best", ok: ratio >= 0.5 && worst >= 0.85 * best
    })
    const apiRatio = median(apiRatios)
    rows.push({
      name: `the same consume, Promise API vs Effect API (each run's two processes on one backlog)`, raw: `Effect ${fmt(median(effects))}`,
      sibus: `Promise ${fmt(median(rates))}`, ratio: `${apiRatio.toFixed(2)} x`, target: ">= 0.9 x", ok: apiRatio >= 0.9
    })
    const peaks = promised.map((p) => p.peakMb)
    rows.push({
      name: "peak RSS of those Promise API consume processes (default Node flags)", raw: "-",
      sibus: `median ${median(peaks).toFixed(0)} MB, max ${Math.max(...peaks).toFixed(0)} MB`, ratio: "-", target: "<= 150 MB", ok: Math.max(...peaks) <= 150
    })
  }
  const events = n(100_000)
  await ratioRow(rows, "publishAll of 1000 (vs raw 1000-row transactions into the same schema)", 0.9,
    (f) => rawInsert(f, events, 1000), (f) => publishBatches(f, events, 1000))
  {
    const m = await alternate((f) => plainjobAddMany(f, events, 1000), (f) => publishBatches(f, events, 1000))
    rows.push({
      name: "publishAll of 1000 (vs plainjob 0.0.14 `addMany` of 1000 jobs, its own schema and settings)", raw: `plainjob ${fmt(m.baseline)}`,
      sibus: fmt(m.ours), ratio: `${m.ratio.toFixed(2)} x`, target: ">= 1 x", ok: m.ratio >= 1
    })
    console.error(`publishAll vs plainjob: plainjob ${fmt(m.baseline)}, sibus ${fmt(m.ours)}, ratio ${m.ratio.toFixed(2)}`)
  }
  await idleLatencyRow(rows, 0.15, 1)
  {
    const file = await freshDb()
    const { load, samples } = await latencyUnderLoad(file, quick ? 300 : 2000, 10_000)
    removeDb(file)
    const p50 = percentile(samples, 50)
    const p99 = percentile(samples, 99)
    rows.push({
      name: `the same under a background publish load (another topic, ${fmt(load)} achieved of 10k/s)`, raw: "-",
      sibus: `p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`, ratio: "-", target: "p99 <= 3 ms", ok: p99 <= 3 && load >= 9000
    })
    console.error(`latency under load (${fmt(load)}): p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`)
  }
  return rows
}
