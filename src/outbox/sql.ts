/**
 * Every statement the outbox runs on the application's database, one small named function each,
 * built with Kysely's query builder and nothing dialect-specific: the same SQL runs on SQLite and
 * on Postgres. Each takes the Kysely to run on (the root, a held connection, or the caller's
 * transaction) and the table name. The row life cycle they implement is described in
 * `outboxTable.ts`.
 */
import type { ExpressionBuilder, Kysely } from "kysely"
import type { OutboxDatabase, OutboxTable } from "./outboxTable.ts"

type Db = Kysely<OutboxDatabase>

/** A claimed row: what the relay needs to publish it and to charge a refusal. */
export interface ClaimedRow {
  readonly id: string
  readonly topic: string
  readonly payload: string
  readonly key: string | null
  readonly headers: string | null
  readonly attempts: number
}

export interface OutboxStats {
  /** Rows waiting to be sent (including those being sent and those waiting for a retry). */
  readonly pending: number
  /** Sent rows not yet pruned. */
  readonly sent: number
  /** Rows refused `maxAttempts` times. */
  readonly failed: number
  /** When the oldest pending row was added (its age is the relay's lag); undefined when none. */
  readonly oldestPendingAt: number | undefined
}

/** Not claimed, or its claim ran out. */
const unclaimed = (now: number) => (eb: ExpressionBuilder<OutboxDatabase, string>) =>
  eb.or([eb("claimed_until", "is", null), eb("claimed_until", "<=", now)])

/** Numbers may come back as strings (Postgres bigint); SQLite gives numbers. */
const num = (v: unknown): number => (typeof v === "number" ? v : Number(v))

export const insertRows = async (db: Db, table: string, rows: ReadonlyArray<OutboxTable>): Promise<void> => {
  if (rows.length > 0) await db.insertInto(table).values(rows as Array<OutboxTable>).execute()
}

/**
 * The earliest `next_attempt_at` of a pending row that nobody holds (undefined when there is
 * none). A read, so an idle relay takes no write lock.
 */
export const nextDue = async (db: Db, table: string, now: number): Promise<number | undefined> => {
  const row = await db.selectFrom(table).select("next_attempt_at")
    .where("state", "=", "pending").where(unclaimed(now))
    .orderBy("next_attempt_at").limit(1).executeTakeFirst()
  return row === undefined ? undefined : num(row.next_attempt_at)
}

/**
 * Claims up to `limit` due rows for `owner` until `now + leaseMs`, oldest due first, in one
 * statement (UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING, which SQLite and Postgres
 * both run). The outer WHERE repeats the claimability test: on Postgres (READ COMMITTED) the
 * UPDATE re-checks it against the newest version of each row, so a row another relay claimed
 * (or sent, or failed) after our subquery read it is skipped, never taken twice. SQLite runs one
 * writer at a time. The outer test says "not sent or failed" rather than "pending" so that no
 * planner drives the UPDATE by the state index (scanning every pending row) instead of by id.
 */
