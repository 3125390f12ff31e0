/**
 * Compaction of a large compacted topic: `n` events over `keys` keys (1M over 10k by default, 100
 * versions of each key, interleaved) written with raw better-sqlite3 inserts into a sibus
 * database, then one pass of the sibus compactor (`Bus.compact` with the default maintenance
 * settings: batches of at most 1000 deletions aimed at 20 ms, resting as long as each batch and
 * its checkpoint took). Reports the pass's total time and the peak write-lock hold: the longest
 * single delete transaction (target <= 50 ms). `node bench/compaction.ts [--quick]
 * [--pause-ratio r]` runs it alone (--quick: 100k events over 1k keys; --pause-ratio 0: no rests).
 */
import { Effect } from "effect"
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Bus } from "../src/facade/Bus.ts"
import type { MaintenanceOptions } from "../src/runtime/Maintenance.ts"
import { freshDb, openRaw, removeDb, tmpRoot } from "./common.ts"
import { rawInsert } from "./raw.ts"
import { Store } from "../src/store/Store.ts"

export interface CompactionFigures {
  readonly events: number
  readonly keys: number
  readonly deleted: number
  readonly remaining: number
  readonly batches: number
  /** The whole pass, rests between batches included (ms). */
  readonly totalMs: number
  /** The longest single delete transaction (ms). */
  readonly peakLockMs: number
  /** Raw inserts while building the file (events/s), for scale. */
  readonly buildRate: number
}

const topic = "bench.state"

/** Builds the file and compacts it once; `maintenance` overrides the bus's defaults. */
export const compactionBench = async (n = 1_000_000, keys = 10_000, maintenance: MaintenanceOptions = {}): Promise<CompactionFigures> => {
  const file = await freshDb()
  try {
    const raw = openRaw(file)
    raw.prepare(`insert into topics (name, config, created_at, updated_at) values (?, ?, 0, 0)`).run(topic, JSON.stringify({ compaction: true }))
    raw.close()
    const buildRate = rawInsert(file, n, 1000, keys, topic)
    return await Effect.runPromise(Effect.gen(function*() {
      const bus = yield* Bus
      const [report] = yield* bus.compact(topic)
      const remaining = (yield* (yield* Store).admin.topicStats).find((s) => s.topic === topic)?.events ?? 0
      if (report === undefined || remaining !== keys || report.deleted !== n - keys) {
        throw new Error(`expected ${n - keys} deleted and ${keys} left, got ${report?.deleted} and ${remaining}`)
      }
      return {
        events: n, keys, deleted: report.deleted, remaining, batches: report.batches, totalMs: report.durationMs,
        peakLockMs: report.longestBatchMs, buildRate
      }
    }).pipe(Effect.scoped, Effect.provide(Bus.sqlite({ filename: file, maintenance: { ...maintenance, intervalMs: 3_600_000 } }))))
  } finally {
    removeDb(file)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick")
  const [n, keys] = quick ? [100_000, 1_000] : [1_000_000, 10_000]
  const pauseAt = process.argv.indexOf("--pause-ratio")
  const f = await compactionBench(n, keys, pauseAt === -1 ? {} : { pauseRatio: Number(process.argv[pauseAt + 1]) })
  rmSync(tmpRoot, { recursive: true, force: true })
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
  console.log(`compaction of ${n.toLocaleString("en-US")} events over ${keys.toLocaleString("en-US")} keys (built at ${Math.round(f.buildRate).toLocaleString("en-US")} raw inserts/s)`)
  console.log(`  deleted ${f.deleted.toLocaleString("en-US")}, kept ${f.remaining.toLocaleString("en-US")}, in ${f.batches} transactions`)
  console.log(`  total time ${s(f.totalMs)} (${Math.round(f.deleted / (f.totalMs / 1000)).toLocaleString("en-US")} deletions/s; rests between batches included unless --pause-ratio 0)`)
  console.log(`  peak write-lock hold ${f.peakLockMs.toFixed(1)} ms (target <= 50 ms)`)
}
