/**
 * The transactional outbox: messages written in the application's own database transaction, next
 * to its business rows, and published into the bus later by a relay (`Relay.ts`). This module
 * holds the `Outbox` service: making sure its table exists, `add`/`addAll` (checked like a
 * publish, written through the caller's transaction, so a message exists exactly when the
 * transaction commits), counts for metrics, and retrying failed rows. It never publishes.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { Kysely } from "kysely"
import { PublishError } from "../runtime/busErrors.ts"
import { makeIdGenerator } from "../runtime/ids.ts"
import { prepare } from "../runtime/publish.ts"
import { outboxSpec } from "../options/outboxSpec.ts"
import { check, problemText } from "../options/spec.ts"
import { OutboxAddError, OutboxDbError, OutboxOptionsError } from "./outboxErrors.ts"
import { ensure, type OutboxDatabase, type OutboxTable, tableNameProblem } from "./outboxTable.ts"
import { countStates, insertRows, type OutboxStats, retryFailed } from "./sql.ts"
import { notifyAdd } from "./wakeOnAdd.ts"

export type { OutboxStats } from "./sql.ts"

export interface OutboxOptions {
  /** The application's database: a root Kysely (not a transaction). The relay claims rows through it. */
  readonly db: Kysely<any>
  /** The outbox table's name (default `sib_outbox`). One database may hold several outboxes. */
  readonly table?: string | undefined
  /** Largest message accepted, in bytes of JSON (default 1 MiB, the bus's default). */
  readonly maxPayloadBytes?: number | undefined
}

/** A message to publish once the caller's transaction commits. */
export interface OutboxMessage {
  readonly topic: string
  readonly payload: unknown
  readonly key?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
}

export interface OutboxShape {
  readonly table: string
  /** The database the outbox lives in. */
  readonly db: Kysely<any>
  /**
   * Checks `message` as a publish would (topic name, key, headers, JSON payload, size) and
   * inserts it through `trx`, the caller's transaction; returns its id, which will also be the
   * event's id. A refused message writes nothing. The topic's schema is checked by the bus when
   * the relay publishes (a mismatch is a failed attempt of that row).
   */
  readonly add: (trx: Kysely<any>, message: OutboxMessage) => Effect.Effect<string, OutboxAddError | OutboxDbError>
  /** `add` for several messages in one statement: all are inserted or, on any bad one, none. */
  readonly addAll: (
    trx: Kysely<any>,
    messages: ReadonlyArray<OutboxMessage>
  ) => Effect.Effect<ReadonlyArray<string>, OutboxAddError | OutboxDbError>
  /**
   * Runs `f` in a transaction on the outbox's database: committed when `f` succeeds, rolled back
   * when it fails, dies or is interrupted. Write business rows and `add` messages through `trx`.
   */
  readonly transaction: <A, E, R>(f: (trx: Kysely<any>) => Effect.Effect<A, E, R>) => Effect.Effect<A, E | OutboxDbError, R>
  /** Rows by state: gauges for metrics (`sent` counts rows not yet pruned). */
  readonly stats: Effect.Effect<OutboxStats, OutboxDbError>
  /** Makes failed rows (all, or these ids) pending again with no attempts; returns how many. */
  readonly retryFailed: (ids?: ReadonlyArray<string>) => Effect.Effect<number, OutboxDbError>
}

const messageFields = ["topic", "payload", "key", "headers"]
/** Rows per INSERT in `addAll` (13 parameters each, well under every dialect's limit). */
const insertChunk = 500

const describeValue = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "an array" : typeof v)

const isKysely = (v: unknown): v is Kysely<any> =>
  typeof v === "object" && v !== null && typeof (v as { insertInto?: unknown }).insertInto === "function" &&
  typeof (v as { selectFrom?: unknown }).selectFrom === "function"

const checkOptions = (options: OutboxOptions): OutboxOptionsError | { table: string; maxPayloadBytes: number } => {
  const checked = check(outboxSpec, options)
  if (!checked.ok) return new OutboxOptionsError({ of: "outbox", detail: problemText(checked.problem), problem: checked.problem })
  const table = checked.value.table!
  const problem = tableNameProblem(table)
  if (problem !== undefined) return new OutboxOptionsError({ of: "outbox", detail: problem })
  return { table, maxPayloadBytes: checked.value.maxPayloadBytes! }
}

