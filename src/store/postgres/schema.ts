/**
 * A Postgres schema as sibus sees it when opening: created (if missing) and migrated, one process
 * at a time; the migrations it has run (refusing a newer version's); what a read-only open
 * requires. Tables are listed from pg_catalog, which shows those the role may not use, so a role
 * without rights is told permission is denied, not that the schema is not a sibus database.
 */
import * as Effect from "effect/Effect"
import type { Kysely } from "kysely"
import { Migrator } from "kysely/migration"
import type pg from "pg"
import { migrationProvider, migrations } from "../migrations/index.ts"
import type { Database } from "../schema.ts"
import { describeCause, StoreOpenError } from "../storeErrors.ts"
import { quoteIdent } from "./listener.ts"
import type { PostgresLocation } from "./location.ts"

export const openError = (location: PostgresLocation, reason: "unreadable" | "newer" | "migration" | "not-sibus" | "older", cause: unknown) =>
  new StoreOpenError({ reason, location: location.shown, detail: typeof cause === "string" ? cause : describeCause(cause) })

/**
 * Creates the schema (if missing) and migrates it, one process at a time (Kysely's migration lock).
 * A schema that exists and has every migration is only read: an application's role with rights on
 * sibus's tables, but not to create schemas or tables, opens it.
 */
export const migrate = (pool: pg.Pool, kysely: Kysely<Database>, location: PostgresLocation) =>
  Effect.tryPromise({
    try: async () => {
      const exists = (await pool.query("select 1 from pg_catalog.pg_namespace where nspname = $1", [location.schema])).rowCount !== 0
      if (!exists) await pool.query(`create schema if not exists ${quoteIdent(location.schema)}`)
      const applied = await appliedMigrations(pool, location.schema)
      const known = new Set(Object.keys(migrations("postgres")))
      const unknown = applied.filter((name) => !known.has(name))
      if (unknown.length > 0) return openError(location, "newer", `unknown migrations: ${unknown.join(", ")}`)
      if ([...known].every((name) => applied.includes(name))) return undefined
      const result = await new Migrator({ db: kysely, provider: migrationProvider("postgres"), migrationTableSchema: location.schema }).migrateToLatest()
      return result.error === undefined ? undefined : openError(location, "migration", result.error)
    },
    catch: (cause) => openError(location, "migration", cause)
  }).pipe(Effect.flatMap((e) => (e === undefined ? Effect.void : Effect.fail(e))))

/** The tables of `schema` (from the catalog: information_schema hides those the role may not use). */
const tablesOf = async (pool: pg.Pool, schema: string): Promise<Set<string>> =>
  new Set((await pool.query("select tablename from pg_catalog.pg_tables where schemaname = $1", [schema])).rows.map((r: { tablename: string }) => r.tablename))

const appliedMigrations = async (pool: pg.Pool, schema: string): Promise<Array<string>> => {
  if (!(await tablesOf(pool, schema)).has("kysely_migration")) return []
  return (await pool.query(`select name from ${quoteIdent(schema)}.kysely_migration order by name`)).rows.map((r: { name: string }) => r.name)
}

/** What a read-only open requires: sibus's tables, migrated to exactly this version. */
export const checkSibusSchema = (pool: pg.Pool, location: PostgresLocation) =>
  Effect.tryPromise({
    try: async () => {
      const tables = await tablesOf(pool, location.schema)
      const required = ["kysely_migration", "events", "topics", "consumer_groups", "cursors", "deliveries", "dead_letters", "changes"]
      const missing = required.filter((t) => !tables.has(t))
      if (missing.length > 0) {
        return openError(location, "not-sibus", tables.size === 0 ? "the schema holds no tables" : `it has no ${missing.join(", ")} table${missing.length > 1 ? "s" : ""}`)
      }
      const applied = await appliedMigrations(pool, location.schema)
      const known = Object.keys(migrations("postgres"))
      const unknown = applied.filter((name) => !known.includes(name))
      if (unknown.length > 0) return openError(location, "newer", `unknown migrations: ${unknown.join(", ")}`)
      const pending = known.filter((name) => !applied.includes(name))
      if (pending.length > 0) return openError(location, "older", `it lacks migrations ${pending.join(", ")}; a command that writes (sib run, sib publish) upgrades it`)
      return undefined
    },
    catch: (cause) => openError(location, "unreadable", cause)
  }).pipe(Effect.flatMap((e) => (e === undefined ? Effect.void : Effect.fail(e))))
