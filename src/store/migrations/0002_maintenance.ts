/**
 * Migration 0002: what compaction and retention need. `cursors.skipped` counts events retention
 * deleted before the group had processed them (only with `retainUntilConsumed: false`), and a
 * partial index lists the tombstones (events whose payload is JSON `null`) of each topic, so the
 * compactor finds them without scanning the topic. Immutable once released.
 */
import { type Kysely, sql } from "kysely"
import type { Migration } from "kysely/migration"
import type { SqlDialect } from "../SqlDialect.ts"

export const migration0002 = (_dialect: SqlDialect): Migration => ({
  up: async (db: Kysely<any>) => {
    await db.schema.alterTable("cursors").addColumn("skipped", "bigint", (c) => c.notNull().defaultTo(0)).execute()
    await db.schema.createIndex("events_tombstones").on("events").columns(["topic", "seq"])
      .where(sql.ref("payload"), "=", sql.lit("null")).execute()
  }
})