/** Opens an outbox on `options.db`, creating or migrating its table first. */
export const make = Effect.fnUntraced(function*(options: OutboxOptions) {
  const checked = checkOptions(options)
  if (checked instanceof OutboxOptionsError) return yield* checked
  const { table, maxPayloadBytes } = checked
  const db = options.db
  const dbError = (op: string) => (cause: unknown) => new OutboxDbError({ table, op, cause })
  // Processes starting together on a new database race to create the table: the loser's
  // migration fails, and trying again finds it done.
  yield* Effect.tryPromise({ try: () => ensure(db, table), catch: dbError("ensure") }).pipe(
    Effect.retry({ times: 3, schedule: Schedule.spaced("50 millis") })
  )
  const limits = { maxPayloadBytes }
  const ids = makeIdGenerator()

  /** The row for one message, or why it is refused. */
  const rowOf = (message: OutboxMessage, item: number | undefined, clock: Clock.Clock, random: Random.Random, now: number): OutboxTable | OutboxAddError => {
    const refuse = (topic: string, reason: OutboxAddError["reason"], detail: string) => new OutboxAddError({ table, topic, reason, detail, item })
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      return refuse("", "message", `a message must be an object { topic, payload, key?, headers? }, got ${describeValue(message)}`)
    }
    const topic = typeof message.topic === "string" ? message.topic : ""
    const unknown = Object.keys(message).filter((k) => !messageFields.includes(k) && (message as unknown as Record<string, unknown>)[k] !== undefined)
    if (unknown.length > 0) {
      return refuse(topic, "options", `unknown field ${unknown.map((k) => JSON.stringify(k)).join(", ")}; a message has ${messageFields.join(", ")}`)
    }
    if (message.payload === undefined) return refuse(topic, "payload", "the message has no payload (use null for an empty one)")
    const prepared = prepare(message.topic, message.payload, { key: message.key, headers: message.headers }, undefined, limits, {
      id: () => ids.next(clock, random),
      ts: now,
      sid: ""
    })
    if (prepared instanceof PublishError) return refuse(prepared.topic, prepared.reason, prepared.detail)
    const d = prepared.draft
    return {
      id: d.id, topic: d.topic, payload: d.payload, key: d.key, headers: d.headers, state: "pending",
      created_at: now, attempts: 0, next_attempt_at: now, claimed_by: null, claimed_until: null, last_error: null, sent_at: null
    }
  }

  const notATransaction = (trx: unknown) =>
    new OutboxAddError({
      table, topic: "", reason: "message",
      detail: `the first argument must be the caller's Kysely transaction (or Kysely instance), got ${describeValue(trx)}`
    })

  /**
   * Transactions of `transaction` that added rows: their commit wakes the relays again. The wake
   * at the add comes before the commit; where the relay reads through another connection
   * (Postgres) it finds nothing yet, and without a second wake it would find the rows only at
   * its re-check or poll.
   */
  const addedThrough = new WeakSet<object>()

  const insert = (trx: Kysely<any>, rows: ReadonlyArray<OutboxTable>) =>
    Effect.tryPromise({
      try: async () => {
        for (let i = 0; i < rows.length; i += insertChunk) {
          await insertRows(trx as Kysely<OutboxDatabase>, table, rows.slice(i, i + insertChunk))
        }
      },
      catch: dbError("add")
    }).pipe(Effect.tap(() =>
      Effect.sync(() => {
        addedThrough.add(trx)
        notifyAdd(db, table)
      })
    ))

  const add: OutboxShape["add"] = (trx, message) =>
    Effect.gen(function*() {
      if (!isKysely(trx)) return yield* notATransaction(trx)
      const clock = yield* Clock.Clock
      const row = rowOf(message, undefined, clock, yield* Random.Random, clock.currentTimeMillisUnsafe())
      if (row instanceof OutboxAddError) return yield* row
      yield* insert(trx, [row])
      return row.id
    })

  const addAll: OutboxShape["addAll"] = (trx, messages) =>
    Effect.gen(function*() {
      if (!isKysely(trx)) return yield* notATransaction(trx)
      if (!Array.isArray(messages)) {
        return yield* new OutboxAddError({ table, topic: "", reason: "message", detail: `addAll takes an array of messages, got ${describeValue(messages)}` })
      }
      const clock = yield* Clock.Clock
      const random = yield* Random.Random
      const now = clock.currentTimeMillisUnsafe()
      const rows: Array<OutboxTable> = []
      for (let i = 0; i < messages.length; i++) {
        const row = rowOf(messages[i]!, i, clock, random, now)
        if (row instanceof OutboxAddError) return yield* row
        rows.push(row)
      }
      yield* insert(trx, rows)
      return rows.map((r) => r.id)
    })

  const transaction: OutboxShape["transaction"] = (f) =>
    Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => db.startTransaction().execute(), catch: dbError("begin") }),
      (trx) =>
        Effect.flatMap(f(trx), (a) =>
          Effect.as(
            Effect.tryPromise({ try: () => trx.commit().execute(), catch: dbError("commit") }).pipe(
              Effect.tap(() => Effect.sync(() => addedThrough.has(trx) && notifyAdd(db, table)))
            ),
            a
          )),
      (trx, exit) =>
        Exit.isFailure(exit) && !trx.isCommitted && !trx.isRolledBack
          ? Effect.ignore(Effect.tryPromise({ try: () => trx.rollback().execute(), catch: dbError("rollback") }))
          : Effect.void
    )

  const outbox: OutboxShape = {
    table,
    db,
    add,
    addAll,
    transaction,
    stats: Effect.tryPromise({ try: () => countStates(db as Kysely<OutboxDatabase>, table), catch: dbError("stats") }),
    retryFailed: (only) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.tryPromise({ try: () => retryFailed(db as Kysely<OutboxDatabase>, table, only, now), catch: dbError("retryFailed") })
      ).pipe(Effect.tap((n) => Effect.sync(() => n > 0 && notifyAdd(db, table))))
  }
  return outbox
})

export class Outbox extends Context.Service<Outbox, OutboxShape>()("sibus/Outbox") {
  /** An outbox value (without the service), its table ensured first. */
  static readonly make = make
  /** An outbox on the application's database, its table ensured when the layer is built. */
  static readonly layer = (options: OutboxOptions): Layer.Layer<Outbox, OutboxOptionsError | OutboxDbError> =>
    Layer.effect(Outbox, make(options))
}
