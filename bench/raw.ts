/**
 * The physical limit: raw better-sqlite3 doing the same work as sibus (same schema, same rows,
 * UUIDv7 ids and JSON payloads built per event), with one prepared statement.
 */
import { insertSql, openRaw, payload, rawUuid } from "./common.ts"

/**
 * Inserts `n` events in transactions of `batch` rows; returns events per second. With `keys`,
 * events cycle through that many keys (each key is one more insertion point in the key index).
 */
export const rawInsert = (file: string, n: number, batch: number, keys = 0, topic = "bench"): number => {
  const db = openRaw(file)
  const insert = db.prepare(insertSql)
  const tx = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      insert.run(rawUuid(), Date.now(), topic, keys > 0 ? `k${i % keys}` : null, null, null, JSON.stringify(payload(i)), null, null, "raw")
    }
  })
  const t0 = performance.now()
  for (let i = 0; i < n; i += batch) tx.immediate(i, Math.min(n, i + batch))
  const seconds = (performance.now() - t0) / 1000
  db.close()
  return n / seconds
}

/** One page of a topic's events after a seq, as a consumer reads them. */
const readPageSql =
  `select "seq", "id", "ts", "topic", "key", "partition", "headers", "payload", "caused_by", "tags", "sid" from "events" where "topic" = ? and "seq" > ? order by "seq" limit ?`

/** Reads every event of `topic` in pages of `page`, parsing the payload; returns events per second. */
export const rawReadParse = (file: string, topic = "bench", page = 1000): { rate: number; count: number } => {
  const db = openRaw(file)
  const stmt = db.prepare(readPageSql).raw(true)
  let after = 0
  let count = 0
  let sink = 0
  const t0 = performance.now()
  while (true) {
    const rows = stmt.all(topic, after, page) as Array<Array<unknown>>
    if (rows.length === 0) break
    for (const row of rows) {
      const p = JSON.parse(row[7] as string) as { customer: { id: number } }
      sink += p.customer.id
      count++
    }
    after = rows[rows.length - 1]![0] as number
  }
  const seconds = (performance.now() - t0) / 1000
  db.close()
  if (sink < 0) console.log(sink)
  return { rate: count / seconds, count }
}

/**
 * The physical limit of a handler that publishes one follow-up per event: reads every event of
 * `topic` in pages of `page`, parses each payload and, in one transaction per page, inserts a
 * follow-up (same key and payload, caused_by the event) and advances a cursor row; events/s.
 */
export const rawReadPublish = (file: string, topic = "bench", page = 1000): number => {
  const db = openRaw(file)
  const read = db.prepare(readPageSql).raw(true)
  const insert = db.prepare(insertSql)
  db.exec(`create table if not exists "raw_cursor" ("name" text primary key, "floor" integer not null)`)
  const advance = db.prepare(`insert into "raw_cursor" ("name", "floor") values ('raw', ?) on conflict ("name") do update set "floor" = excluded."floor"`)
  const handle = db.transaction((rows: Array<Array<unknown>>) => {
    for (const row of rows) {
      const p = JSON.parse(row[7] as string) as unknown
      insert.run(rawUuid(), Date.now(), `${topic}.out`, row[4], null, null, JSON.stringify(p), row[1], null, "raw")
    }
    advance.run(rows[rows.length - 1]![0])
  })
  let after = 0
  let count = 0
  const t0 = performance.now()
  while (true) {
    const rows = read.all(topic, after, page) as Array<Array<unknown>>
    if (rows.length === 0) break
    handle.immediate(rows)
    count += rows.length
    after = rows[rows.length - 1]![0] as number
  }
  const seconds = (performance.now() - t0) / 1000
  db.close()
  return count / seconds
}
