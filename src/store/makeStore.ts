/**
 * The store, written once over a dialect's `Driver`: every operation of the contract
 * (`Store.ts`) as a statement or a program (`policy/`) run in the transaction mode it needs.
 */
import * as Effect from "effect/Effect"
import type { Driver } from "./Driver.ts"
import { all, type EventRows, events, get, type Program, run } from "./storeProgram.ts"
import { commitBatch } from "./policy/commit.ts"
import { claimLease, deleteGroup, getCursor, groupPositions, initCursor, loadGroup, requeue, setCursor } from "./policy/groups.ts"
import { compactStep, finishPurge, pruneStep, purgeStep } from "./policy/deletion.ts"
import type { Event } from "./records.ts"
import { deadLetterOfRow, deliveryOfRow, leaseOfRow, memberOfRow, num, topicOfRow } from "./rows.ts"
import type { ConsumerGroupsTable, DeadLettersTable, DeliveriesTable, GroupMembersTable, TopicsTable } from "./schema.ts"
import type { AppendResult, CommitResult, HandlerTransaction, StoreShape, WriteBatch } from "./Store.ts"
import type { StoreError } from "./storeErrors.ts"

/** A batch that writes events and nothing else (no group's progress, acks, deliveries or leases). */
const appendsAlone = (batch: WriteBatch): boolean =>
  batch.appends.length > 0 && batch.relaxed !== true && batch.progress.length === 0 && batch.progressNow === undefined &&
  (batch.acks === undefined || batch.acks.length === 0) && batch.deliveries.length === 0 && batch.deadLetters.length === 0 &&
  (batch.leases === undefined || batch.leases.length === 0)

/** A row limit that means "all" in every dialect (SQLite's `LIMIT -1` is its own). */
const noLimit = Number.MAX_SAFE_INTEGER

