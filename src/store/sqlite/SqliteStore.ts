/**
 * The SQLite store: better-sqlite3 in WAL mode, one connection per process. Every statement is a
 * Kysely-built template prepared once; writes run in `BEGIN IMMEDIATE` transactions. better-sqlite3
 * is synchronous, so each store call is atomic with respect to the event loop: no other fiber can
 * interleave inside a transaction. `:memory:` runs the same code on an in-memory database.
 *
 * Kysely executes only the migrations (at open, before anything else runs); after that the store
 * runs its templates directly on the handle.
 */
import SqliteDatabase from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import { Kysely, SqliteDialect } from "kysely"
import { Migrator } from "kysely/migration"
import { describeCause, StoreError, StoreOpenError } from "../errors.ts"
import { migrationProvider, migrations } from "../migrations/index.ts"
import { makeQueries } from "../queries.ts"
import type { Cursor, Delivery, Event, EventTuple } from "../records.ts"
import { decodeEventTuple } from "../records.ts"
import {
  cursorOfRow, deadLetterOfRow, deadLetterParams, deliveryOfRow, deliveryParams, encodeRanges, leaseOfRow, num,
  topicOfRow
} from "../rows.ts"
import type { ConsumerGroupsTable, CursorsTable, Database, DeadLettersTable, DeliveriesTable, TopicsTable } from "../schema.ts"
import {
  type CommitResult, type HandlerTransaction, type ProgressWrite, Store, type StoreShape, TransactionSlot, type WriteBatch
} from "../Store.ts"
import { addDone } from "../ackRanges.ts"
import { bind, type Template } from "../template.ts"
import { makeMaintenance } from "./maintenance.ts"

export interface SqliteOptions {
  /** A file path, or `:memory:`. */
  readonly filename: string
  /**
   * An open better-sqlite3 connection to use instead of opening `filename` (the application's
   * own database, say). The store configures it (WAL, synchronous, busy timeout) and migrates it,
   * but leaves closing it to its owner.
   */
  readonly database?: SqliteDatabase.Database | undefined
  /** `NORMAL` (default) may lose the last transactions on power failure, never on a process crash;
   * `FULL` syncs every commit. */
  readonly synchronous?: "NORMAL" | "FULL" | undefined
  /** How long a write waits for another process's write lock (default 5000 ms). */
  readonly busyTimeoutMs?: number | undefined
}

const openDatabase = (options: SqliteOptions) =>
  Effect.try({
    try: () => {
      const db = options.database ?? new SqliteDatabase(options.filename)
      try {
        // The busy timeout first: switching a new file to WAL waits for other processes opening it.
        db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`)
        db.pragma("journal_mode = WAL")
        db.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`)
        db.pragma("foreign_keys = OFF")
        return db
      } catch (e) {
        if (options.database === undefined) db.close()
        throw e
      }
    },
    catch: (cause) =>
      new StoreOpenError({ reason: "unreadable", location: options.filename, detail: describeCause(cause) })
  })

/** Refuses a database that ran migrations this version does not have. */
const checkNotNewer = (db: SqliteDatabase.Database, location: string) =>
  Effect.gen(function*() {
    const known = new Set(Object.keys(migrations("sqlite")))
    const applied = yield* Effect.try({
      try: () => {
        const table = db.prepare("select name from sqlite_master where type = 'table' and name = 'kysely_migration'").get()
        return table === undefined
          ? []
          : (db.prepare("select name from kysely_migration order by name").all() as Array<{ name: string }>).map((r) => r.name)
      },
      catch: (cause) => new StoreOpenError({ reason: "unreadable", location, detail: describeCause(cause) })
    })
    const unknown = applied.filter((name) => !known.has(name))
    if (unknown.length > 0) {
      return yield* new StoreOpenError({ reason: "newer", location, detail: `unknown migrations: ${unknown.join(", ")}` })
    }
  })

/**
 * Migrates under the database's write lock (`BEGIN IMMEDIATE`), so processes opening a new file
 * at the same moment take turns: the second finds the migrations done instead of racing to create
 * the same tables.
 */
