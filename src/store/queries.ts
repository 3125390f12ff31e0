/**
 * Every statement the store runs after start-up, built with Kysely against the schema and compiled
 * once per dialect. Each is a small named unit. The few that need a dialect's own SQL (reading a
 * list of values passed as one JSON parameter) come from the dialect (`DialectStatements`).
 */
import { type Kysely, sql } from "kysely"
import { eventColumns } from "./records.ts"
import type { Database } from "./schema.ts"
import { type Template, template } from "./template.ts"

/** Statements a dialect writes in its own SQL. */
export interface DialectStatements {
  /** The events of a JSON array of seqs (one statement for many point reads), by seq. */
  readonly eventsBySeqs: Template<"seqs">
  /**
   * The latest event of each key in `keys` (a JSON array), one index probe per key, in one
   * statement; tombstones (payload JSON `null`) are left out.
   */
  readonly latestOfKeys: Template<"topic" | "keys">
  /**
   * `readTopic` that also stops before the event that would bring the page's payload bytes above
   * `maxBytes` (its first event always comes), where the dialect has it (`RuntimeStore.pageBytes`).
   */
  readonly readTopicBounded?: Template<"topic" | "after" | "limit" | "maxBytes"> | undefined
}

/** The statements of a dialect: the shared ones built with its Kysely, and its own. */
export const makeStatements = (db: Kysely<Database>, dialect: DialectStatements) => ({ ...sharedStatements(db), ...dialect })