export const makeStore = (dialect: Driver): StoreShape => {
  /** Operations started (`StoreCapabilities.operations`): every transaction, statement and batch of appends. */
  let operations = 0
  const driver: Driver = {
    ...dialect,
    transaction: (op, mode, program) => Effect.suspend(() => (operations++, dialect.transaction(op, mode, program))),
    statement: (op, program) => Effect.suspend(() => (operations++, dialect.statement(op, program))),
    begin: (wrap) => Effect.suspend(() => (operations++, dialect.begin(wrap))),
    appendAtOnce: dialect.appendAtOnce === undefined ? undefined : {
      max: dialect.appendAtOnce.max,
      run: (drafts) => Effect.suspend(() => (operations++, dialect.appendAtOnce!.run(drafts)))
    }
  }
  const q = driver.statements
  const read = <A>(op: string, program: () => Program<A>) => driver.statement(op, program)
  /** A key or id this database cannot have stored (see `StoreCapabilities.textWithoutNul`). */
  const unstorable = (text: string): boolean => driver.capabilities.textWithoutNul === true && text.includes("\u0000")

  /**
   * A batch of publishes alone, as the dialect's one-statement transaction; the events whose ids
   * existed are read after it. One deleted meanwhile (retention, compaction) is appended again by
   * a transaction of its own, as it would have been had the batch come a moment later.
   */
  const commitAppends = (
    appendAtOnce: NonNullable<Driver["appendAtOnce"]>["run"],
    batch: WriteBatch
  ): Effect.Effect<CommitResult, StoreError> =>
    Effect.gen(function*() {
      const seqs = yield* appendAtOnce(batch.appends)
      const appended: Array<AppendResult | undefined> = []
      const gone: Array<number> = []
      for (let i = 0; i < seqs.length; i++) {
        const seq = seqs[i]
        if (seq !== undefined) {
          appended.push({ seq, existing: undefined })
          continue
        }
        const existing = yield* read("commit", function*() {
          return ((yield events(q.eventById, { id: batch.appends[i]!.id })) as EventRows).events[0]
        })
        appended.push(existing === undefined ? undefined : { seq: existing.seq, existing })
        if (existing === undefined) gone.push(i)
      }
      if (gone.length > 0) {
        const again = yield* driver.transaction("commit", "write", () => commitBatch(q, { ...batch, appends: gone.map((i) => batch.appends[i]!) }))
        gone.forEach((i, k) => (appended[i] = again.appended[k]))
      }
      return { appended: appended as Array<AppendResult>, fenced: [] }
    })

  function* highestSeq(topic: string): Program<number> {
    return num(((yield get(q.headSeq, { topic })) as { seq: number | null } | undefined)?.seq ?? 0)
  }

  const beginTransaction = driver.begin((open): HandlerTransaction => ({
    db: open.db,
    commit: (batch, onCommit) => open.commit(() => commitBatch(q, batch), onCommit),
    rollback: open.rollback
  }))

  return {
    runtime: {
      commit: (batch) =>
        // A publisher's own ids may name an event of another topic: found only inside a transaction.
        driver.appendAtOnce !== undefined && batch.appends.length <= driver.appendAtOnce.max && appendsAlone(batch) && !batch.appends.some((d) => d.idGiven === true)
          ? commitAppends(driver.appendAtOnce.run, batch)
          : driver.transaction("commit", batch.relaxed === true ? "relaxed" : "write", () => commitBatch(q, batch)),
      beginTransaction,
      readPage: (topic, after, limit, maxBytes) =>
        read("readPage", function*() {
          return (maxBytes !== undefined && q.readTopicBounded !== undefined
            // (Whole bytes: a buffer's room is counted in pages' average event sizes, fractions included.)
            ? yield events(q.readTopicBounded, { topic, after, limit, maxBytes: Math.floor(maxBytes) })
            : yield events(q.readTopic, { topic, after, limit })) as EventRows
        }),
      pageBytes: q.readTopicBounded !== undefined,
      readsWait: driver.readsWait === true,
      readPartition: (topic, partition, after, limit) =>
        read("readPartition", function*() {
          // The head first: every event at or below it is visible to the page's read that follows.
          const head = yield* highestSeq(topic)
          const page = (yield events(q.readPartition, { topic, partition, after, limit })) as EventRows
          const last = page.events.at(-1)?.seq ?? after
          return { ...page, readUpto: page.events.length < limit ? Math.max(head, last) : last }
        }),
      readSeqs: (seqs) =>
        read("readSeqs", function*() {
          if (seqs.length === 0) return []
          const found = seqs.length === 1
            ? (yield events(q.eventBySeq, { seq: seqs[0] })) as EventRows
            : (yield events(q.eventsBySeqs, { seqs: JSON.stringify(seqs) })) as EventRows
          return found.events
        }),
      eventById: (id) => unstorable(id) ? Effect.succeed(undefined) : read("eventById", function*() {
        return ((yield events(q.eventById, { id })) as EventRows).events[0]
      }),
      latestByKey: (topic, keys) =>
        read("latestByKey", function*() {
          const out = new Map<string, Event>()
          const wanted = [...new Set(keys)].filter((k) => !unstorable(k))
          if (wanted.length === 0) return out
          const found = wanted.length === 1
            ? ((yield events(q.latestOfKey, { topic, key: wanted[0] })) as EventRows).events
            : ((yield events(q.latestOfKeys, { topic, keys: JSON.stringify(wanted) })) as EventRows).events
          // A tombstone (null payload) as the latest event: the key is gone.
          const byKey = new Map(found.filter((e) => e.payload !== null).map((e) => [e.key!, e]))
          for (const key of wanted) {
            const event = byKey.get(key)
            if (event !== undefined) out.set(key, event)
          }
          return out
        }),
      headSeq: (topic) => read("headSeq", () => highestSeq(topic)),
      floorForTs: (topic, ts) =>
        driver.transaction("floorForTs", "read", function*() {
          const first = ((yield get(q.firstSeqAtOrAfterTs, { topic, ts })) as { seq: number | null } | undefined)?.seq ?? null
          return first !== null ? num(first) - 1 : yield* highestSeq(topic)
        }),

      readLease: (group) =>
        read("readLease", function*() {
          const row = (yield get(q.readLease, { group })) as ConsumerGroupsTable | undefined
          return row === undefined ? undefined : leaseOfRow(row)
        }),
      claimLease: (claim) => driver.transaction("claimLease", "write", () => claimLease(q, claim)),
      renewLease: (group, owner, expiresAt, now) =>
        read("renewLease", function*() {
          return ((yield run(q.renewLease, { group, owner, expiresAt, now })) as number) === 1
        }),
      releaseLease: (group, owner, now) =>
        read("releaseLease", function*() {
          yield run(q.releaseLease, { group, owner, now })
        }),
      loadGroup: (group, topics) => driver.transaction("loadGroup", "read", () => loadGroup(q, group, topics)),
      initCursor: (group, topic, floor, now) => driver.transaction("initCursor", "write", () => initCursor(q, group, topic, floor, now)),
      getCursor: (group, topic) => read("getCursor", () => getCursor(q, group, topic)),

      upsertTopic: (name, config, now) =>
        read("upsertTopic", function*() {
          yield run(q.upsertTopic, { name, config: JSON.stringify(config), now })
        }),
      topics: read("topics", function*() {
        return ((yield all(q.topics, {})) as ReadonlyArray<TopicsTable>).map(topicOfRow)
      }),
      beatMember: (beat) =>
        read("beatMember", function*() {
          yield run(q.beatMember, { group: beat.group, member: beat.member, pid: beat.pid, host: beat.host, now: beat.now })
        }),
      leaveMember: (group, member) =>
        read("leaveMember", function*() {
          yield run(q.leaveMember, { group, member })
        }),
      groupMembers: (group) =>
        read("groupMembers", function*() {
          return ((yield all(q.groupMembers, { group })) as ReadonlyArray<GroupMembersTable>).map(memberOfRow)
        })
    },

    admin: {
      readTopic: (topic, after, limit) => read("readTopic", function*() {
        return ((yield events(q.readTopic, { topic, after, limit })) as EventRows).events
      }),
      topicStats: read("topicStats", function*() {
        const rows = (yield all(q.topicStats, {})) as ReadonlyArray<{ topic: string; events: number; first_seq: number; last_seq: number; last_ts: number }>
        return rows.map((r) => ({ topic: r.topic, events: num(r.events), firstSeq: num(r.first_seq), lastSeq: num(r.last_seq), lastTs: num(r.last_ts) }))
      }),
      groupPositions: driver.transaction("groupPositions", "read", () => groupPositions(q)),
      floorForLast: (topic, count) =>
        driver.transaction("floorForLast", "read", function*() {
          if (count <= 0) return yield* highestSeq(topic)
          const row = (yield get(q.nthLastSeq, { topic, offset: count - 1 })) as { seq: number } | undefined
          return row === undefined ? 0 : num(row.seq) - 1
        }),
      countEvents: (topic, after, upto, partition) =>
        read("countEvents", function*() {
          const row = partition === undefined
            ? yield get(q.countEvents, { topic, after, upto })
            : yield get(q.countPartitionEvents, { topic, partition, after, upto })
          return num((row as { n: number } | undefined)?.n ?? 0)
        }),
      cursorGroupsWithPrefix: (prefix) =>
        read("cursorGroupsWithPrefix", function*() {
          return ((yield all(q.cursorGroupsWithPrefix, { prefix, length: prefix.length })) as ReadonlyArray<{ grp: string }>).map((r) => r.grp)
        }),
      members: read("members", function*() {
        return ((yield all(q.allMembers, {})) as ReadonlyArray<GroupMembersTable>).map(memberOfRow)
      }),
      eventsCausedBy: (eventId, after, upto, limit) =>
        driver.transaction("eventsCausedBy", "read", function*() {
          // The id as a JSON string inside the array; LIKE's wildcards (and the escape) escaped.
          const pattern = `%${JSON.stringify(eventId).replace(/[!%_]/g, (c) => `!${c}`)}%`
          const rows = ((yield events(q.eventsCausedBy, { pattern, after, upto, limit })) as EventRows).events
          const total = num(((yield get(q.countCausedBy, { pattern, after, upto })) as { n: number } | undefined)?.n ?? 0)
          // SQLite's LIKE ignores ASCII case: keep the events that name exactly this id.
          const found = rows.filter((e) => e.causedBy?.includes(eventId) === true)
          return { events: found, total: total - (rows.length - found.length) }
        }),
      deliveries: (query) =>
        query.eventId !== undefined && unstorable(query.eventId) ? Effect.succeed([]) : read("deliveries", function*() {
          const rows = query.eventId !== undefined
            ? ((yield all(q.eventDeliveries, { eventId: query.eventId })) as ReadonlyArray<DeliveriesTable>).filter((r) => query.group === undefined || r.grp === query.group)
            : query.group !== undefined
            ? (yield all(q.groupDeliveries, { group: query.group })) as ReadonlyArray<DeliveriesTable>
            : []
          return rows.map(deliveryOfRow)
        }),
      deadLetters: (query) =>
        query.eventId !== undefined && unstorable(query.eventId) ? Effect.succeed([]) : read("deadLetters", function*() {
          const rows = (yield all(q.deadLetters, { group: query.group ?? null, topic: query.topic ?? null, eventId: query.eventId ?? null, limit: query.limit ?? noLimit, offset: query.offset ?? 0 })) as ReadonlyArray<DeadLettersTable>
          return rows.map(deadLetterOfRow)
        }),
      requeue: (group, seqs) => driver.transaction("requeue", "write", () => requeue(q, group, seqs)),
      dropDeadLetter: (group, seq) =>
        read("dropDeadLetter", function*() {
          return ((yield run(q.deleteDeadLetter, { group, seq })) as number) === 1
        }),
      setCursor: (group, topic, floor, now) => driver.transaction("setCursor", "write", () => setCursor(q, group, topic, floor, now)),
      deleteGroup: (group, expectedOwner) => driver.transaction("deleteGroup", "write", () => deleteGroup(q, group, expectedOwner)),
      purgeStep: (topic, upto, limit) => driver.transaction("purgeStep", "bulk", () => purgeStep(q, topic, upto, limit)),
      finishPurge: (topic, upto, now, forget) => driver.transaction("finishPurge", "write", () => finishPurge(q, topic, upto, now, forget))
    },

    maintenance: {
      compactStep: (step) => driver.transaction("compactStep", "bulk", () => compactStep(q, step)),
      pruneStep: (step) => driver.transaction("pruneStep", "bulk", () => pruneStep(q, step))
    },

    capabilities: { ...driver.capabilities, operations: () => operations }
  }
}
