/**
 * Store options (`Bus.open`, `createRuntime`, beside the bus's own): SQLite's durability, busy
 * timeout, log and cache sizes and an application's own connection, Postgres's pool size, and
 * opening read-only or only an existing database. Checked before the store opens, so a typo or a
 * value SQLite would take literally (`synchronous: "OFF"`) is refused instead of applied.
 */
import { boolean, custom, integer, invalid, oneOf, spec } from "./spec.ts"

const MiB = 1024 * 1024

export const storeSpec = spec("store", {
  synchronous: oneOf(["NORMAL", "FULL"], { default: "NORMAL", doc: "SQLite: NORMAL may lose the last transactions on power failure, never on a process crash; FULL syncs every commit." }),
  busyTimeoutMs: integer({ min: 0, unit: "milliseconds", default: 5000, doc: "SQLite: how long a write waits for another process's write lock." }),
  walLimitBytes: integer({ min: 0, default: 64 * MiB, defaultDoc: "64 MiB", doc: "SQLite: the size the write-ahead log is brought back to." }),
  pageCacheBytes: integer({ min: 64 * 1024, default: 4 * MiB, defaultDoc: "4 MiB", doc: "SQLite: the most memory the page cache may hold for the connection." }),
  database: custom("better-sqlite3 Database", { doc: "SQLite: an open connection to use instead of opening the location (its owner closes it)." }, (v, path) =>
    typeof v === "object" && v !== null && typeof (v as { prepare?: unknown }).prepare === "function" ? v : invalid(path, "an open better-sqlite3 connection", v)),
  readOnly: boolean({ default: false, doc: "Opens an existing sibus database for reading only: nothing is written to it." }),
  existing: boolean({ default: false, doc: "SQLite: opens only an existing sibus database (a missing file is not created)." }),
  maxConnections: integer({ min: 1, default: 10, doc: "Postgres: the pool's size." })
})
