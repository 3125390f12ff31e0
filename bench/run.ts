/**
 * `npm run bench`: every benchmark row, each measured as a ratio against raw better-sqlite3 doing
 * the same work in the same run (rounds alternate raw and sibus on fresh files; medians).
 * Prints a markdown table; `--write` also stores it in bench/RESULTS.md. `--quick` runs smaller.
 */
import { execFileSync } from "node:child_process"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { freshDb, median, percentile, removeDb, tmpRoot } from "./common.ts"
import { rawInsert, rawReadParse } from "./raw.ts"
import { consume, latency, publishBatches, publishConcurrent } from "./sibus.ts"

const quick = process.argv.includes("--quick")
const write = process.argv.includes("--write")
const rounds = quick ? 1 : 3
const scale = quick ? 0.2 : 1

interface Row {
  readonly name: string
  readonly raw: string
  readonly sibus: string
  readonly ratio: string
  readonly target: string
  readonly ok: boolean
}
const rows: Array<Row> = []
const fmt = (n: number) => (n >= 1000 ? `${Math.round(n / 1000)}k/s` : `${n.toFixed(0)}/s`)

const ratioRow = async (
  name: string,
  target: number,
  raw: (file: string) => number | Promise<number>,
  sibus: (file: string) => Promise<number>
) => {
  const raws: Array<number> = []
  const ours: Array<number> = []
  const ratios: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const a = await freshDb()
    const rr = await raw(a)
    removeDb(a)
    const b = await freshDb()
    const ss = await sibus(b)
    removeDb(b)
    raws.push(rr)
    ours.push(ss)
    ratios.push(ss / rr)
  }
  const ratio = median(ratios)
  rows.push({
    name, raw: fmt(median(raws)), sibus: fmt(median(ours)), ratio: `${ratio.toFixed(2)} x`,
    target: `>= ${target} x`, ok: ratio >= target
  })
  console.error(`${name}: raw ${fmt(median(raws))}, sibus ${fmt(median(ours))}, ratio ${ratio.toFixed(2)}`)
}

const n = (x: number) => Math.round(x * scale)

await ratioRow("64 concurrent publishers, each awaiting its publish (vs raw 1000-row transactions)", 0.6,
  (f) => rawInsert(f, n(100_000), 1000), (f) => publishConcurrent(f, n(100_000), 64))
await ratioRow("publishAll of 1000 (vs raw 1000-row transactions)", 0.8,
  (f) => rawInsert(f, n(100_000), 1000), (f) => publishBatches(f, n(100_000), 1000))
await ratioRow("one publisher awaiting each publish (vs raw 1 insert per transaction)", 0.7,
  (f) => rawInsert(f, n(20_000), 1), (f) => publishConcurrent(f, n(20_000), 1))

const backlog = n(200_000)
const consumeRow = async (name: string, target: number, options: Parameters<typeof consume>[2]) => {
  const raws: Array<number> = []
  const ours: Array<number> = []
  const ratios: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    const file = await freshDb()
    rawInsert(file, backlog, 1000, 100)
    const raw = rawReadParse(file).rate
    const ours1 = await consume(file, backlog, options)
    removeDb(file)
    raws.push(raw)
    ours.push(ours1)
    ratios.push(ours1 / raw)
  }
  const ratio = median(ratios)
  rows.push({ name, raw: fmt(median(raws)), sibus: fmt(median(ours)), ratio: `${ratio.toFixed(2)} x`, target: `>= ${target} x`, ok: ratio >= target })
  console.error(`${name}: raw ${fmt(median(raws))}, sibus ${fmt(median(ours))}, ratio ${ratio.toFixed(2)}`)
}
await consumeRow(`one group, no-op handler, ordering none, ${backlog / 1000}k backlog (vs raw paged read + parse)`, 0.3,
  { ordering: "none", batchSize: 1000 })
await consumeRow(`the same with ordering key over 100 keys`, 0.2, { ordering: "key", batchSize: 1000 })

{
  const file = await freshDb()
  const samples = await latency(file, quick ? 300 : 2000)
  removeDb(file)
  const p50 = percentile(samples, 50)
  const p99 = percentile(samples, 99)
  rows.push({
    name: "publish-to-handler latency, idle bus", raw: "-", sibus: `p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`,
    ratio: "-", target: "p50 <= 0.3 ms, p99 <= 2 ms", ok: p50 <= 0.3 && p99 <= 2
  })
  console.error(`latency: p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms`)
}

// Scale and memory run in child processes, so each has a clean heap and its own peak RSS.
const child = (script: string, args: Array<string>) =>
  JSON.parse(execFileSync(process.execPath, [join(import.meta.dirname, script), ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }))