export const claimDue = async (
  db: Db,
  table: string,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number
): Promise<Array<ClaimedRow>> => {
  const due = db.selectFrom(table).select("id")
    .where("state", "=", "pending").where("next_attempt_at", "<=", now).where(unclaimed(now))
    .orderBy("next_attempt_at").orderBy("id").limit(limit)
  const rows = await db.updateTable(table)
    .set({ claimed_by: owner, claimed_until: now + leaseMs })
    .where("id", "in", due)
    .where("state", "not in", ["sent", "failed"]).where("next_attempt_at", "<=", now).where(unclaimed(now))
    .returning(["id", "topic", "payload", "key", "headers", "attempts", "next_attempt_at"])
    .execute()
  // RETURNING gives no order: restore the claim order, so events follow the order rows were added.
  rows.sort((a, b) => num(a.next_attempt_at) - num(b.next_attempt_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return rows.map((r) => ({ id: r.id, topic: r.topic, payload: r.payload, key: r.key, headers: r.headers, attempts: num(r.attempts) }))
}

/**
 * Marks rows sent (their events exist in the bus) and clears their claims, whatever happened to
 * them meanwhile (a lease that ran out, another relay's refusal): the publish committed. By id
 * only, so the update is driven by the primary key.
 */
export const markSent = async (db: Db, table: string, ids: ReadonlyArray<string>, now: number): Promise<void> => {
  if (ids.length === 0) return
  await db.updateTable(table)
    .set({ state: "sent", sent_at: now, claimed_by: null, claimed_until: null })
    .where("id", "in", ids)
    .execute()
}

/**
 * Charges a refused publish to a row `owner` still holds: the attempt count, the error and the
 * next attempt (or `failed`), claim cleared. Returns whether the row was still held.
 */
export const recordRefusal = async (
  db: Db,
  table: string,
  r: { readonly id: string; readonly owner: string; readonly attempts: number; readonly error: string; readonly nextAttemptAt: number; readonly failed: boolean }
): Promise<boolean> => {
  const result = await db.updateTable(table)
    .set({
      attempts: r.attempts, last_error: r.error, next_attempt_at: r.nextAttemptAt,
      state: r.failed ? "failed" : "pending", claimed_by: null, claimed_until: null
    })
    .where("id", "=", r.id).where("claimed_by", "=", r.owner).where("state", "=", "pending")
    .executeTakeFirst()
  return num(result.numUpdatedRows) === 1
}

/**
 * Gives back rows `owner` holds, without charging an attempt (optionally noting why). A row
 * still held is pending: sending, refusing and failing it all clear the claim.
 */
export const release = async (db: Db, table: string, ids: ReadonlyArray<string>, owner: string, error: string | undefined): Promise<void> => {
  if (ids.length === 0) return
  await db.updateTable(table)
    .set(error === undefined ? { claimed_by: null, claimed_until: null } : { claimed_by: null, claimed_until: null, last_error: error })
    .where("id", "in", ids).where("claimed_by", "=", owner)
    .execute()
}

/** Deletes up to `limit` rows sent at or before `cutoff`, oldest first; returns how many. */
export const pruneSent = async (db: Db, table: string, cutoff: number, limit: number): Promise<number> => {
  const old = db.selectFrom(table).select("id").where("state", "=", "sent").where("sent_at", "<=", cutoff).orderBy("sent_at").limit(limit)
  const result = await db.deleteFrom(table).where("id", "in", old).executeTakeFirst()
  return num(result.numDeletedRows)
}

/** Counts rows by state, and the oldest pending row's time. */
export const countStates = async (db: Db, table: string): Promise<OutboxStats> => {
  const rows = await db.selectFrom(table).select((eb) => ["state", eb.fn.countAll().as("n")]).groupBy("state").execute()
  const counts = { pending: 0, sent: 0, failed: 0 }
  for (const row of rows) if (row.state in counts) counts[row.state] = num(row.n)
  const oldest = counts.pending === 0
    ? undefined
    : await db.selectFrom(table).select((eb) => eb.fn.min("created_at").as("at")).where("state", "=", "pending").executeTakeFirst()
  return { ...counts, oldestPendingAt: oldest?.at == null ? undefined : num(oldest.at) }
}

/** Makes failed rows (all of them, or those with these ids) pending again with no attempts. */
export const retryFailed = async (db: Db, table: string, ids: ReadonlyArray<string> | undefined, now: number): Promise<number> => {
  if (ids !== undefined && ids.length === 0) return 0
  let q = db.updateTable(table)
    .set({ state: "pending", attempts: 0, next_attempt_at: now, claimed_by: null, claimed_until: null })
    .where("state", "=", "failed")
  if (ids !== undefined) q = q.where("id", "in", ids)
  const result = await q.executeTakeFirst()
  return num(result.numUpdatedRows)
}
