/**
 * Migration 0005: `cursors.redelivered`, how many runs of a group on a topic were redeliveries
 * (an event's second run or later) over the group's life, as `nats consumer info` shows them.
 * Immutable once released.
 */
import type { Kysely } from "kysely"
import type { Migration } from "kysely/migration"

export const migration0005: Migration = {
  up: async (db: Kysely<any>) => {
    await db.schema.alterTable("cursors").addColumn("redelivered", "bigint", (c) => c.notNull().defaultTo(0)).execute()
  }
}
