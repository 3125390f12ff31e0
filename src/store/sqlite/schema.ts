/**
 * A SQLite file's schema as sibus sees it when opening: the migrations it has run (refusing a
 * newer version's), whether it is a sibus database at all, what a read-only open requires, and
 * migrating under the write lock (Kysely and the migrations load only then).
 */
import type SqliteDatabase from "better-sqlite3"
import * as Effect from "effect/Effect"
import { migrationNames } from "../migrations/names.ts"
import { describeCause, StoreOpenError } from "../storeErrors.ts"

/** The migrations the database has run (none when it has no migration table). */
const appliedMigrations = (db: SqliteDatabase.Database, location: string) =>
  Effect.try({
    try: () => {
      const table = db.prepare("select name from sqlite_master where type = 'table' and name = 'kysely_migration'").get()
      return table === undefined
        ? []
        : (db.prepare("select name from kysely_migration order by name").all() as Array<{ name: string }>).map((r) => r.name)
    },
    catch: (cause) => new StoreOpenError({ reason: "unreadable", location, detail: describeCause(cause) })
  })

/** Refuses a database that ran migrations this version does not have; answers those it has not run yet. */
export const pendingMigrations = (db: SqliteDatabase.Database, location: string) =>
  Effect.gen(function*() {
    const known = migrationNames("sqlite")
    const applied = yield* appliedMigrations(db, location)
    const unknown = applied.filter((name) => !known.includes(name))
    if (unknown.length > 0) {
      return yield* new StoreOpenError({ reason: "newer", location, detail: `unknown migrations: ${unknown.join(", ")}` })
    }
    return known.filter((name) => !applied.includes(name))
  })

/**
 * Refuses a file that is not a sibus database: one without the tables every sibus schema has
 * (another application's SQLite file, an empty file). Only reads.
 */
export const checkSibusTables = (db: SqliteDatabase.Database, location: string) =>
  Effect.gen(function*() {
    const tables = yield* Effect.try({
      try: () => new Set((db.prepare("select name from sqlite_master where type = 'table'").all() as Array<{ name: string }>).map((r) => r.name)),
      catch: (cause) => new StoreOpenError({ reason: "unreadable", location, detail: describeCause(cause) })
    })
    const required = ["kysely_migration", "events", "topics", "consumer_groups", "cursors", "deliveries", "dead_letters"]
    const missing = required.filter((t) => !tables.has(t))
    if (missing.length > 0) {
      return yield* new StoreOpenError({
        reason: "not-sibus", location,
        detail: tables.size === 0 ? "the file holds no tables" : `it has no ${missing.join(", ")} table${missing.length > 1 ? "s" : ""}`
      })
    }
  })

/**
 * What a read-only open requires: a sibus database migrated to exactly this version's schema (a
 * read-only open cannot migrate an older one).
 */
export const checkSibusSchema = (db: SqliteDatabase.Database, location: string, pending: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* checkSibusTables(db, location)
    if (pending.length > 0) {
      return yield* new StoreOpenError({
        reason: "older", location,
        detail: `it lacks migrations ${pending.join(", ")}; a command that writes (sib run, sib publish) upgrades it`
      })
    }
  })

/**
 * Migrates under the database's write lock (`BEGIN IMMEDIATE`), so processes opening a new file
 * at the same moment take turns: the second finds the migrations done instead of racing to create
 * the same tables. Kysely and the migrations load here, when a migration is pending.
 */
export const migrate = (db: SqliteDatabase.Database, location: string) =>
  Effect.tryPromise({
    try: async () => {
      const [{ Kysely, SqliteDialect }, { Migrator }, { migrationProvider }] = await Promise.all([
        import("kysely"), import("kysely/migration"), import("../migrations/index.ts")
      ])
      const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: db }) })
      db.exec("BEGIN IMMEDIATE")
      try {
        const result = await new Migrator({ db: kysely, provider: migrationProvider("sqlite"), disableTransactions: true }).migrateToLatest()
        db.exec(result.error === undefined ? "COMMIT" : "ROLLBACK")
        return result
      } catch (e) {
        if (db.inTransaction) db.exec("ROLLBACK")
        throw e
      }
    },
    catch: (cause) => new StoreOpenError({ reason: "migration", location, detail: describeCause(cause) })
  }).pipe(
    Effect.flatMap(({ error }) =>
      error === undefined
        ? Effect.void
        : Effect.fail(new StoreOpenError({ reason: "migration", location, detail: describeCause(error) }))
    )
  )
