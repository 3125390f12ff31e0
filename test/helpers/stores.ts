/**
 * The databases the store conformance suite and the runtime suites run on: one entry per dialect.
 * A suite loops over `storeFactories` (as Kysely's tests loop over their dialects), so a new dialect
 * is one more entry here and every suite runs on it. The Postgres dialect adds its entry (with a
 * fresh schema per database) when it exists.
 *
 * A factory hands out locations (what `openStore`, `Bus.open` and `createRuntime({ db })` take),
 * removes the shared ones it made (`drop`; `sharedDb` does it when a scope closes), and opens an
 * application's own Kysely on one of them (an outbox's database, a handler's table read from
 * another connection). It imports nothing from vitest, so test children can use it too.
 * Postgres runs when `SIB_TEST_POSTGRES_URL` is set; without it, `postgresSkipped` tells the
 * suites to report it as skipped.
 */
import SqliteDatabase from "better-sqlite3"
import { Effect } from "effect"
import { CompiledQuery, Kysely, SqliteDialect } from "kysely"
import pg from "pg"
import { rmSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { SchemaPostgresDialect } from "../../src/store/postgres/dialect.ts"
import { makeTmpDir, tmpPrefix } from "./tmp.ts"

export interface StoreFactory {
  readonly name: string
  /**
   * A new database no one else opens: the cheapest the dialect has (SQLite `:memory:`). The caller
   * does not remove it (the factory reclaims it; `:memory:` goes with its connection).
   */
  readonly fresh: () => string
  /** A new database that several connections or processes open (a SQLite file); remove it with `drop`. */
  readonly shared: () => string
  /**
   * Removes a database `shared` made (and everything beside it that the factory created for it);
   * a dialect on a server answers a promise (what is left when a run ends is dropped by the
   * global teardown, `test/helpers/teardown.ts`).
   */
  readonly drop: (location: string) => void | Promise<void>
  /**
   * A Kysely on the database at `location` (from `shared`) through a connection of its own, as an
   * application opens its database; the caller destroys it.
   */
  readonly kysely: (location: string) => Kysely<any>
  /** The capabilities its store provides (`StoreCapabilities`). */
  readonly capabilities: { readonly changeToken: boolean; readonly checkpoint: boolean }
}

export const sqliteFactory: StoreFactory = {
  name: "sqlite",
  fresh: () => ":memory:",
  shared: () => join(makeTmpDir(), "bus.db"),
  drop: (location) => {
    // Only the temporary directory `shared` made: never a path the factory did not create.
    const dir = dirname(location)
    if (location !== ":memory:" && basename(dir).startsWith(tmpPrefix)) rmSync(dir, { recursive: true, force: true })
  },
  kysely: (location) => {
    // The busy timeout first: switching to WAL needs a lock another connection may hold.
    const sqlite = new SqliteDatabase(location)
    sqlite.pragma("busy_timeout = 5000")
    sqlite.pragma("journal_mode = WAL")
    return new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) })
  },
  capabilities: { changeToken: true, checkpoint: true }
}

/** The Postgres server the tests may use (`.ci/run` sets it); without it the Postgres suites are skipped. */
export const postgresUrl = process.env["SIB_TEST_POSTGRES_URL"]

/** Every schema a test makes starts with this, then its run's id, so the teardown finds what its run left. */
export const testSchemaPrefix = "sib_t_"

/** The run's id: set by the global set-up (`teardown.ts`) for every worker, or this process's own. */
export const testRunId = () => (process.env["SIB_TEST_RUN"] ??= `${process.pid}${Date.now().toString(36)}`)

let schemas = 0
const newSchema = () => `${testSchemaPrefix}${testRunId()}_${process.pid}_${++schemas}`

const withSchema = (url: string, schema: string) => {
  const u = new URL(url)
  u.searchParams.set("schema", schema)
  return u.toString()
}

const schemaOf = (location: string) => new URL(location).searchParams.get("schema")!

