/**
 * Migration 0004: what sharing a group's work over processes needs. A partial index reads one
 * partition of a topic in seq order (events of unpartitioned topics, whose partition is null, are
 * not in it and cost nothing), and `group_members` lists the processes consuming each partitioned
 * group, with a heartbeat counter that others watch (see `runtime/group/members.ts`). Immutable
 * once released.
 */
import { sql, type Kysely } from "kysely"
import type { Migration } from "kysely/migration"

export const migration0004: Migration = {
  up: async (db: Kysely<any>) => {
    await db.schema.createIndex("events_partitions").on("events").columns(["topic", "partition", "seq"])
      .where(sql.ref("partition"), "is not", null).execute()
    await db.schema.createTable("group_members")
      .addColumn("grp", "text", (c) => c.notNull())
      .addColumn("member", "text", (c) => c.notNull())
      .addColumn("pid", "integer")
      .addColumn("host", "text")
      .addColumn("beats", "bigint", (c) => c.notNull())
      .addColumn("joined_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("group_members_pk", ["grp", "member"])
      .execute()
  }
}