const migrate = (db: SqliteDatabase.Database, kysely: Kysely<Database>, location: string) =>
  Effect.tryPromise({
    try: async () => {
      db.exec("BEGIN IMMEDIATE")
      try {
        const result = await new Migrator({ db: kysely, provider: migrationProvider("sqlite"), disableTransactions: true }).migrateToLatest()
        db.exec(result.error === undefined ? "COMMIT" : "ROLLBACK")
        return result
      } catch (e) {
        if (db.inTransaction) db.exec("ROLLBACK")
        throw e
      }
    },
    catch: (cause) => new StoreOpenError({ reason: "migration", location, detail: describeCause(cause) })
  }).pipe(
    Effect.flatMap(({ error }) =>
      error === undefined
        ? Effect.void
        : Effect.fail(new StoreOpenError({ reason: "migration", location, detail: describeCause(error) }))
    )
  )

const attempt = <A>(op: string, f: () => A): Effect.Effect<A, StoreError> =>
  Effect.try({ try: f, catch: (cause) => new StoreError({ op, cause }) })

/** Opens (and migrates) a SQLite store for the life of the current scope. */
export const make = Effect.fnUntraced(function*(options: SqliteOptions) {
  const location = options.filename
  const close = (db: SqliteDatabase.Database) => Effect.sync(() => options.database === undefined && db.close())
  const ready = Effect.flatMap(openDatabase(options), (db) =>
    Effect.gen(function*() {
      yield* checkNotNewer(db, location)
      const kysely = new Kysely<Database>({ dialect: new SqliteDialect({ database: db }) })
      yield* migrate(db, kysely, location)
      return { db, kysely }
    }).pipe(Effect.onError(() => close(db))))
  // Processes opening a new file together can meet a lock the busy timeout does not wait for (while
  // one sets up WAL): such an open is tried again, on the Clock.
  const { db, kysely } = yield* Effect.acquireRelease(
    ready.pipe(Effect.retry({ while: (e) => /database is locked|SQLITE_BUSY/.test(e.detail), schedule: Schedule.exponential("20 millis"), times: 6 })),
    ({ db }) => close(db)
  )
  return makeStore(db, kysely, location)
})

