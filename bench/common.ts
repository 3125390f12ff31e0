/**
 * Shared pieces of the benchmark: fresh database files with the sibus schema, ~200-byte payloads,
 * a plain UUIDv7 for the raw baselines, medians.
 */
import SqliteDatabase from "better-sqlite3"
import { Effect } from "effect"
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import * as Sqlite from "../src/store/sqlite/SqliteStore.ts"

export const tmpRoot = join(process.cwd(), ".bench-tmp")

let counter = 0
/** A new database file with the sibus schema (migrated by sibus itself). */
export const freshDb = async (): Promise<string> => {
  mkdirSync(tmpRoot, { recursive: true })
  const file = join(tmpRoot, `bench-${process.pid}-${counter++}.db`)
  for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true })
  await Effect.runPromise(Effect.scoped(Sqlite.make({ filename: file })))
  return file
}

export const removeDb = (file: string) => {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true })
}

/** A raw better-sqlite3 handle configured as sibus configures its own. */
export const openRaw = (file: string) => {
  const db = new SqliteDatabase(file)
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  db.pragma("busy_timeout = 5000")
  return db
}

/** A ~200-byte JSON payload. */
export const payload = (i: number) => ({
  orderId: `ord-${i}`,
  customer: { id: i % 1000, tier: "gold" },
  items: [{ sku: `sku-${i % 97}`, qty: (i % 5) + 1, price: 12.5 }, { sku: `sku-${i % 89}`, qty: 1, price: 99.99 }],
  note: "benchmark payload padding text"
})

const hex = (n: number, w: number) => n.toString(16).padStart(w, "0")
let lastMs = 0
let seqInMs = 0
/** UUIDv7 for the raw baseline (the same work sibus does per event). */
export const rawUuid = (): string => {
  const ms = Date.now()
  if (ms === lastMs) seqInMs++
  else {
    lastMs = ms
    seqInMs = 0
  }
  const r = () => Math.floor(Math.random() * 0x100000000)
  return `${hex(Math.floor(ms / 0x10000), 8)}-${hex(ms % 0x10000, 4)}-${hex(0x7000 | (seqInMs & 0xfff), 4)}-${hex(0x8000 | (r() & 0x3fff), 4)}-${hex(r() & 0xffff, 4)}${hex(r(), 8)}`
}

export const insertSql =
  `insert into "events" ("id", "ts", "topic", "key", "partition", "headers", "payload", "caused_by", "tags", "sid") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict ("id") do nothing`

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