/** Drops schemas on the server (the test ones only). */
export const dropSchemas = async (url: string, names: ReadonlyArray<string>) => {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    for (const name of names) {
      if (name.startsWith(testSchemaPrefix)) await client.query(`drop schema if exists "${name}" cascade`)
    }
  } finally {
    await client.end()
  }
}

const bigintAsNumber = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20 ? (value: string) => Number(value) : (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format)
} as pg.CustomTypesConfig

/** Postgres: each database is a schema of its own on the server of `url`. */
export const postgresFactory = (url: string): StoreFactory => ({
  name: "postgres",
  fresh: () => withSchema(url, newSchema()),
  shared: () => withSchema(url, newSchema()),
  drop: (location) => dropSchemas(url, [schemaOf(location)]).catch(() => undefined),
  kysely: (location) => {
    const u = new URL(location)
    const schema = u.searchParams.get("schema")!
    u.searchParams.delete("schema")
    return new Kysely<any>({
      dialect: new SchemaPostgresDialect({
        // bigint columns (times, counts) as numbers, as an application storing epoch
        // milliseconds would read them; pg gives strings by default.
        pool: new pg.Pool({ connectionString: u.toString(), max: 4, options: `-c search_path=${schema}`, types: bigintAsNumber }),
        // The schema stands for the database: it exists before the application's first statement
        // (as a SQLite file does once opened), whether or not a bus has opened it yet. Connections
        // racing to create it: the losers find it made.
        onCreateConnection: (connection) =>
          connection.executeQuery(CompiledQuery.raw(`create schema if not exists "${schema}"`)).then(
            () => undefined,
            (e: { code?: string }) => {
              if (e.code !== "23505" && e.code !== "42P06") throw e
            }
          )
      })
    })
  },
  capabilities: { changeToken: true, checkpoint: false }
})

/**
 * The dialects the suites run on: SQLite always, Postgres when `SIB_TEST_POSTGRES_URL` is set
 * (`SIB_TEST_DIALECTS=sqlite` or `=postgres` narrows the list).
 */
const narrowed = (factories: ReadonlyArray<StoreFactory>) =>
  factories.filter((f) => process.env["SIB_TEST_DIALECTS"] === undefined || process.env["SIB_TEST_DIALECTS"]!.split(",").includes(f.name))

/** The dialects the store conformance suite runs on: SQLite, and Postgres when its URL is set. */
export const conformanceFactories: ReadonlyArray<StoreFactory> = narrowed([
  sqliteFactory,
  ...(postgresUrl === undefined ? [] : [postgresFactory(postgresUrl)])
])

/**
 * The dialects the runtime-level suites run on. Postgres joins them only when asked for by name
 * (`SIB_TEST_DIALECTS=postgres` or `sqlite,postgres`): they pass there, but take about 8 minutes
 * (on a store with asynchronous I/O the tests move the TestClock in small settled steps), too long
 * for every `npm test`; the store conformance suite runs whenever the URL is set.
 */
export const storeFactories: ReadonlyArray<StoreFactory> = [
  sqliteFactory,
  ...(postgresUrl !== undefined && (process.env["SIB_TEST_DIALECTS"] ?? "").split(",").includes("postgres") ? [postgresFactory(postgresUrl)] : [])
].filter((f) => narrowed([f]).length > 0)

/** The factory called `name` (test children get the name as an argument). */
export const factoryNamed = (name: string): StoreFactory => {
  const factory = [...storeFactories, ...conformanceFactories].find((f) => f.name === name)
  if (factory === undefined) throw new Error(`no store factory named "${name}" (known: ${storeFactories.map((f) => f.name).join(", ")})`)
  return factory
}

/** A new shared database for the current scope, dropped when the scope closes. */
export const sharedDb = (factory: StoreFactory) =>
  Effect.acquireRelease(Effect.sync(() => factory.shared()), (location) => Effect.promise(async () => factory.drop(location)))

/** An application's Kysely on `location` for the current scope, destroyed when it closes. */
export const kyselyOn = (factory: StoreFactory, location: string) =>
  Effect.acquireRelease(Effect.sync(() => factory.kysely(location)), (db) => Effect.promise(() => db.destroy()))
