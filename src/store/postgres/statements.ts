/**
 * Postgres's own statements (`DialectStatements`): lists of values arrive as one JSON array
 * parameter, read with `jsonb_array_elements_text` (SQLite spells it `json_each`).
 */
import { type Kysely, sql } from "kysely"
import type { DialectStatements } from "../queries.ts"
import { eventColumns } from "../records.ts"
import type { Database } from "../schema.ts"
import { template } from "../template.ts"

export const postgresStatements = (db: Kysely<Database>): DialectStatements => ({
  eventsBySeqs: template<"seqs">((p) =>
    db.selectFrom("events").select(eventColumns)
      .where("seq", "in", (eb) =>
        eb.selectFrom(sql<{ value: string }>`jsonb_array_elements_text(cast(${p("seqs")} as jsonb))`.as("s"))
          .select(sql<number>`cast(s.value as bigint)`.as("value")))
      .orderBy("seq")
  ),
  latestOfKeys: template<"topic" | "keys">((p) =>
    db.selectFrom("events").select(eventColumns)
      .where("seq", "in", (eb) =>
        eb.selectFrom(sql<{ value: string }>`jsonb_array_elements_text(cast(${p("keys")} as jsonb))`.as("k")).select((k) =>
          k.selectFrom("events as l").select((l) => l.fn.max("l.seq").as("m"))
            .where("l.topic", "=", p("topic")).where("l.key", "=", sql.ref<string>("k.value")).as("m")
        ))
      .where("payload", "!=", sql.lit("null"))
  )
})
