/**
 * The Postgres section: sibus on a Postgres server against raw `pg` doing the same work on the
 * same schema (the physical limit there): multi-row inserts in one transaction per 1,000, and a
 * paged read that parses every payload. Each measurement gets a schema of its own, dropped after.
 * The server comes from SIB_BENCH_POSTGRES_URL (or SIB_TEST_POSTGRES_URL).
 */
import { Effect } from "effect"
import pg from "pg"
import * as Postgres from "../src/store/postgres/PostgresStore.ts"
import { payload, rawUuid } from "./common.ts"

export const postgresBenchUrl = process.env["SIB_BENCH_POSTGRES_URL"] ?? process.env["SIB_TEST_POSTGRES_URL"]

let schemas = 0

/** A new schema on the server with the sibus tables (migrated by sibus); its location URL. */
export const freshPgDb = async (url: string): Promise<string> => {
  const u = new URL(url)
  u.searchParams.set("schema", `sib_bench_${process.pid}_${++schemas}`)
  await Effect.runPromise(Effect.scoped(Postgres.make({ url: u.toString() })))
  return u.toString()
}

const connect = async (location: string) => {
  const u = new URL(location)
  const schema = u.searchParams.get("schema")!
  u.searchParams.delete("schema")
  const client = new pg.Client({ connectionString: u.toString(), options: `-c search_path=${schema}` })
  await client.connect()
  return { client, schema }
}

export const dropPgDb = async (location: string) => {
  const { client, schema } = await connect(location)
  await client.query(`drop schema if exists "${schema}" cascade`)
  await client.end()
}

/** Inserts `n` events in transactions of `batch` rows, one multi-row INSERT each; events/s. */
export const rawPgInsert = async (location: string, n: number, batch: number): Promise<number> => {
  const { client } = await connect(location)
  const t0 = performance.now()
  for (let i = 0; i < n; i += batch) {
    const values: Array<unknown> = []
    const rows: Array<string> = []
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const b = values.length
      rows.push(`($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5})`)
      values.push(rawUuid(), Date.now(), "bench", JSON.stringify(payload(j)), "raw")
    }
    await client.query("begin")
    await client.query(`insert into events (id, ts, topic, payload, sid) values ${rows.join(",")}`, values)
    await client.query("commit")
  }
  const rate = n / ((performance.now() - t0) / 1000)
  await client.end()
  return rate
}

/** Reads every event of `topic` in pages of `page`, parsing each payload; events/s. */
export const rawPgReadParse = async (location: string, topic = "bench", page = 1000): Promise<number> => {
  const { client } = await connect(location)
  let after = 0
  let count = 0
  let sink = 0
  const t0 = performance.now()
  while (true) {
    const { rows } = await client.query({
      text: `select seq, id, ts, topic, key, partition, headers, payload, caused_by, tags, sid from events where topic = $1 and seq > $2 order by seq limit $3`,
      values: [topic, after, page],
      rowMode: "array"
    })
    if (rows.length === 0) break
    for (const row of rows as Array<Array<unknown>>) {
      sink += (JSON.parse(row[7] as string) as { customer: { id: number } }).customer.id
      count++
    }
    after = Number(rows[rows.length - 1]![0])
  }
  const rate = count / ((performance.now() - t0) / 1000)
  await client.end()
  if (sink < 0) console.log(sink)
  return rate
}
