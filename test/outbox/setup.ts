/** Shared pieces of the outbox tests: the application's database as Kysely, waiting on real I/O. */
import SqliteDatabase from "better-sqlite3"
import { Effect } from "effect"
import { Kysely, SqliteDialect } from "kysely"
import { settle } from "../helpers/recorder.ts"

/** A Kysely on a SQLite file, as an application would open it; destroyed with the scope. */
export const openApp = (file: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const sqlite = new SqliteDatabase(file)
      sqlite.pragma("journal_mode = WAL")
      sqlite.pragma("busy_timeout = 5000")
      return new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) })
    }),
    (db) => Effect.promise(() => db.destroy())
  )

/** The application's business table. */
export const createOrders = (db: Kysely<any>) =>
  Effect.promise(() =>
    db.schema.createTable("orders").ifNotExists()
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("total", "integer", (c) => c.notNull())
      .execute()
  )

/** Real time for promises and other connections to progress (the test clock does not move). */
export const tick = Effect.andThen(settle, Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2))))

/** Lets real work proceed until `check` holds (fails after about 5 s of real time). */
export const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if (yield* check) return
      yield* tick
    }
    return yield* Effect.die(new Error(`timed out waiting until ${what}`))
  })

/** Rows of the outbox table, by id. */
export const rows = (db: Kysely<any>, table = "sib_outbox") =>
  Effect.promise(() => db.selectFrom(table).selectAll().orderBy("id").execute())