const makeStore = (db: SqliteDatabase.Database, kysely: Kysely<Database>, location: string): StoreShape => {
  const q = makeQueries(kysely)
  const statements = new Map<Template<string>, SqliteDatabase.Statement>()
  const stmt = (t: Template<string>): SqliteDatabase.Statement => {
    let s = statements.get(t)
    if (s === undefined) {
      s = db.prepare(t.sql)
      statements.set(t, s)
    }
    return s
  }
  const rawStmt = (t: Template<string>): SqliteDatabase.Statement => {
    let s = statements.get(t)
    if (s === undefined) {
      s = db.prepare(t.sql).raw(true)
      statements.set(t, s)
    }
    return s
  }
  const run = <P extends string>(t: Template<P>, values: { readonly [K in P]: unknown }) => stmt(t).run(bind(t, values))
  const get = <R, P extends string>(t: Template<P>, values: { readonly [K in P]: unknown }) =>
    stmt(t).get(bind(t, values)) as R | undefined
  const all = <R, P extends string>(t: Template<P>, values: { readonly [K in P]: unknown }) =>
    stmt(t).all(bind(t, values)) as Array<R>
  const events = <P extends string>(t: Template<P>, values: { readonly [K in P]: unknown }): Array<Event> => {
    const rows = rawStmt(t).all(bind(t, values)) as Array<EventTuple>
    const out = new Array<Event>(rows.length)
    for (let i = 0; i < rows.length; i++) out[i] = decodeEventTuple(rows[i]!)
    return out
  }

  const insertEvent = q.insertEvent
  const commitTx = db.transaction((batch: WriteBatch): CommitResult => {
    const appended = new Array<CommitResult["appended"][number]>(batch.appends.length)
    const insert = stmt(insertEvent)
    for (let i = 0; i < batch.appends.length; i++) {
      const draft = batch.appends[i]!
      const info = insert.run(bind(insertEvent, draft))
      if (info.changes === 1) {
        appended[i] = { seq: Number(info.lastInsertRowid), existing: undefined }
      } else {
        const existing = events(q.eventById, { id: draft.id })[0]!
        appended[i] = { seq: existing.seq, existing }
      }
    }
    const leases = batch.leases ?? []
    const acks = batch.acks ?? []
    if (
      batch.progress.length === 0 && batch.progressNow === undefined && acks.length === 0 && batch.deliveries.length === 0 &&
      batch.deadLetters.length === 0 && leases.length === 0
    ) {
      return { appended, fenced: [] }
    }
    const owners = new Map<string, string | null>()
    const fenced = new Set<string>()
    const holds = (group: string, owner: string): boolean => {
      let current = owners.get(group)
      if (current === undefined) {
        current = get<{ owner_sid: string | null }, "group">(q.leaseOwner, { group })?.owner_sid ?? null
        owners.set(group, current)
      }
      if (current === owner) return true
      fenced.add(group)
      return false
    }
    const writeProgress = (p: ProgressWrite) => {
      if (!holds(p.group, p.owner)) return
      run(q.writeProgress, {
        topic: p.topic, group: p.group, floor: p.floor, acked: encodeRanges(p.acked), leasedUpto: p.leasedUpto, now: batch.now
      })
    }
    for (const p of batch.progress) writeProgress(p)
    if (batch.progressNow !== undefined) for (const p of batch.progressNow()) writeProgress(p)
    if (acks.length > 0) {
      const seqsByCursor = new Map<string, { group: string; topic: string; seqs: Array<number> }>()
      for (const a of acks) {
        // Appends in this batch may be the acked event's publishes: without the ack they must
        // not exist either, so a fenced ack rolls the whole transaction back.
        if (!holds(a.group, a.owner)) throw new Error(`group ${a.group} is consumed by another owner: its ack and the publishes that go with it were rolled back`)
        const id = `${a.group}\u0000${a.topic}`
        let entry = seqsByCursor.get(id)
        if (entry === undefined) seqsByCursor.set(id, entry = { group: a.group, topic: a.topic, seqs: [] })
        entry.seqs.push(a.seq)
      }
      for (const { group, topic, seqs } of seqsByCursor.values()) {
        const row = get<CursorsTable, "topic" | "group">(q.getCursor, { topic, group })
        if (row === undefined) continue
        const cursor = cursorOfRow(row)
        const done = addDone(cursor.floor, cursor.acked, seqs)
        run(q.writeProgress, {
          topic, group, floor: done.floor, acked: encodeRanges(done.acked), leasedUpto: Math.max(cursor.leasedUpto, done.floor), now: batch.now
        })
      }
    }
    for (const w of batch.deliveries) {
      if (w._tag === "upsert") {
        if (holds(w.delivery.group, w.owner)) run(q.upsertDelivery, deliveryParams(w.delivery))
      } else if (holds(w.group, w.owner)) {
        run(q.deleteDelivery, { group: w.group, seq: w.seq })
      }
    }
    for (const w of batch.deadLetters) {
      const d = w.deadLetter
      if (!holds(d.group, w.owner)) continue
      run(q.upsertDeadLetter, deadLetterParams(d))
      run(q.deleteDelivery, { group: d.group, seq: d.seq })
    }
    if (leases.length > 0) {
      const maxByTopic = new Map<string, number>()
      for (let i = 0; i < batch.appends.length; i++) {
        const a = appended[i]!
        if (a.existing !== undefined) continue
        const topic = batch.appends[i]!.topic
        if ((maxByTopic.get(topic) ?? 0) < a.seq) maxByTopic.set(topic, a.seq)
      }
      for (const l of leases) {
        const seq = maxByTopic.get(l.topic)
        if (seq !== undefined && holds(l.group, l.owner)) run(q.raiseLease, { topic: l.topic, group: l.group, seq, now: batch.now })
      }
    }
    return { appended, fenced: [...fenced] }
  })

  const claimTx = db.transaction((claim: Parameters<StoreShape["claimLease"]>[0]): boolean => {
    run(q.ensureGroup, { group: claim.group, now: claim.now })
    const values = {
      group: claim.group, owner: claim.owner, pid: claim.pid, host: claim.host, expiresAt: claim.expiresAt, now: claim.now
    }
    const info = claim.expectedOwner === null
      ? run(q.claimLeaseFromNobody, values)
      : run(q.claimLeaseFrom, { ...values, expected: claim.expectedOwner })
    return info.changes === 1
  })

  const initCursorTx = db.transaction((group: string, topic: string, floor: number, now: number): Cursor => {
    run(q.insertCursor, { topic, group, floor, now })
    return cursorOfRow(get<CursorsTable, "topic" | "group">(q.getCursor, { topic, group })!)
  })

  const setCursorTx = db.transaction((group: string, topic: string, floor: number, now: number) => {
    run(q.upsertCursor, { topic, group, floor, now })
    run(q.deleteTopicDeliveries, { group, topic })
    run(q.deleteDeadLettersAbove, { group, topic, floor })
  })

  const requeueTx = db.transaction((group: string, seqs: ReadonlyArray<number> | "all", now: number) => {
    const rows = seqs === "all"
      ? all<DeadLettersTable, "group">(q.groupDeadLetters, { group })
      : seqs.flatMap((seq) => {
        const row = get<DeadLettersTable, "group" | "seq">(q.deadLetter, { group, seq })
        return row === undefined ? [] : [row]
      })
    const out: Array<Delivery> = []
    for (const row of rows) {
      const dl = deadLetterOfRow(row)
      const delivery: Delivery = {
        group, topic: dl.topic, seq: dl.seq, eventId: dl.eventId, attempts: 0, state: "requeued",
        nextAttemptAt: null, lastError: dl.errorMessage, lastErrorStack: dl.errorStack,
        firstFailedAt: null, lastFailedAt: null
      }
      run(q.upsertDelivery, deliveryParams(delivery))
      run(q.deleteDeadLetter, { group, seq: dl.seq })
      out.push(delivery)
    }
    void now
    return out
  })

  const loadGroupTx = db.transaction((group: string, topics: ReadonlyArray<string>) => {
    const leaseRow = get<ConsumerGroupsTable, "group">(q.readLease, { group })
    const cursors = new Map<string, Cursor>()
    for (const topic of topics) {
      const row = get<CursorsTable, "topic" | "group">(q.getCursor, { topic, group })
      if (row !== undefined) cursors.set(topic, cursorOfRow(row))
    }
    const wanted = new Set(topics)
    const deliveries = all<DeliveriesTable, "group">(q.groupDeliveries, { group })
      .map(deliveryOfRow).filter((d) => wanted.has(d.topic))
    const holds = all<DeadLettersTable, "group">(q.groupHolds, { group })
      .map(deadLetterOfRow).filter((d) => wanted.has(d.topic))
    return { lease: leaseRow === undefined ? undefined : leaseOfRow(leaseRow), cursors, deliveries, holds }
  })

  // ---- handler transactions -----------------------------------------------------------------
  // One connection serves every fiber, so while a handler holds a transaction open, calls from
  // anyone else wait for it to end (they would otherwise run inside it); calls made with the
  // holder's `TransactionSlot` run in it.
  let open: { readonly tx: HandlerTransaction; readonly slot: { current: HandlerTransaction | undefined }; readonly waiters: Array<() => void> } | undefined

  const release = (tx: HandlerTransaction) => {
    const held = open
    if (held === undefined || held.tx !== tx) return
    open = undefined
    held.slot.current = undefined
    for (const wake of held.waiters) wake()
  }

  const waitForTransaction: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (open === undefined) return resume(Effect.void)
    open.waiters.push(() => resume(Effect.void))
  })

  const gated = <A>(op: string, f: () => A): Effect.Effect<A, StoreError> => {
    const run = attempt(op, f)
    const self: Effect.Effect<A, StoreError> = Effect.suspend(() =>
      open === undefined
        ? run
        : Effect.withFiber((fiber) => (open !== undefined && fiber.getRef(TransactionSlot) !== open.slot ? Effect.andThen(waitForTransaction, self) : run))
    )
    return self
  }

  const beginTransaction: Effect.Effect<HandlerTransaction, StoreError> = Effect.withFiber((fiber) => {
    const slot = fiber.getRef(TransactionSlot)
    if (slot.current !== undefined) return Effect.succeed(slot.current)
    return gated("beginTransaction", () => {
      db.exec("BEGIN IMMEDIATE")
      // The handler's Kysely runs its statements on the store's connection only while this
      // transaction is open: a handle kept past its run (a timed-out handler still going, a saved
      // reference) fails instead of writing outside it or inside another run's transaction.
      const guarded = {
        prepare: (text: string) => {
          if (open?.tx !== tx) {
            throw new Error("this handler transaction has ended (its run was acknowledged, failed or timed out): use ctx.transaction inside a run, and only until it settles")
          }
          return db.prepare(text)
        },
        close: () => {}
      }
      const tx: HandlerTransaction = {
        db: new Kysely<any>({ dialect: new SqliteDialect({ database: guarded }) }),
        commit: (batch, onCommit) =>
          Effect.try({
            try: () => {
              if (open?.tx !== tx) throw new Error("the transaction already ended")
              try {
                const result = commitTx(batch)
                db.exec("COMMIT")
                onCommit?.()
                return result
              } catch (e) {
                if (db.inTransaction) db.exec("ROLLBACK")
                throw e
              } finally {
                release(tx)
              }
            },
            catch: (cause) => new StoreError({ op: "commit", cause })
          }),
        rollback: Effect.sync(() => {
          if (open?.tx !== tx) return
          try {
            if (db.inTransaction) db.exec("ROLLBACK")
          } finally {
            release(tx)
          }
        })
      }
      open = { tx, slot, waiters: [] }
      slot.current = tx
      return tx
    })
  })

  const maintenance = makeMaintenance(db, q, stmt)

  return {
    dialect: "sqlite",
    location,
    commit: (batch) => gated("commit", () => commitTx.immediate(batch)),
    beginTransaction,
    readTopic: (topic, after, limit) => gated("readTopic", () => events(q.readTopic, { topic, after, limit })),
    readPage: (topic, after, limit) =>
      gated("readPage", () => {
        const rows = rawStmt(q.readTopic).all(bind(q.readTopic, { topic, after, limit })) as Array<EventTuple>
        const events = new Array<Event>(rows.length)
        let bytes = 0
        for (let i = 0; i < rows.length; i++) {
          events[i] = decodeEventTuple(rows[i]!)
          bytes += rows[i]![7].length
        }
        return { events, bytes }
      }),
    readSeqs: (seqs) =>
      gated("readSeqs", () =>
        seqs.length === 1 ? events(q.eventBySeq, { seq: seqs[0] }) : events(q.eventsBySeqs, { seqs: JSON.stringify(seqs) })
      ),
    eventById: (id) => gated("eventById", () => events(q.eventById, { id })[0]),
    latestByKey: (topic, keys) =>
      gated("latestByKey", () => {
        const out = new Map<string, Event>()
        const wanted = [...new Set(keys)]
        if (wanted.length === 0) return out
        const found = wanted.length === 1
          ? events(q.latestOfKey, { topic, key: wanted[0] })
          : events(q.latestOfKeys, { topic, keys: JSON.stringify(wanted) })
        // A tombstone (null payload) as the latest event: the key is gone.
        const byKey = new Map(found.filter((e) => e.payload !== null).map((e) => [e.key!, e]))
        for (const key of wanted) {
          const event = byKey.get(key)
          if (event !== undefined) out.set(key, event)
        }
        return out
      }),
    headSeq: (topic) => gated("headSeq", () => num(get<{ seq: number | null }, "topic">(q.headSeq, { topic })?.seq ?? 0)),
    floorForTs: (topic, ts) =>
      gated("floorForTs", () => {
        const first = get<{ seq: number | null }, "topic" | "ts">(q.firstSeqAtOrAfterTs, { topic, ts })?.seq ?? null
        if (first !== null) return num(first) - 1
        return num(get<{ seq: number | null }, "topic">(q.headSeq, { topic })?.seq ?? 0)
      }),
    changeToken: gated("changeToken", () => db.pragma("data_version", { simple: true }) as number),

    readLease: (group) =>
      gated("readLease", () => {
        const row = get<ConsumerGroupsTable, "group">(q.readLease, { group })
        return row === undefined ? undefined : leaseOfRow(row)
      }),
    claimLease: (claim) => gated("claimLease", () => claimTx.immediate(claim)),
    renewLease: (group, owner, expiresAt, now) =>
      gated("renewLease", () => run(q.renewLease, { group, owner, expiresAt, now }).changes === 1),
    releaseLease: (group, owner, now) =>
      gated("releaseLease", () => {
        run(q.releaseLease, { group, owner, now })
      }),
    loadGroup: (group, topics) => gated("loadGroup", () => loadGroupTx.deferred(group, topics)),
    initCursor: (group, topic, floor, now) => gated("initCursor", () => initCursorTx.immediate(group, topic, floor, now)),
    setCursor: (group, topic, floor, now) =>
      gated("setCursor", () => {
        setCursorTx.immediate(group, topic, floor, now)
      }),
    getCursor: (group, topic) =>
      gated("getCursor", () => {
        const row = get<CursorsTable, "topic" | "group">(q.getCursor, { topic, group })
        return row === undefined ? undefined : cursorOfRow(row)
      }),

    deadLetters: (query) =>
      gated("deadLetters", () =>
        all<DeadLettersTable, "group" | "topic" | "limit">(q.deadLetters, {
          group: query.group ?? null, topic: query.topic ?? null, limit: query.limit ?? -1
        }).map(deadLetterOfRow)
      ),
    requeue: (group, seqs, now) => gated("requeue", () => requeueTx.immediate(group, seqs, now)),
    dropDeadLetter: (group, seq) =>
      gated("dropDeadLetter", () => {
        return db.transaction(() => {
          const removed = run(q.deleteDeadLetter, { group, seq }).changes === 1
          return removed
        }).immediate()
      }),

    upsertTopic: (name, config, now) =>
      gated("upsertTopic", () => {
        run(q.upsertTopic, { name, config: JSON.stringify(config), now })
      }),
    topics: gated("topics", () => all<TopicsTable, never>(q.topics, {}).map(topicOfRow)),

    topicStats: gated("topicStats", () =>
      all<{ topic: string; events: number; first_seq: number; last_seq: number; last_ts: number }, never>(q.topicStats, {})
        .map((r) => ({ topic: r.topic, events: num(r.events), firstSeq: num(r.first_seq), lastSeq: num(r.last_seq), lastTs: num(r.last_ts) }))
    ),
    groupPositions: gated("groupPositions", () =>
      db.transaction(() => {
        const counts = (t: typeof q.retryingCounts) => {
          const out = new Map<string, number>()
          for (const r of all<{ grp: string; topic: string; n: number }, never>(t, {})) out.set(`${r.grp}\u0000${r.topic}`, num(r.n))
          return out
        }
        const retrying = counts(q.retryingCounts)
        const dead = counts(q.deadLetterCounts)
        return all<CursorsTable & Omit<ConsumerGroupsTable, "grp" | "created_at" | "updated_at">, never>(q.allCursors, {}).map((row) => ({
          cursor: cursorOfRow(row),
          lease: row.owner_sid === null ? undefined : leaseOfRow(row),
          retrying: retrying.get(`${row.grp}\u0000${row.topic}`) ?? 0,
          deadLetters: dead.get(`${row.grp}\u0000${row.topic}`) ?? 0,
          skipped: num(row.skipped)
        }))
      }).deferred()
    ),
    floorForLast: (topic, count) =>
      gated("floorForLast", () => {
        if (count <= 0) return num(get<{ seq: number | null }, "topic">(q.headSeq, { topic })?.seq ?? 0)
        const row = get<{ seq: number }, "topic" | "offset">(q.nthLastSeq, { topic, offset: count - 1 })
        return row === undefined ? 0 : num(row.seq) - 1
      }),
    countEvents: (topic, afterSeq, uptoSeq) =>
      gated("countEvents", () => num(get<{ n: number }, "topic" | "after" | "upto">(q.countEvents, { topic, after: afterSeq, upto: uptoSeq })?.n ?? 0)),

    compactStep: (step) => gated("compactStep", () => maintenance.compact(step)),
    pruneStep: (step) => gated("pruneStep", () => maintenance.prune(step)),
    checkpoint: gated("checkpoint", () => maintenance.checkpoint())
  }
}

/** The SQLite store as a layer; the database closes when the layer's scope closes. */
export const layer = (options: SqliteOptions): Layer.Layer<Store, StoreOpenError> => Layer.effect(Store, make(options))
