/**
 * Outbox relay throughput: `n` rows added to an outbox beforehand (the application's own SQLite
 * file, in transactions of 1000), then timed from starting a relay until it has published every
 * row into the bus (another file, keyless ~200-byte payloads, the relay's default batch of 100)
 * and marked it sent; rows/s. The baseline is raw better-sqlite3 inserting the same rows as
 * events into the bus's schema, in transactions of the same size. `node bench/outbox.ts [n]`
 * runs it alone: three alternating rounds, medians.
 */
import SqliteDatabase from "better-sqlite3"
import { Effect } from "effect"
import { Kysely, SqliteDialect } from "kysely"
import { rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { make } from "../src/outbox/Outbox.ts"
import { start } from "../src/outbox/Relay.ts"
import { Bus } from "../src/facade/Bus.ts"
import { freshDb, median, payload, removeDb, tmpRoot } from "./common.ts"
import { rawInsert } from "./raw.ts"
import { Store } from "../src/store/Store.ts"

/** The relay's batch: the baseline commits the same number of rows per transaction. */
export const relayBatch = 100

/** Raw inserts of `n` events into `file` (the bus's schema), `relayBatch` per transaction; rows/s. */
export const outboxBaseline = (file: string, n: number): number => rawInsert(file, n, relayBatch)

/**
 * Relays `n` rows from an outbox in `<file>.app.db` into the bus on `file`; rows/s, timed from
 * the relay's start until every row is marked sent (checked against the bus afterwards).
 */
export const outboxRelayRate = async (file: string, n: number): Promise<number> => {
  const appFile = `${file}.app.db`
  removeDb(appFile)
  const sqlite = new SqliteDatabase(appFile)
  sqlite.pragma("journal_mode = WAL")
  sqlite.pragma("synchronous = NORMAL")
  sqlite.pragma("busy_timeout = 5000")
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) })
  try {
    return await Effect.runPromise(Effect.gen(function*() {
      const outbox = yield* make({ db })
      for (let i = 0; i < n; i += 1000) {
        const messages: Array<{ topic: string; payload: unknown }> = []
        for (let j = i; j < Math.min(n, i + 1000); j++) messages.push({ topic: "bench", payload: payload(j) })
        yield* outbox.transaction((trx) => outbox.addAll(trx, messages))
      }
      const bus = yield* Bus
      const t0 = performance.now()
      const relay = yield* start(outbox, bus, { batchSize: relayBatch })
      while (relay.counters().sent < n) yield* Effect.sleep(1)
      const rate = n / ((performance.now() - t0) / 1000)
      yield* relay.stop
      const head = yield* (yield* Store).runtime.headSeq("bench")
      const stats = yield* outbox.stats
      if (head !== n || stats.sent !== n) throw new Error(`expected ${n} events and sent rows, found ${head} and ${stats.sent}`)
      return rate
    }).pipe(Effect.scoped, Effect.provide(Bus.sqlite({ filename: file }))))
  } finally {
    await db.destroy()
    removeDb(appFile)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const n = Number(process.argv[2] ?? 20_000)
  const bases: Array<number> = []
  const rates: Array<number> = []
  const ratios: Array<number> = []
  for (let round = 0; round < 3; round++) {
    const a = await freshDb()
    const base = outboxBaseline(a, n)
    removeDb(a)
    const b = await freshDb()
    const rate = await outboxRelayRate(b, n)
    removeDb(b)
    bases.push(base)
    rates.push(rate)
    ratios.push(rate / base)
  }
  rmSync(tmpRoot, { recursive: true, force: true })
  const fmt = (x: number) => `${Math.round(x).toLocaleString("en-US")} rows/s`
  console.log(`outbox relay, ${n} rows (vs raw inserts, ${relayBatch} per transaction; medians of 3 rounds)`)
  console.log(`  raw inserts:  ${fmt(median(bases))}`)
  console.log(`  outbox relay: ${fmt(median(rates))}`)
  console.log(`  ratio:        ${median(ratios).toFixed(2)} x`)
}