{
  const small = child("scale.ts", [String(10_000), String(n(50_000))]) as { publish: number; consume: number }
  const large = child("scale.ts", [String(quick ? 200_000 : 1_000_000), String(n(50_000))]) as { publish: number; consume: number }
  const pub = small.publish / large.publish
  const con = small.consume / large.consume
  rows.push({
    name: `per-event cost with ${quick ? "200k" : "1M"} events stored vs 10k stored (publish; consume)`,
    raw: "-", sibus: `publish ${fmt(large.publish)} vs ${fmt(small.publish)}; consume ${fmt(large.consume)} vs ${fmt(small.consume)}`,
    ratio: `${pub.toFixed(2)} x; ${con.toFixed(2)} x`, target: "<= 1.25 x", ok: pub <= 1.25 && con <= 1.25
  })
  console.error(`scale: publish cost ${pub.toFixed(2)} x, consume cost ${con.toFixed(2)} x`)
}
{
  const file = await freshDb()
  rawInsert(file, quick ? 200_000 : 1_000_000, 1000, 100)
  const rss = child("rss.ts", [file]) as { peakMb: number; handled: number }
  removeDb(file)
  rows.push({
    name: `peak RSS, ${quick ? "200k" : "1M"}-event backlog, slow consumer`, raw: "-", sibus: `${rss.peakMb.toFixed(0)} MB (${rss.handled} handled)`,
    ratio: "-", target: "<= 200 MB", ok: rss.peakMb <= 200
  })
  console.error(`rss: ${rss.peakMb.toFixed(0)} MB`)
}

rmSync(tmpRoot, { recursive: true, force: true })

const command = `npm run bench${quick ? " -- --quick" : ""}`
const header = `| benchmark | raw better-sqlite3 | sibus | ratio | target | |\n| --- | --- | --- | --- | --- | --- |`
const table = [header, ...rows.map((r) => `| ${r.name} | ${r.raw} | ${r.sibus} | ${r.ratio} | ${r.target} | ${r.ok ? "met" : "MISSED"} |`)].join("\n")
const machine = `Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB; ${rounds} round(s), medians`
console.log(table)
if (write) {
  const file = join(import.meta.dirname, "RESULTS.md")
  const previous = (() => {
    try {
      return readFileSync(file, "utf8")
    } catch {
      return ""
    }
  })()
  const marker = "<!-- core -->"
  const notes = [
    "How each row is measured:",
    "- Raw baselines use the same schema (sibus's own migration), build the same rows (UUIDv7 id, JSON payload of about 200 bytes) and run one prepared statement on better-sqlite3 with WAL and synchronous=NORMAL.",
    "- The publish rows publish keyless events on both sides. With keys, every commit also writes the (topic, key, seq) index pages it touched, so 64-row transactions cost raw SQLite itself about 0.58 x of 1000-row ones on this machine: a limit of the schema, not of the runtime.",
    "- The consume rows read a backlog written beforehand (100 keys), with batchSize 1000; the raw row reads the same events in pages of 1000 and parses each payload.",
    "- Latency: one event at a time on an idle bus, from the publish call to the handler's first line; it includes two SQLite commits (the event, then the group's lease mark), about 60-100 us each on this disk.",
    "- Memory: the backlog is written by the parent process; the consumer process is measured alone (peak RSS, 16 handlers sleeping 1 ms each, 5 s, default Node flags). Its live heap stays near 45 MB; about 50 MB of the peak is V8's young generation growing to its default size under this allocation rate (with --max-semi-space-size=4 the peak is about 130 MB)."
  ].join("\n")
  const section = `${marker}\n## Core runtime\n\nProduced by \`${command}\` on ${new Date().toISOString().slice(0, 10)} (${machine}).\n\n${table}\n\n${notes}\n${marker}`
  const next = previous.includes(marker)
    ? previous.replace(new RegExp(`${marker}[\\s\\S]*?${marker}`), section)
    : `# Benchmark results\n\nEvery figure is measured against raw better-sqlite3 doing the same work in the same run.\n\n${section}\n`
  writeFileSync(file, next)
  // The README shows the same table (between its bench markers).
  const readme = join(import.meta.dirname, "..", "README.md")
  const text = readFileSync(readme, "utf8")
  const benchMarker = "<!-- bench -->"
  if (text.includes(benchMarker)) {
    writeFileSync(readme, text.replace(
      new RegExp(`${benchMarker}[\\s\\S]*?${benchMarker}`),
      `${benchMarker}\nCore runtime, from \`${command}\` (${machine}):\n\n${table}\n${benchMarker}`
    ))
  }
}
