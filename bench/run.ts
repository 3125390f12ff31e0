/**
 * `npm run bench`: every benchmark row, each measured as a ratio against a baseline doing the same
 * work in the same run (core rows: raw better-sqlite3, rounds alternating on fresh files; language
 * rows: lexing the same text, and the same handler written in TypeScript; start-up rows: `node -e 0`;
 * Postgres rows: raw `pg` and pg-boss on the same server).
 * Medians. Prints markdown tables; `--write` also stores them in bench/RESULTS.md and the README.
 * `--quick` runs smaller; `--only core`, `--only language`, `--only pipelines`, `--only startup` or
 * `--only postgres` (with SIB_BENCH_POSTGRES_URL or SIB_TEST_POSTGRES_URL set), `--only replicas`
 * (SQLite, and Postgres when a server is given) or `--only performance` runs one section. Each
 * section is a module of `sections/`; the shared measuring is `harness.ts`.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { cpus, totalmem } from "node:os"
import { join } from "node:path"
import { tmpRoot } from "./common.ts"
import { quick, rounds, type Row } from "./harness.ts"
import { coreNotes, languageNotes, performanceNotes, pipelineNotes, postgresNotes, replicaNotes, startupNotes } from "./notes.ts"
import { postgresBenchUrl } from "./postgres.ts"
import { coreSection } from "./sections/core.ts"
import { languageSection } from "./sections/language.ts"
import { performanceSection } from "./sections/performance.ts"
import { pipelinesSection } from "./sections/pipelines.ts"
import { postgresSection } from "./sections/postgres.ts"
import { replicasSection } from "./sections/replicas.ts"
import { startupSection } from "./sections/startup.ts"

const write = process.argv.includes("--write")
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined
const sectionNames = ["core", "language", "pipelines", "startup", "postgres", "replicas", "performance"]
if (only !== undefined && !sectionNames.includes(only)) throw new Error(`--only takes ${sectionNames.join(", ")}, not ${only}`)
const runs = (name: string) => only === undefined || only === name

const core: Array<Row> = runs("core") ? await coreSection() : []
const language: Array<Row> = runs("language") ? await languageSection() : []
const pipelines: Array<Row> = runs("pipelines") ? await pipelinesSection() : []
// Postgres runs when a server is given (SIB_BENCH_POSTGRES_URL or SIB_TEST_POSTGRES_URL).
const postgresRows: Array<Row> = runs("postgres") && postgresBenchUrl !== undefined ? await postgresSection(postgresBenchUrl) : []
const startupRows: Array<Row> = runs("startup") ? await startupSection() : []
const replicaRows: Array<Row> = runs("replicas") ? await replicasSection() : []
const performanceRows: Array<Row> = runs("performance") ? await performanceSection() : []

rmSync(tmpRoot, { recursive: true, force: true })

const command = `npm run bench${quick ? " -- --quick" : ""}${only === undefined ? "" : ` -- --only ${only}`}`.replace(" -- --quick -- ", " -- --quick ")
const tableOf = (baseline: string, rs: ReadonlyArray<Row>) =>
  [
    `| benchmark | ${baseline} | sibus | ratio | target | |`,
    "| --- | --- | --- | --- | --- | --- |",
    ...rs.map((r) => `| ${r.name} | ${r.raw} | ${r.sibus} | ${r.ratio} | ${r.target} | ${r.ok ? "met" : "MISSED"} |`)
  ].join("\n")
const machine = `Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? "cpu"}, ${Math.round(totalmem() / 2 ** 30)} GiB; ${rounds} round(s), medians`
const date = new Date().toISOString().slice(0, 10)

const sections = [
  { marker: "<!-- core -->", title: "Core runtime", baseline: "raw better-sqlite3", rows: core, notes: coreNotes },
  { marker: "<!-- language -->", title: "Language", baseline: "baseline", rows: language, notes: languageNotes },
  { marker: "<!-- pipelines -->", title: "Transactional pipelines and maintenance", baseline: "baseline", rows: pipelines, notes: pipelineNotes },
  { marker: "<!-- startup -->", title: "CLI start-up", baseline: "node -e 0", rows: startupRows, notes: startupNotes },
  { marker: "<!-- postgres -->", title: "Postgres", baseline: "baseline", rows: postgresRows, notes: postgresNotes },
  { marker: "<!-- replicas -->", title: "One group over several processes", baseline: "1 member", rows: replicaRows, notes: replicaNotes },
  { marker: "<!-- performance -->", title: "Steady consume, the Promise API, batches and latency", baseline: "baseline", rows: performanceRows, notes: performanceNotes }
].filter((section) => section.rows.length > 0)

for (const section of sections) console.log(`${section.title}\n\n${tableOf(section.baseline, section.rows)}\n`)

if (write) {
  const file = join(import.meta.dirname, "RESULTS.md")
  let results = (() => {
    try {
      return readFileSync(file, "utf8")
    } catch {
      return "# Benchmark results\n\nEvery figure is measured against a baseline doing the same work in the same run.\n"
    }
  })()
  for (const { baseline, marker, notes, rows: rs, title } of sections) {
    const block = `${marker}\n## ${title}\n\nProduced by \`${command}\` on ${date} (${machine}).\n\n${tableOf(baseline, rs)}\n\n${notes}\n${marker}`
    results = results.includes(marker)
      ? results.replace(new RegExp(`${marker}[\\s\\S]*?${marker}`), block)
      : `${results.trimEnd()}\n\n${block}\n`
  }
  writeFileSync(file, results)
  // The README shows the same tables (between its bench markers), taken from RESULTS.md.
  const readme = join(import.meta.dirname, "..", "README.md")
  const text = readFileSync(readme, "utf8")
  const benchMarker = "<!-- bench -->"
  const tables = [...results.matchAll(/<!-- (core|language|pipelines|startup|postgres|replicas|performance) -->\n## ([^\n]+)\n\nProduced by (`[^`]+`) on \S+ \((.*)\)\.\n\n(\|[\s\S]*?)\n\n/g)]
    .map((m) => `${m[2]}, from ${m[3]} (${m[4]}):\n\n${m[5]}`)
  if (text.includes(benchMarker)) {
    writeFileSync(readme, text.replace(new RegExp(`${benchMarker}[\\s\\S]*?${benchMarker}`), `${benchMarker}\n${tables.join("\n\n")}\n${benchMarker}`))
  }
}