const sharedStatements = (db: Kysely<Database>) => ({
  insertEvent: template<"id" | "ts" | "topic" | "key" | "partition" | "headers" | "payload" | "causedBy" | "tags" | "sid">(
    (p) =>
      db.insertInto("events").values({
        id: p("id"), ts: p("ts"), topic: p("topic"), key: p("key"), partition: p("partition"),
        headers: p("headers"), payload: p("payload"), caused_by: p("causedBy"), tags: p("tags"), sid: p("sid")
      }).onConflict((oc) => oc.column("id").doNothing())
  ),
  eventById: template<"id">((p) => db.selectFrom("events").select(eventColumns).where("id", "=", p("id"))),
  latestOfKey: template<"topic" | "key">((p) =>
    db.selectFrom("events").select(eventColumns)
      .where("topic", "=", p("topic")).where("key", "=", p("key")).orderBy("seq", "desc").limit(1)
  ),
  eventBySeq: template<"seq">((p) => db.selectFrom("events").select(eventColumns).where("seq", "=", p("seq"))),
  readTopic: template<"topic" | "after" | "limit">((p) =>
    db.selectFrom("events").select(eventColumns)
      .where("topic", "=", p("topic")).where("seq", ">", p("after"))
      .orderBy("seq").limit(p("limit"))
  ),
  /** One partition of a topic, by seq (the partial index of migration 0004). */
  readPartition: template<"topic" | "partition" | "after" | "limit">((p) =>
    db.selectFrom("events").select(eventColumns)
      .where("topic", "=", p("topic")).where("partition", "=", p("partition")).where("seq", ">", p("after"))
      .orderBy("seq").limit(p("limit"))
  ),
  countPartitionEvents: template<"topic" | "partition" | "after" | "upto">((p) =>
    db.selectFrom("events").select((eb) => eb.fn.countAll<number>().as("n"))
      .where("topic", "=", p("topic")).where("partition", "=", p("partition"))
      .where("seq", ">", p("after")).where("seq", "<=", p("upto"))
  ),
  headSeq: template<"topic">((p) =>
    db.selectFrom("events").select((eb) => eb.fn.max("seq").as("seq")).where("topic", "=", p("topic"))
  ),
  firstSeqAtOrAfterTs: template<"topic" | "ts">((p) =>
    db.selectFrom("events").select((eb) => eb.fn.min("seq").as("seq"))
      .where("topic", "=", p("topic")).where("ts", ">=", p("ts"))
  ),

  readLease: template<"group">((p) =>
    db.selectFrom("consumer_groups")
      .select(["grp", "owner_sid", "owner_pid", "owner_host", "lease_expires_at"])
      .where("grp", "=", p("group"))
  ),
  ensureGroup: template<"group" | "now">((p) =>
    db.insertInto("consumer_groups").values({
      grp: p("group"), owner_sid: null, owner_pid: null, owner_host: null, lease_expires_at: null,
      created_at: p("now"), updated_at: p("now")
    }).onConflict((oc) => oc.column("grp").doNothing())
  ),
  claimLeaseFromNobody: template<"group" | "owner" | "pid" | "host" | "expiresAt" | "now">((p) =>
    db.updateTable("consumer_groups")
      .set({ owner_sid: p("owner"), owner_pid: p("pid"), owner_host: p("host"), lease_expires_at: p("expiresAt"), updated_at: p("now") })
      .where("grp", "=", p("group")).where("owner_sid", "is", null)
  ),
  claimLeaseFrom: template<"group" | "expected" | "owner" | "pid" | "host" | "expiresAt" | "now">((p) =>
    db.updateTable("consumer_groups")
      .set({ owner_sid: p("owner"), owner_pid: p("pid"), owner_host: p("host"), lease_expires_at: p("expiresAt"), updated_at: p("now") })
      .where("grp", "=", p("group")).where("owner_sid", "=", p("expected"))
  ),
  renewLease: template<"group" | "owner" | "expiresAt" | "now">((p) =>
    db.updateTable("consumer_groups").set({ lease_expires_at: p("expiresAt"), updated_at: p("now") })
      .where("grp", "=", p("group")).where("owner_sid", "=", p("owner"))
  ),
  releaseLease: template<"group" | "owner" | "now">((p) =>
    db.updateTable("consumer_groups")
      .set({ owner_sid: null, owner_pid: null, owner_host: null, lease_expires_at: null, updated_at: p("now") })
      .where("grp", "=", p("group")).where("owner_sid", "=", p("owner"))
  ),
  leaseOwner: template<"group">((p) =>
    db.selectFrom("consumer_groups").select("owner_sid").where("grp", "=", p("group"))
  ),

  /** A member's heartbeat: joins the group (beats 1) or raises its counter. */
  beatMember: template<"group" | "member" | "pid" | "host" | "now">((p) =>
    db.insertInto("group_members").values({
      grp: p("group"), member: p("member"), pid: p("pid"), host: p("host"), beats: 1, joined_at: p("now"), updated_at: p("now")
    }).onConflict((oc) => oc.columns(["grp", "member"]).doUpdateSet((eb) => ({
      beats: eb("group_members.beats", "+", 1), updated_at: eb.ref("excluded.updated_at")
    })))
  ),
  leaveMember: template<"group" | "member">((p) =>
    db.deleteFrom("group_members").where("grp", "=", p("group")).where("member", "=", p("member"))
  ),
  groupMembers: template<"group">((p) =>
    db.selectFrom("group_members").selectAll().where("grp", "=", p("group")).orderBy("joined_at").orderBy("member")
  ),
  allMembers: template(() => db.selectFrom("group_members").selectAll().orderBy("grp").orderBy("joined_at").orderBy("member")),

  getCursor: template<"topic" | "group">((p) =>
    db.selectFrom("cursors").select(["topic", "grp", "floor", "acked", "leased_upto", "updated_at", "redelivered"])
      .where("topic", "=", p("topic")).where("grp", "=", p("group"))
  ),
  insertCursor: template<"topic" | "group" | "floor" | "now">((p) =>
    db.insertInto("cursors").values({
      topic: p("topic"), grp: p("group"), floor: p("floor"), acked: null, leased_upto: p("floor"), updated_at: p("now")
    }).onConflict((oc) => oc.columns(["topic", "grp"]).doNothing())
  ),
  // An upsert: a cursor deleted under a live consumer (a forced topic deletion) is written again
  // where that consumer stands, so its progress is kept and it is seen consuming.
  writeProgress: template<"topic" | "group" | "floor" | "acked" | "leasedUpto" | "redelivered" | "now">((p) =>
    db.insertInto("cursors")
      .values((eb) => ({
        topic: p("topic"), grp: p("group"), floor: p("floor"), acked: p("acked"), leased_upto: p("leasedUpto"), updated_at: p("now"),
        redelivered: eb.fn.coalesce(eb.cast<number>(eb.val(p("redelivered")), "bigint"), eb.lit(0))
      }))
      .onConflict((oc) =>
        oc.columns(["topic", "grp"]).doUpdateSet((eb) => ({
          floor: eb.ref("excluded.floor"), acked: eb.ref("excluded.acked"), leased_upto: eb.ref("excluded.leased_upto"), updated_at: eb.ref("excluded.updated_at"),
          // A write that does not count redeliveries leaves the count as it is.
          redelivered: eb.fn.coalesce(eb.cast<number>(eb.val(p("redelivered")), "bigint"), eb.ref("cursors.redelivered"))
        }))
      )
  ),
  raiseLease: template<"topic" | "group" | "seq" | "now">((p) =>
    db.updateTable("cursors").set({ leased_upto: p("seq"), updated_at: p("now") })
      .where("topic", "=", p("topic")).where("grp", "=", p("group")).where("leased_upto", "<", p("seq"))
  ),
  upsertCursor: template<"topic" | "group" | "floor" | "now">((p) =>
    db.insertInto("cursors").values({
      topic: p("topic"), grp: p("group"), floor: p("floor"), acked: null, leased_upto: p("floor"), updated_at: p("now")
    }).onConflict((oc) => oc.columns(["topic", "grp"]).doUpdateSet({
      floor: (eb) => eb.ref("excluded.floor"), acked: null,
      leased_upto: (eb) => eb.ref("excluded.leased_upto"), updated_at: (eb) => eb.ref("excluded.updated_at")
    }))
  ),

  groupDeliveries: template<"group">((p) =>
    db.selectFrom("deliveries").selectAll().where("grp", "=", p("group")).orderBy("seq")
  ),
  eventDeliveries: template<"eventId">((p) =>
    db.selectFrom("deliveries").selectAll().where("event_id", "=", p("eventId")).orderBy("grp")
  ),
  upsertDelivery: template<
    "group" | "seq" | "topic" | "eventId" | "attempts" | "state" | "nextAttemptAt" | "lastError" |
    "lastErrorStack" | "firstFailedAt" | "lastFailedAt"
  >((p) =>
    db.insertInto("deliveries").values({
      grp: p("group"), seq: p("seq"), topic: p("topic"), event_id: p("eventId"), attempts: p("attempts"),
      state: p("state"), next_attempt_at: p("nextAttemptAt"), last_error: p("lastError"),
      last_error_stack: p("lastErrorStack"), first_failed_at: p("firstFailedAt"), last_failed_at: p("lastFailedAt")
    }).onConflict((oc) => oc.columns(["grp", "seq"]).doUpdateSet({
      attempts: (eb) => eb.ref("excluded.attempts"),
      state: (eb) => eb.ref("excluded.state"),
      next_attempt_at: (eb) => eb.ref("excluded.next_attempt_at"),
      last_error: (eb) => eb.ref("excluded.last_error"),
      last_error_stack: (eb) => eb.ref("excluded.last_error_stack"),
      first_failed_at: (eb) => eb.ref("excluded.first_failed_at"),
      last_failed_at: (eb) => eb.ref("excluded.last_failed_at")
    }))
  ),
  deleteDelivery: template<"group" | "seq">((p) =>
    db.deleteFrom("deliveries").where("grp", "=", p("group")).where("seq", "=", p("seq"))
  ),
  deleteTopicDeliveries: template<"group" | "topic">((p) =>
    db.deleteFrom("deliveries").where("grp", "=", p("group")).where("topic", "=", p("topic"))
      .where("state", "!=", "requeued")
  ),

  upsertDeadLetter: template<
    "group" | "seq" | "topic" | "eventId" | "key" | "attempts" | "errorMessage" | "errorStack" |
    "firstFailedAt" | "lastFailedAt" | "deadAt" | "holdsKey"
  >((p) =>
    db.insertInto("dead_letters").values({
      grp: p("group"), seq: p("seq"), topic: p("topic"), event_id: p("eventId"), key: p("key"),
      attempts: p("attempts"), error_message: p("errorMessage"), error_stack: p("errorStack"),
      first_failed_at: p("firstFailedAt"), last_failed_at: p("lastFailedAt"), dead_at: p("deadAt"),
      holds_key: p("holdsKey")
    }).onConflict((oc) => oc.columns(["grp", "seq"]).doUpdateSet({
      attempts: (eb) => eb.ref("excluded.attempts"),
      error_message: (eb) => eb.ref("excluded.error_message"),
      error_stack: (eb) => eb.ref("excluded.error_stack"),
      first_failed_at: (eb) => eb.ref("excluded.first_failed_at"),
      last_failed_at: (eb) => eb.ref("excluded.last_failed_at"),
      dead_at: (eb) => eb.ref("excluded.dead_at"),
      holds_key: (eb) => eb.ref("excluded.holds_key")
    }))
  ),
  deleteDeadLettersAbove: template<"group" | "topic" | "floor">((p) =>
    db.deleteFrom("dead_letters").where("grp", "=", p("group")).where("topic", "=", p("topic")).where("seq", ">", p("floor"))
  ),
  groupDeadLetterSeqs: template<"group">((p) =>
    db.selectFrom("dead_letters").select(["seq", "topic"]).where("grp", "=", p("group")).orderBy("seq")
  ),
  groupHolds: template<"group">((p) =>
    db.selectFrom("dead_letters").selectAll().where("grp", "=", p("group")).where("holds_key", "=", 1).orderBy("seq")
  ),
  /** Dead letters, filtered by whichever of group, topic and event id is not null (typed text, so
   * a dialect that types parameters from their use can tell what a null is). */
  deadLetters: template<"group" | "topic" | "eventId" | "limit" | "offset">((p) =>
    db.selectFrom("dead_letters").selectAll()
      .where((eb) => eb.or([eb(eb.cast(eb.val(p("group")), "text"), "is", null), eb("grp", "=", p("group"))]))
      .where((eb) => eb.or([eb(eb.cast(eb.val(p("topic")), "text"), "is", null), eb("topic", "=", p("topic"))]))
      .where((eb) => eb.or([eb(eb.cast(eb.val(p("eventId")), "text"), "is", null), eb("event_id", "=", p("eventId"))]))
      .orderBy("grp").orderBy("seq").limit(p("limit")).offset(p("offset"))
  ),
  deadLetter: template<"group" | "seq">((p) =>
    db.selectFrom("dead_letters").selectAll().where("grp", "=", p("group")).where("seq", "=", p("seq"))
  ),
  groupDeadLetters: template<"group">((p) =>
    db.selectFrom("dead_letters").selectAll().where("grp", "=", p("group")).orderBy("seq")
  ),
  deleteDeadLetter: template<"group" | "seq">((p) =>
    db.deleteFrom("dead_letters").where("grp", "=", p("group")).where("seq", "=", p("seq"))
  ),

  upsertTopic: template<"name" | "config" | "now">((p) =>
    db.insertInto("topics").values({ name: p("name"), config: p("config"), created_at: p("now"), updated_at: p("now") })
      .onConflict((oc) => oc.column("name").doUpdateSet({
        config: (eb) => eb.ref("excluded.config"), updated_at: (eb) => eb.ref("excluded.updated_at")
      }))
  ),
  topics: template(() => db.selectFrom("topics").selectAll().orderBy("name")),

  topicStats: template(() =>
    db.selectFrom("events")
      .select((eb) => [
        "topic", eb.fn.countAll<number>().as("events"), eb.fn.min("seq").as("first_seq"),
        eb.fn.max("seq").as("last_seq"), eb.fn.max("ts").as("last_ts")
      ])
      .groupBy("topic").orderBy("topic")
  ),
  allCursors: template(() =>
    db.selectFrom("cursors")
      .leftJoin("consumer_groups", "consumer_groups.grp", "cursors.grp")
      .select([
        "cursors.topic", "cursors.grp", "cursors.floor", "cursors.acked", "cursors.leased_upto", "cursors.updated_at", "cursors.skipped",
        "cursors.redelivered",
        "consumer_groups.owner_sid", "consumer_groups.owner_pid", "consumer_groups.owner_host", "consumer_groups.lease_expires_at"
      ])
      .orderBy("cursors.grp").orderBy("cursors.topic")
  ),
  /** The groups with cursors whose stored name starts with `prefix` (of length `length`). */
  cursorGroupsWithPrefix: template<"prefix" | "length">((p) =>
    db.selectFrom("cursors").select("grp").distinct()
      .where((eb) => eb(eb.fn("substr", [eb.ref("grp"), eb.val(1), eb.cast<number>(eb.val(p("length")), "integer")]), "=", p("prefix")))
  ),
  retryingCounts: template(() =>
    db.selectFrom("deliveries").select((eb) => ["grp", "topic", eb.fn.countAll<number>().as("n")])
      .where("attempts", ">", 0).groupBy(["grp", "topic"])
  ),
  deadLetterCounts: template(() =>
    db.selectFrom("dead_letters").select((eb) => ["grp", "topic", eb.fn.countAll<number>().as("n")]).groupBy(["grp", "topic"])
  ),
  nthLastSeq: template<"topic" | "offset">((p) =>
    db.selectFrom("events").select("seq").where("topic", "=", p("topic")).orderBy("seq", "desc").limit(1).offset(p("offset"))
  ),
  countEvents: template<"topic" | "after" | "upto">((p) =>
    db.selectFrom("events").select((eb) => eb.fn.countAll<number>().as("n"))
      .where("topic", "=", p("topic")).where("seq", ">", p("after")).where("seq", "<=", p("upto"))
  ),
  /**
   * The events with a seq in (after, upto] whose `caused_by` (JSON text in both dialects) contains
   * `pattern` (a LIKE pattern, `!` escapes): a range scan of the seq key, no index on `caused_by`.
   */
  eventsCausedBy: template<"pattern" | "after" | "upto" | "limit">((p) =>
    db.selectFrom("events").select(eventColumns)
      .where("seq", ">", p("after")).where("seq", "<=", p("upto"))
      .where(sql<boolean>`caused_by like ${p("pattern")} escape '!'`)
      .orderBy("seq").limit(p("limit"))
  ),
  countCausedBy: template<"pattern" | "after" | "upto">((p) =>
    db.selectFrom("events").select((eb) => eb.fn.countAll<number>().as("n"))
      .where("seq", ">", p("after")).where("seq", "<=", p("upto"))
      .where(sql<boolean>`caused_by like ${p("pattern")} escape '!'`)
  ),

  // ---- deleting groups and topics --------------------------------------------------------------
  deleteGroupCursors: template<"group">((p) => db.deleteFrom("cursors").where("grp", "=", p("group"))),
  deleteGroupDeliveries: template<"group">((p) => db.deleteFrom("deliveries").where("grp", "=", p("group"))),
  deleteGroupDeadLetters: template<"group">((p) => db.deleteFrom("dead_letters").where("grp", "=", p("group"))),
  deleteGroupRow: template<"group">((p) => db.deleteFrom("consumer_groups").where("grp", "=", p("group"))),
  /** The oldest `limit` events of `topic` at or below `upto` (a bounded purge step). */
  deleteOldestEvents: template<"topic" | "upto" | "limit">((p) =>
    db.deleteFrom("events").where("seq", "in", (eb) =>
      eb.selectFrom("events").select("seq").where("topic", "=", p("topic")).where("seq", "<=", p("upto")).orderBy("seq").limit(p("limit")))
  ),
  deleteTopicAllDeliveries: template<"topic">((p) => db.deleteFrom("deliveries").where("topic", "=", p("topic"))),
  deleteTopicDeadLetters: template<"topic">((p) => db.deleteFrom("dead_letters").where("topic", "=", p("topic"))),
  /** Moves every cursor on `topic` below `upto` up to it (its events are gone). */
  raiseTopicCursors: template<"topic" | "upto" | "now">((p) =>
    db.updateTable("cursors").set({ floor: p("upto"), acked: null, leased_upto: p("upto"), updated_at: p("now") })
      .where("topic", "=", p("topic")).where("floor", "<", p("upto"))
  ),
  deleteTopicCursors: template<"topic">((p) => db.deleteFrom("cursors").where("topic", "=", p("topic"))),
  deleteTopicRow: template<"topic">((p) => db.deleteFrom("topics").where("name", "=", p("topic"))),

  // ---- current state per key, compaction and retention ------------------------------------------
  /** The group with the lowest ack floor on `topic` (none when no group has a cursor there). */
  slowestCursor: template<"topic">((p) =>
    db.selectFrom("cursors").select(["grp", "floor"]).where("topic", "=", p("topic")).orderBy("floor").orderBy("grp").limit(1)
  ),
  topicCursors: template<"topic">((p) =>
    db.selectFrom("cursors").select(["grp", "floor", "acked"]).where("topic", "=", p("topic")).orderBy("grp")
  ),
  addSkipped: template<"topic" | "group" | "count">((p) =>
    db.updateTable("cursors").set((eb) => ({ skipped: eb("skipped", "+", p("count")) }))
      .where("topic", "=", p("topic")).where("grp", "=", p("group"))
  ),
  /**
   * Keyed events of `topic` after (key, seq) in key order: a scan of the (topic, key, seq) index
   * alone (it holds keyed events only: `key is not null` lets the database use it).
   */
  keyScan: template<"topic" | "key" | "seq" | "limit">((p) =>
    db.selectFrom("events").select(["key", "seq"])
      .where("topic", "=", p("topic")).where("key", "is not", null)
      .where((eb) => eb(eb.refTuple("key", "seq"), ">", eb.tuple(p("key"), p("seq"))))
      .orderBy("key").orderBy("seq").limit(p("limit"))
  ),
  /** Tombstones of `topic` after `after`, by seq (the partial index of migration 0002). */
  tombstoneScan: template<"topic" | "after" | "limit">((p) =>
    db.selectFrom("events").select(["seq", "key", "ts"])
      .where("topic", "=", p("topic")).where("payload", "=", sql.lit("null")).where("seq", ">", p("after"))
      .orderBy("seq").limit(p("limit"))
  ),
  laterOfKey: template<"topic" | "key" | "seq">((p) =>
    db.selectFrom("events").select("seq")
      .where("topic", "=", p("topic")).where("key", "=", p("key")).where("seq", ">", p("seq")).limit(1)
  ),
  earlierOfKey: template<"topic" | "key" | "seq">((p) =>
    db.selectFrom("events").select("seq")
      .where("topic", "=", p("topic")).where("key", "=", p("key")).where("seq", "<", p("seq")).limit(1)
  ),
  deadLetterAt: template<"topic" | "seq">((p) =>
    db.selectFrom("dead_letters").select("seq").where("topic", "=", p("topic")).where("seq", "=", p("seq")).limit(1)
  ),
  topicDeliverySeqs: template<"topic">((p) => db.selectFrom("deliveries").select("seq").where("topic", "=", p("topic"))),
  /** Events of `topic` after `after`, oldest first, with their time (for retention). */
  seqScan: template<"topic" | "after" | "limit">((p) =>
    db.selectFrom("events").select(["seq", "ts"])
      .where("topic", "=", p("topic")).where("seq", ">", p("after")).orderBy("seq").limit(p("limit"))
  ),
  deleteEvent: template<"seq">((p) => db.deleteFrom("events").where("seq", "=", p("seq")))
})

export type Statements = ReturnType<typeof makeStatements>
