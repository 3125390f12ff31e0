/**
 * The (topic, key, seq) index holds keyed events only (migration 0006): each query that reads by
 * key must still be able to use it, on both dialects (a query the database could not match to the
 * partial index would scan the topic instead: compaction and `latestByKey` would slow down as the
 * topic grows). Checked on the query plans; Postgres is told to avoid sequential scans, as it
 * would choose on tables this small.
 */
import { assert, describe, it } from "@effect/vitest"
import SqliteDatabase from "better-sqlite3"
import { Effect, Layer } from "effect"
import { Kysely, PostgresDialect, SqliteDialect } from "kysely"
import pg from "pg"
import { openStore } from "../../src/store/open.ts"
import { makeStatements } from "../../src/store/queries.ts"
import type { Database } from "../../src/store/schema.ts"
import { sqliteStatements } from "../../src/store/sqlite/statements.ts"
import { postgresStatements } from "../../src/store/postgres/statements.ts"
import type { Template } from "../../src/store/template.ts"
import { postgresFactory, postgresUrl } from "../helpers/stores.ts"
import { tmpDb } from "../helpers/tmp.ts"

/** The statements that read by key, with values for their parameters. */
const keyed = (q: ReturnType<typeof makeStatements>): ReadonlyArray<readonly [string, Template<string>, Record<string, unknown>]> => [
  ["latestOfKey", q.latestOfKey, { topic: "t", key: "k1" }],
  ["latestOfKeys", q.latestOfKeys, { topic: "t", keys: JSON.stringify(["k1", "k2"]) }],
  ["keyScan", q.keyScan, { topic: "t", key: "", seq: 0, limit: 100 }],
  ["laterOfKey", q.laterOfKey, { topic: "t", key: "k1", seq: 1 }],
  ["earlierOfKey", q.earlierOfKey, { topic: "t", key: "k1", seq: 10 }]
]

const bindAll = (t: Template<string>, values: Record<string, unknown>) => t.slots.map((slot) => ("name" in slot ? values[slot.name] : slot.value))

describe("the keyed-events index (migration 0006)", () => {
  it.effect("SQLite: every query by key uses events_topic_key_seq", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      yield* Effect.scoped(Layer.build(openStore(filename)))
      const db = new SqliteDatabase(filename)
      try {
        const index = db.prepare("select sql from sqlite_master where name = 'events_topic_key_seq'").get() as { sql: string }
        assert.match(index.sql, /where "key" is not null/i)
        const q = makeStatements(new Kysely<Database>({ dialect: new SqliteDialect({ database: db }) }), sqliteStatements(new Kysely<Database>({ dialect: new SqliteDialect({ database: db }) })))
        for (const [name, t, values] of keyed(q)) {
          const plan = (db.prepare(`explain query plan ${t.sql}`).all(...bindAll(t, values)) as Array<{ detail: string }>).map((r) => r.detail).join("; ")
          assert.match(plan, /events_topic_key_seq/, `${name}: ${plan}`)
        }
      } finally {
        db.close()
      }
    }))

  it.live.skipIf(postgresUrl === undefined)("Postgres: every query by key can use events_topic_key_seq", () =>
    Effect.gen(function*() {
      const factory = postgresFactory(postgresUrl!)
      const location = factory.shared()
      const schema = new URL(location).searchParams.get("schema")!
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      yield* Effect.scoped(Layer.build(openStore(location)))
      const pool = new pg.Pool({ connectionString: postgresUrl!, max: 1, options: `-c search_path=${schema}` })
      yield* Effect.addFinalizer(() => Effect.promise(() => pool.end()))
      const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
      const q = makeStatements(kysely, postgresStatements(kysely))
      const client = yield* Effect.promise(() => pool.connect())
      yield* Effect.addFinalizer(() => Effect.sync(() => client.release()))
      yield* Effect.promise(() => client.query("set enable_seqscan = off"))
      for (const [name, t, values] of keyed(q)) {
        const rows = yield* Effect.promise(() => client.query(`explain ${t.sql}`, bindAll(t, values)))
        const plan = (rows.rows as Array<{ "QUERY PLAN": string }>).map((r) => r["QUERY PLAN"]).join("; ")
        assert.match(plan, /events_topic_key_seq/, `${name}: ${plan}`)
      }
    }).pipe(Effect.scoped))
})
