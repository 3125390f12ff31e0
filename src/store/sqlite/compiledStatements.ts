/**
 * Every statement of the SQLite store as SQL text and parameter slots: `makeStatements` (queries.ts)
 * with `sqliteStatements` (statements.ts), compiled by Kysely in `npm run statements`
 * (scripts/compile-statements.ts), so the store runs them without loading Kysely. Generated: do not
 * edit; a test checks that it is what the script makes of the sources now.
 */
import type { Statements } from "../queries.ts"

export const compiledStatements: Statements = {
  insertEvent: {
    sql: "insert into \"events\" (\"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (\"id\") do nothing",
    slots: [{ name: "id" }, { name: "ts" }, { name: "topic" }, { name: "key" }, { name: "partition" }, { name: "headers" }, { name: "payload" }, { name: "causedBy" }, { name: "tags" }, { name: "sid" }]
  },
  eventById: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"id\" = ?",
    slots: [{ name: "id" }]
  },
  latestOfKey: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"topic\" = ? and \"key\" = ? order by \"seq\" desc limit ?",
    slots: [{ name: "topic" }, { name: "key" }, { value: 1 }]
  },
  eventBySeq: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"seq\" = ?",
    slots: [{ name: "seq" }]
  },
  readTopic: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"topic\" = ? and \"seq\" > ? order by \"seq\" limit ?",
    slots: [{ name: "topic" }, { name: "after" }, { name: "limit" }]
  },
  readPartition: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"topic\" = ? and \"partition\" = ? and \"seq\" > ? order by \"seq\" limit ?",
    slots: [{ name: "topic" }, { name: "partition" }, { name: "after" }, { name: "limit" }]
  },
  countPartitionEvents: {
    sql: "select count(*) as \"n\" from \"events\" where \"topic\" = ? and \"partition\" = ? and \"seq\" > ? and \"seq\" <= ?",
    slots: [{ name: "topic" }, { name: "partition" }, { name: "after" }, { name: "upto" }]
  },
  headSeq: {
    sql: "select max(\"seq\") as \"seq\" from \"events\" where \"topic\" = ?",
    slots: [{ name: "topic" }]
  },
  firstSeqAtOrAfterTs: {
    sql: "select min(\"seq\") as \"seq\" from \"events\" where \"topic\" = ? and \"ts\" >= ?",
    slots: [{ name: "topic" }, { name: "ts" }]
  },
  readLease: {
    sql: "select \"grp\", \"owner_sid\", \"owner_pid\", \"owner_host\", \"lease_expires_at\" from \"consumer_groups\" where \"grp\" = ?",
    slots: [{ name: "group" }]
  },
  ensureGroup: {
    sql: "insert into \"consumer_groups\" (\"grp\", \"owner_sid\", \"owner_pid\", \"owner_host\", \"lease_expires_at\", \"created_at\", \"updated_at\") values (?, ?, ?, ?, ?, ?, ?) on conflict (\"grp\") do nothing",
    slots: [{ name: "group" }, { value: null }, { value: null }, { value: null }, { value: null }, { name: "now" }, { name: "now" }]
  },
  claimLeaseFromNobody: {
    sql: "update \"consumer_groups\" set \"owner_sid\" = ?, \"owner_pid\" = ?, \"owner_host\" = ?, \"lease_expires_at\" = ?, \"updated_at\" = ? where \"grp\" = ? and \"owner_sid\" is null",
    slots: [{ name: "owner" }, { name: "pid" }, { name: "host" }, { name: "expiresAt" }, { name: "now" }, { name: "group" }]
  },
  claimLeaseFrom: {
    sql: "update \"consumer_groups\" set \"owner_sid\" = ?, \"owner_pid\" = ?, \"owner_host\" = ?, \"lease_expires_at\" = ?, \"updated_at\" = ? where \"grp\" = ? and \"owner_sid\" = ?",
    slots: [{ name: "owner" }, { name: "pid" }, { name: "host" }, { name: "expiresAt" }, { name: "now" }, { name: "group" }, { name: "expected" }]
  },
  renewLease: {
    sql: "update \"consumer_groups\" set \"lease_expires_at\" = ?, \"updated_at\" = ? where \"grp\" = ? and \"owner_sid\" = ?",
    slots: [{ name: "expiresAt" }, { name: "now" }, { name: "group" }, { name: "owner" }]
  },
  releaseLease: {
    sql: "update \"consumer_groups\" set \"owner_sid\" = ?, \"owner_pid\" = ?, \"owner_host\" = ?, \"lease_expires_at\" = ?, \"updated_at\" = ? where \"grp\" = ? and \"owner_sid\" = ?",
    slots: [{ value: null }, { value: null }, { value: null }, { value: null }, { name: "now" }, { name: "group" }, { name: "owner" }]
  },
  leaseOwner: {
    sql: "select \"owner_sid\" from \"consumer_groups\" where \"grp\" = ?",
    slots: [{ name: "group" }]
  },
  beatMember: {
    sql: "insert into \"group_members\" (\"grp\", \"member\", \"pid\", \"host\", \"beats\", \"joined_at\", \"updated_at\") values (?, ?, ?, ?, ?, ?, ?) on conflict (\"grp\", \"member\") do update set \"beats\" = \"group_members\".\"beats\" + ?, \"updated_at\" = \"excluded\".\"updated_at\"",
    slots: [{ name: "group" }, { name: "member" }, { name: "pid" }, { name: "host" }, { value: 1 }, { name: "now" }, { name: "now" }, { value: 1 }]
  },
  leaveMember: {
    sql: "delete from \"group_members\" where \"grp\" = ? and \"member\" = ?",
    slots: [{ name: "group" }, { name: "member" }]
  },
  groupMembers: {
    sql: "select * from \"group_members\" where \"grp\" = ? order by \"joined_at\", \"member\"",
    slots: [{ name: "group" }]
  },
  allMembers: {
    sql: "select * from \"group_members\" order by \"grp\", \"joined_at\", \"member\"",
    slots: []
  },
  getCursor: {
    sql: "select \"topic\", \"grp\", \"floor\", \"acked\", \"leased_upto\", \"updated_at\", \"redelivered\" from \"cursors\" where \"topic\" = ? and \"grp\" = ?",
    slots: [{ name: "topic" }, { name: "group" }]
  },
  insertCursor: {
    sql: "insert into \"cursors\" (\"topic\", \"grp\", \"floor\", \"acked\", \"leased_upto\", \"updated_at\") values (?, ?, ?, ?, ?, ?) on conflict (\"topic\", \"grp\") do nothing",
    slots: [{ name: "topic" }, { name: "group" }, { name: "floor" }, { value: null }, { name: "floor" }, { name: "now" }]
  },
  writeProgress: {
    sql: "insert into \"cursors\" (\"topic\", \"grp\", \"floor\", \"acked\", \"leased_upto\", \"updated_at\", \"redelivered\") values (?, ?, ?, ?, ?, ?, coalesce(cast(? as bigint), 0)) on conflict (\"topic\", \"grp\") do update set \"floor\" = \"excluded\".\"floor\", \"acked\" = \"excluded\".\"acked\", \"leased_upto\" = \"excluded\".\"leased_upto\", \"updated_at\" = \"excluded\".\"updated_at\", \"redelivered\" = coalesce(cast(? as bigint), \"cursors\".\"redelivered\")",
    slots: [{ name: "topic" }, { name: "group" }, { name: "floor" }, { name: "acked" }, { name: "leasedUpto" }, { name: "now" }, { name: "redelivered" }, { name: "redelivered" }]
  },
  raiseLease: {
    sql: "update \"cursors\" set \"leased_upto\" = ?, \"updated_at\" = ? where \"topic\" = ? and \"grp\" = ? and \"leased_upto\" < ?",
    slots: [{ name: "seq" }, { name: "now" }, { name: "topic" }, { name: "group" }, { name: "seq" }]
  },
  upsertCursor: {
    sql: "insert into \"cursors\" (\"topic\", \"grp\", \"floor\", \"acked\", \"leased_upto\", \"updated_at\") values (?, ?, ?, ?, ?, ?) on conflict (\"topic\", \"grp\") do update set \"floor\" = \"excluded\".\"floor\", \"acked\" = ?, \"leased_upto\" = \"excluded\".\"leased_upto\", \"updated_at\" = \"excluded\".\"updated_at\"",
    slots: [{ name: "topic" }, { name: "group" }, { name: "floor" }, { value: null }, { name: "floor" }, { name: "now" }, { value: null }]
  },
  groupDeliveries: {
    sql: "select * from \"deliveries\" where \"grp\" = ? order by \"seq\"",
    slots: [{ name: "group" }]
  },
  eventDeliveries: {
    sql: "select * from \"deliveries\" where \"event_id\" = ? order by \"grp\"",
    slots: [{ name: "eventId" }]
  },
  upsertDelivery: {
    sql: "insert into \"deliveries\" (\"grp\", \"seq\", \"topic\", \"event_id\", \"attempts\", \"state\", \"next_attempt_at\", \"last_error\", \"last_error_stack\", \"first_failed_at\", \"last_failed_at\") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (\"grp\", \"seq\") do update set \"attempts\" = \"excluded\".\"attempts\", \"state\" = \"excluded\".\"state\", \"next_attempt_at\" = \"excluded\".\"next_attempt_at\", \"last_error\" = \"excluded\".\"last_error\", \"last_error_stack\" = \"excluded\".\"last_error_stack\", \"first_failed_at\" = \"excluded\".\"first_failed_at\", \"last_failed_at\" = \"excluded\".\"last_failed_at\"",
    slots: [{ name: "group" }, { name: "seq" }, { name: "topic" }, { name: "eventId" }, { name: "attempts" }, { name: "state" }, { name: "nextAttemptAt" }, { name: "lastError" }, { name: "lastErrorStack" }, { name: "firstFailedAt" }, { name: "lastFailedAt" }]
  },
  deleteDelivery: {
    sql: "delete from \"deliveries\" where \"grp\" = ? and \"seq\" = ?",
    slots: [{ name: "group" }, { name: "seq" }]
  },
  deleteTopicDeliveries: {
    sql: "delete from \"deliveries\" where \"grp\" = ? and \"topic\" = ? and \"state\" != ?",
    slots: [{ name: "group" }, { name: "topic" }, { value: "requeued" }]
  },
  upsertDeadLetter: {
    sql: "insert into \"dead_letters\" (\"grp\", \"seq\", \"topic\", \"event_id\", \"key\", \"attempts\", \"error_message\", \"error_stack\", \"first_failed_at\", \"last_failed_at\", \"dead_at\", \"holds_key\") values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (\"grp\", \"seq\") do update set \"attempts\" = \"excluded\".\"attempts\", \"error_message\" = \"excluded\".\"error_message\", \"error_stack\" = \"excluded\".\"error_stack\", \"first_failed_at\" = \"excluded\".\"first_failed_at\", \"last_failed_at\" = \"excluded\".\"last_failed_at\", \"dead_at\" = \"excluded\".\"dead_at\", \"holds_key\" = \"excluded\".\"holds_key\"",
    slots: [{ name: "group" }, { name: "seq" }, { name: "topic" }, { name: "eventId" }, { name: "key" }, { name: "attempts" }, { name: "errorMessage" }, { name: "errorStack" }, { name: "firstFailedAt" }, { name: "lastFailedAt" }, { name: "deadAt" }, { name: "holdsKey" }]
  },
  deleteDeadLettersAbove: {
    sql: "delete from \"dead_letters\" where \"grp\" = ? and \"topic\" = ? and \"seq\" > ?",
    slots: [{ name: "group" }, { name: "topic" }, { name: "floor" }]
  },
  groupDeadLetterSeqs: {
    sql: "select \"seq\", \"topic\" from \"dead_letters\" where \"grp\" = ? order by \"seq\"",
    slots: [{ name: "group" }]
  },
  groupHolds: {
    sql: "select * from \"dead_letters\" where \"grp\" = ? and \"holds_key\" = ? order by \"seq\"",
    slots: [{ name: "group" }, { value: 1 }]
  },
  deadLetters: {
    sql: "select * from \"dead_letters\" where (cast(? as text) is null or \"grp\" = ?) and (cast(? as text) is null or \"topic\" = ?) and (cast(? as text) is null or \"event_id\" = ?) order by \"grp\", \"seq\" limit ? offset ?",
    slots: [{ name: "group" }, { name: "group" }, { name: "topic" }, { name: "topic" }, { name: "eventId" }, { name: "eventId" }, { name: "limit" }, { name: "offset" }]
  },
  deadLetter: {
    sql: "select * from \"dead_letters\" where \"grp\" = ? and \"seq\" = ?",
    slots: [{ name: "group" }, { name: "seq" }]
  },
  groupDeadLetters: {
    sql: "select * from \"dead_letters\" where \"grp\" = ? order by \"seq\"",
    slots: [{ name: "group" }]
  },
  deleteDeadLetter: {
    sql: "delete from \"dead_letters\" where \"grp\" = ? and \"seq\" = ?",
    slots: [{ name: "group" }, { name: "seq" }]
  },
  upsertTopic: {
    sql: "insert into \"topics\" (\"name\", \"config\", \"created_at\", \"updated_at\") values (?, ?, ?, ?) on conflict (\"name\") do update set \"config\" = \"excluded\".\"config\", \"updated_at\" = \"excluded\".\"updated_at\"",
    slots: [{ name: "name" }, { name: "config" }, { name: "now" }, { name: "now" }]
  },
  topics: {
    sql: "select * from \"topics\" order by \"name\"",
    slots: []
  },
  topicStats: {
    sql: "select \"topic\", count(*) as \"events\", min(\"seq\") as \"first_seq\", max(\"seq\") as \"last_seq\", max(\"ts\") as \"last_ts\" from \"events\" group by \"topic\" order by \"topic\"",
    slots: []
  },
  allCursors: {
    sql: "select \"cursors\".\"topic\", \"cursors\".\"grp\", \"cursors\".\"floor\", \"cursors\".\"acked\", \"cursors\".\"leased_upto\", \"cursors\".\"updated_at\", \"cursors\".\"skipped\", \"cursors\".\"redelivered\", \"consumer_groups\".\"owner_sid\", \"consumer_groups\".\"owner_pid\", \"consumer_groups\".\"owner_host\", \"consumer_groups\".\"lease_expires_at\" from \"cursors\" left join \"consumer_groups\" on \"consumer_groups\".\"grp\" = \"cursors\".\"grp\" order by \"cursors\".\"grp\", \"cursors\".\"topic\"",
    slots: []
  },
  cursorGroupsWithPrefix: {
    sql: "select distinct \"grp\" from \"cursors\" where substr(\"grp\", ?, cast(? as integer)) = ?",
    slots: [{ value: 1 }, { name: "length" }, { name: "prefix" }]
  },
  retryingCounts: {
    sql: "select \"grp\", \"topic\", count(*) as \"n\" from \"deliveries\" where \"attempts\" > ? group by \"grp\", \"topic\"",
    slots: [{ value: 0 }]
  },
  deadLetterCounts: {
    sql: "select \"grp\", \"topic\", count(*) as \"n\" from \"dead_letters\" group by \"grp\", \"topic\"",
    slots: []
  },
  nthLastSeq: {
    sql: "select \"seq\" from \"events\" where \"topic\" = ? order by \"seq\" desc limit ? offset ?",
    slots: [{ name: "topic" }, { value: 1 }, { name: "offset" }]
  },
  countEvents: {
    sql: "select count(*) as \"n\" from \"events\" where \"topic\" = ? and \"seq\" > ? and \"seq\" <= ?",
    slots: [{ name: "topic" }, { name: "after" }, { name: "upto" }]
  },
  eventsCausedBy: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"seq\" > ? and \"seq\" <= ? and caused_by like ? escape '!' order by \"seq\" limit ?",
    slots: [{ name: "after" }, { name: "upto" }, { name: "pattern" }, { name: "limit" }]
  },
  countCausedBy: {
    sql: "select count(*) as \"n\" from \"events\" where \"seq\" > ? and \"seq\" <= ? and caused_by like ? escape '!'",
    slots: [{ name: "after" }, { name: "upto" }, { name: "pattern" }]
  },
  deleteGroupCursors: {
    sql: "delete from \"cursors\" where \"grp\" = ?",
    slots: [{ name: "group" }]
  },
  deleteGroupDeliveries: {
    sql: "delete from \"deliveries\" where \"grp\" = ?",
    slots: [{ name: "group" }]
  },
  deleteGroupDeadLetters: {
    sql: "delete from \"dead_letters\" where \"grp\" = ?",
    slots: [{ name: "group" }]
  },
  deleteGroupRow: {
    sql: "delete from \"consumer_groups\" where \"grp\" = ?",
    slots: [{ name: "group" }]
  },
  deleteOldestEvents: {
    sql: "delete from \"events\" where \"seq\" in (select \"seq\" from \"events\" where \"topic\" = ? and \"seq\" <= ? order by \"seq\" limit ?)",
    slots: [{ name: "topic" }, { name: "upto" }, { name: "limit" }]
  },
  deleteTopicAllDeliveries: {
    sql: "delete from \"deliveries\" where \"topic\" = ?",
    slots: [{ name: "topic" }]
  },
  deleteTopicDeadLetters: {
    sql: "delete from \"dead_letters\" where \"topic\" = ?",
    slots: [{ name: "topic" }]
  },
  raiseTopicCursors: {
    sql: "update \"cursors\" set \"floor\" = ?, \"acked\" = ?, \"leased_upto\" = ?, \"updated_at\" = ? where \"topic\" = ? and \"floor\" < ?",
    slots: [{ name: "upto" }, { value: null }, { name: "upto" }, { name: "now" }, { name: "topic" }, { name: "upto" }]
  },
  deleteTopicCursors: {
    sql: "delete from \"cursors\" where \"topic\" = ?",
    slots: [{ name: "topic" }]
  },
  deleteTopicRow: {
    sql: "delete from \"topics\" where \"name\" = ?",
    slots: [{ name: "topic" }]
  },
  slowestCursor: {
    sql: "select \"grp\", \"floor\" from \"cursors\" where \"topic\" = ? order by \"floor\", \"grp\" limit ?",
    slots: [{ name: "topic" }, { value: 1 }]
  },
  topicCursors: {
    sql: "select \"grp\", \"floor\", \"acked\" from \"cursors\" where \"topic\" = ? order by \"grp\"",
    slots: [{ name: "topic" }]
  },
  addSkipped: {
    sql: "update \"cursors\" set \"skipped\" = \"skipped\" + ? where \"topic\" = ? and \"grp\" = ?",
    slots: [{ name: "count" }, { name: "topic" }, { name: "group" }]
  },
  keyScan: {
    sql: "select \"key\", \"seq\" from \"events\" where \"topic\" = ? and \"key\" is not null and (\"key\", \"seq\") > (?, ?) order by \"key\", \"seq\" limit ?",
    slots: [{ name: "topic" }, { name: "key" }, { name: "seq" }, { name: "limit" }]
  },
  tombstoneScan: {
    sql: "select \"seq\", \"key\", \"ts\" from \"events\" where \"topic\" = ? and \"payload\" = 'null' and \"seq\" > ? order by \"seq\" limit ?",
    slots: [{ name: "topic" }, { name: "after" }, { name: "limit" }]
  },
  laterOfKey: {
    sql: "select \"seq\" from \"events\" where \"topic\" = ? and \"key\" = ? and \"seq\" > ? limit ?",
    slots: [{ name: "topic" }, { name: "key" }, { name: "seq" }, { value: 1 }]
  },
  earlierOfKey: {
    sql: "select \"seq\" from \"events\" where \"topic\" = ? and \"key\" = ? and \"seq\" < ? limit ?",
    slots: [{ name: "topic" }, { name: "key" }, { name: "seq" }, { value: 1 }]
  },
  deadLetterAt: {
    sql: "select \"seq\" from \"dead_letters\" where \"topic\" = ? and \"seq\" = ? limit ?",
    slots: [{ name: "topic" }, { name: "seq" }, { value: 1 }]
  },
  topicDeliverySeqs: {
    sql: "select \"seq\" from \"deliveries\" where \"topic\" = ?",
    slots: [{ name: "topic" }]
  },
  seqScan: {
    sql: "select \"seq\", \"ts\" from \"events\" where \"topic\" = ? and \"seq\" > ? order by \"seq\" limit ?",
    slots: [{ name: "topic" }, { name: "after" }, { name: "limit" }]
  },
  deleteEvent: {
    sql: "delete from \"events\" where \"seq\" = ?",
    slots: [{ name: "seq" }]
  },
  eventsBySeqs: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"seq\" in (select \"s\".\"value\" from json_each(?) as \"s\") order by \"seq\"",
    slots: [{ name: "seqs" }]
  },
  latestOfKeys: {
    sql: "select \"seq\", \"id\", \"ts\", \"topic\", \"key\", \"partition\", \"headers\", \"payload\", \"caused_by\", \"tags\", \"sid\" from \"events\" where \"seq\" in (select (select max(\"l\".\"seq\") as \"m\" from \"events\" as \"l\" where \"l\".\"topic\" = ? and \"l\".\"key\" = \"k\".\"value\") as \"m\" from json_each(?) as \"k\") and \"payload\" != 'null'",
    slots: [{ name: "topic" }, { name: "keys" }]
  }
}
