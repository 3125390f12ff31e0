/**
 * Migration 0001: the first schema. Events with their three indexes, topics, consumer groups and
 * their leases, cursors, delivery attempts and dead letters. Immutable once released: change the
 * schema with a new numbered migration.
 */
import type { Kysely } from "kysely"
import type { Migration } from "kysely/migration"
import type { SqlDialect } from "../SqlDialect.ts"

export const migration0001 = (dialect: SqlDialect): Migration => ({
  up: async (db: Kysely<any>) => {
    await db.schema.createTable("events")
      .addColumn("seq", dialect === "sqlite" ? "integer" : "bigint", (c) =>
        dialect === "sqlite" ? c.primaryKey().autoIncrement() : c.primaryKey().generatedAlwaysAsIdentity())
      .addColumn("id", "text", (c) => c.notNull())
      .addColumn("ts", "bigint", (c) => c.notNull())
      .addColumn("topic", "text", (c) => c.notNull())
      .addColumn("key", "text")
      .addColumn("partition", "integer")
      .addColumn("headers", "text")
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("caused_by", "text")
      .addColumn("tags", "text")
      .addColumn("sid", "text")
      .execute()
    await db.schema.createIndex("events_id").unique().on("events").column("id").execute()
    await db.schema.createIndex("events_topic_seq").on("events").columns(["topic", "seq"]).execute()
    await db.schema.createIndex("events_topic_key_seq").on("events").columns(["topic", "key", "seq"]).execute()

    await db.schema.createTable("topics")
      .addColumn("name", "text", (c) => c.primaryKey())
      .addColumn("config", "text", (c) => c.notNull())
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute()

    await db.schema.createTable("consumer_groups")
      .addColumn("grp", "text", (c) => c.primaryKey())
      .addColumn("owner_sid", "text")
      .addColumn("owner_pid", "integer")
      .addColumn("owner_host", "text")
      .addColumn("lease_expires_at", "bigint")
      .addColumn("created_at", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .execute()

    await db.schema.createTable("cursors")
      .addColumn("topic", "text", (c) => c.notNull())
      .addColumn("grp", "text", (c) => c.notNull())
      .addColumn("floor", "bigint", (c) => c.notNull())
      .addColumn("acked", "text")
      .addColumn("leased_upto", "bigint", (c) => c.notNull())
      .addColumn("updated_at", "bigint", (c) => c.notNull())
      .addPrimaryKeyConstraint("cursors_pk", ["topic", "grp"])
      .execute()

    await db.schema.createTable("deliveries")
      .addColumn("grp", "text", (c) => c.notNull())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("topic", "text", (c) => c.notNull())
      .addColumn("event_id", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull())
      .addColumn("state", "text", (c) => c.notNull())
      .addColumn("next_attempt_at", "bigint")
      .addColumn("last_error", "text")
      .addColumn("last_error_stack", "text")
      .addColumn("first_failed_at", "bigint")
      .addColumn("last_failed_at", "bigint")
      .addPrimaryKeyConstraint("deliveries_pk", ["grp", "seq"])
      .execute()

    await db.schema.createTable("dead_letters")
      .addColumn("grp", "text", (c) => c.notNull())
      .addColumn("seq", "bigint", (c) => c.notNull())
      .addColumn("topic", "text", (c) => c.notNull())
      .addColumn("event_id", "text", (c) => c.notNull())
      .addColumn("key", "text")
      .addColumn("attempts", "integer", (c) => c.notNull())
      .addColumn("error_message", "text", (c) => c.notNull())
      .addColumn("error_stack", "text")
      .addColumn("first_failed_at", "bigint", (c) => c.notNull())
      .addColumn("last_failed_at", "bigint", (c) => c.notNull())
      .addColumn("dead_at", "bigint", (c) => c.notNull())
      .addColumn("holds_key", "integer", (c) => c.notNull())
      .addPrimaryKeyConstraint("dead_letters_pk", ["grp", "seq"])
      .execute()
    await db.schema.createIndex("dead_letters_topic").on("dead_letters").columns(["topic", "seq"]).execute()
    await db.schema.createIndex("dead_letters_event").on("dead_letters").column("event_id").execute()
  }
})
