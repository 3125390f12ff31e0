/**
 * Postgres's own statements (`DialectStatements`): lists of values arrive as one JSON array
 * parameter, read with `jsonb_array_elements_text` (SQLite spells it `json_each`); a consumer's
 * page cut by payload bytes on the server (`readTopicBounded`).
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
  ),
  // The page by count first (the plain indexed read), then a running sum of its payloads' bytes
  // over at most `limit` rows: each round trip carries a whole batch, never more than the room
  // the reader has (a page of small events is not cut to what events of the largest size would
  // need). octet_length counts UTF-8 bytes, at least a JavaScript string's length.
  readTopicBounded: template<"topic" | "after" | "limit" | "maxBytes">((p) => {
    const d = db as unknown as Kysely<any>
    const head = db.selectFrom("events").select(eventColumns)
      .where("topic", "=", p("topic")).where("seq", ">", p("after"))
      .orderBy("seq").limit(p("limit"))
    const page = d.selectFrom(head.as("head")).select([
      ...eventColumns,
      sql<number>`sum(octet_length(payload)) over (order by seq rows between unbounded preceding and current row)`.as("upto"),
      sql<number>`row_number() over (order by seq)`.as("n")
    ])
    return d.selectFrom(page.as("page")).select(eventColumns)
      .where((eb) => eb.or([eb("upto", "<=", p("maxBytes")), eb("n", "=", 1)]))
      .orderBy("seq")
  })
})
