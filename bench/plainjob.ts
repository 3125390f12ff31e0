/**
 * plainjob (a SQLite job queue on better-sqlite3) as the peer of the batch-publish row: `addMany`
 * of 1,000 jobs per call into a fresh file, with the settings it sets itself (WAL, synchronous
 * NORMAL, as sibus's). Jobs carry the same ~200-byte payload, serialized by its default
 * (`JSON.stringify`). Its maintenance timer is stopped (`close`) once the run is timed.
 */
import SqliteDatabase from "better-sqlite3"
import { better, defineQueue } from "plainjob"
import { payload } from "./common.ts"

/** `addMany` of `n` jobs in calls of `batch`; jobs/s. */
export const plainjobAddMany = (file: string, n: number, batch: number): number => {
  const db = new SqliteDatabase(file)
  const quiet = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} }
  const queue = defineQueue({ connection: better(db), logger: quiet })
  const t0 = performance.now()
  for (let i = 0; i < n; i += batch) {
    const data = []
    for (let j = i; j < Math.min(n, i + batch); j++) data.push(payload(j))
    queue.addMany("bench", data)
  }
  const seconds = (performance.now() - t0) / 1000
  const stored = queue.countJobs({ type: "bench" })
  queue.close()
  db.close()
  if (stored !== n) throw new Error(`plainjob stored ${stored} jobs, not ${n}`)
  return n / seconds
}
