/**
 * Migration 0003 (Postgres only): the change counter. Every write transaction raises it, under the
 * writers' lock, so a process tells whether others committed by reading one row (SQLite has
 * `data_version` for this). Immutable once released.
 */
import type { Kysely } from "kysely"
import type { Migration } from "kysely/migration"

export const migration0003: Migration = {
  up: async (db: Kysely<any>) => {
    await db.schema.createTable("changes")
      .addColumn("id", "integer", (c) => c.primaryKey())
      .addColumn("version", "bigint", (c) => c.notNull())
      .execute()
    await db.insertInto("changes").values({ id: 1, version: 0 }).execute()
  }
}
