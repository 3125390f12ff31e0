/**
 * The outbox table: one row per message added, in the application's own database, under a name
 * the outbox is given (`sib_outbox` by default). This module holds the row type, its life cycle
 * and the numbered migrations that create it (run by `ensure` with their own bookkeeping tables,
 * `<table>_migration` and `<table>_migration_lock`, so they never mix with the bus's migrations
 * when both live in the same file). It runs no other statement.
 *
 * A row's life cycle (`state`, and the claim columns):
 * - `pending`: due once `next_attempt_at <= now`, and, when it has a key, once no earlier row of
 *   its key is pending and waiting for a retry. Only the relay holding the outbox's lead (the one
 *   row of `<table>_relay`, taken for `leaseMs` and renewed as it sends) claims and sends rows, in
 *   the order they were added; a relay that died is followed when its lead runs out.
 * - `pending`, claimed (`claimed_by` = a relay, `claimed_until`): that relay is publishing it. A
 *   note, not a lock: the next holder of the lead sends it again if it is still pending (its event
 *   id is the row id, so a publish that did commit is not repeated).
 * - `pending` after a refused publish: `attempts` counts refusals, `last_error` says why,
 *   `next_attempt_at` is the backoff; the claim is cleared.
 * - `sent` (`sent_at` set): the event exists in the bus; deleted once older than the retention.
 * - `failed`: refused `maxAttempts` times; kept until someone retries it (`retryFailed`) or
 *   deletes it.
 */
import { type Kysely, PostgresAdapter, sql } from "kysely"
import { type Migration, type MigrationProvider, Migrator } from "kysely/migration"

export type OutboxState = "pending" | "sent" | "failed"

export interface OutboxTable {
  /** A UUIDv7, chosen at `add`: also the id of the event it becomes. */
  id: string
  topic: string
  /** JSON text. */
  payload: string
  key: string | null
  /** JSON text of a string -> string object, or null. */
  headers: string | null
  state: OutboxState
  created_at: number
  attempts: number
  next_attempt_at: number
  claimed_by: string | null
  claimed_until: number | null
  last_error: string | null
  sent_at: number | null
}

/** Any table name maps to the outbox row (the name is chosen at run time). */
export type OutboxDatabase = Record<string, OutboxTable>

/** Table names become parts of index and bookkeeping names: keep them plain identifiers. */
export const tableNameProblem = (table: unknown): string | undefined =>
  typeof table !== "string"
    ? `table must be a string, got ${table === null ? "null" : typeof table}`
    : /^[A-Za-z_][A-Za-z0-9_]{0,47}$/.test(table)
    ? undefined
    : `table ${JSON.stringify(table)} must be a plain identifier (letters, digits and _, not starting with a digit, at most 48 characters)`

/** The migrations of an outbox table named `table`, by name in order. Immutable once released. */
export const migrations = (table: string): Record<string, Migration> => ({
  "0001_outbox": {
    up: async (db: Kysely<any>) => {
      await db.schema.createTable(table)
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("topic", "text", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("key", "text")
        .addColumn("headers", "text")
        .addColumn("state", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
        .addColumn("claimed_by", "text")
        .addColumn("claimed_until", "bigint")
        .addColumn("last_error", "text")
        .addColumn("sent_at", "bigint")
        .execute()
      // Claiming reads due rows in (state, next_attempt_at, id) order; pruning reads sent rows by age.
      await db.schema.createIndex(`${table}_due`).on(table).columns(["state", "next_attempt_at", "id"]).execute()
      await db.schema.createIndex(`${table}_sent`).on(table).columns(["state", "sent_at"]).execute()
    }
  },
  "0002_relay_lead": {
    up: async (db: Kysely<any>) => {
      // One relay at a time sends (the lead's holder), rows in the order they were added, a key's
      // rows behind its earlier one waiting for a retry (see sql.ts claimDue).
      await db.schema.createTable(`${table}_relay`)
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("owner", "text", (c) => c.notNull())
        .addColumn("until", "bigint", (c) => c.notNull())
        .execute()
      await db.schema.createIndex(`${table}_order`).on(table).columns(["state", "id"]).execute()
      await db.schema.createIndex(`${table}_key`).on(table).columns(["key", "state", "id"]).execute()
    }
  }
})

/** The schema unqualified names go to, on Postgres (`search_path`); undefined elsewhere. */
const currentSchema = async (db: Kysely<any>): Promise<string | undefined> =>
  db.getExecutor().adapter instanceof PostgresAdapter
    ? (await sql<{ s: string | null }>`select current_schema() as s`.execute(db)).rows[0]?.s ?? undefined
    : undefined

/** Brings the outbox table `table` to the latest schema (creating it if needed). */
export const ensure = async (db: Kysely<any>, table: string): Promise<void> => {
  const provider: MigrationProvider = { getMigrations: async () => migrations(table) }
  // Kysely looks for its bookkeeping tables in every schema when given none: on Postgres, an
  // outbox in another schema of the same database would pass for this one's.
  const schema = await currentSchema(db)
  const { error } = await new Migrator({
    db,
    provider,
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
    migrationTableName: `${table}_migration`,
    migrationLockTableName: `${table}_migration_lock`
  }).migrateToLatest()
  if (error !== undefined) throw error
}
