/**
 * Migration 0006: the (topic, key, seq) index holds keyed events only. Every query that uses it
 * names a key (`key = ?`, or `key is not null` with a (key, seq) bound in the compaction's key
 * scan), so keyless events, the common case of plain publishing, no longer pay for an index entry:
 * about 10 % more keyless inserts per second on SQLite. Immutable once released.
 */
import { type Kysely, sql } from "kysely"
import type { Migration } from "kysely/migration"

export const migration0006: Migration = {
  up: async (db: Kysely<any>) => {
    await db.schema.dropIndex("events_topic_key_seq").execute()
    await db.schema.createIndex("events_topic_key_seq").on("events").columns(["topic", "key", "seq"])
      .where(sql.ref("key"), "is not", null).execute()
  }
}
