/**
 * Every statement the outbox runs on the application's database, one small named function each,
 * built with Kysely's query builder and nothing dialect-specific: the same SQL runs on SQLite and
 * on Postgres. Each takes the Kysely to run on (the root, a held connection, or the caller's
 * transaction) and the table name. The row life cycle they implement is described in
 * `outboxTable.ts`.
 */
import { type Kysely, sql, SqliteAdapter } from "kysely"
import type { OutboxDatabase, OutboxTable } from "./outboxTable.ts"

type Db = Kysely<OutboxDatabase>

/** Whether `db` is a SQLite file that also holds a sibus bus (its events, groups and cursors). */
export const sharesFileWithBus = async (db: Db): Promise<boolean> => {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return false
  const found = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name in ('events', 'consumer_groups', 'cursors', 'dead_letters')`.execute(db)
  return found.rows.length === 4
}

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

/** Numbers may come back as strings (Postgres bigint); SQLite gives numbers. */
const num = (v: unknown): number => (typeof v === "number" ? v : Number(v))

export const insertRows = async (db: Db, table: string, rows: ReadonlyArray<OutboxTable>): Promise<void> => {
  if (rows.length > 0) await db.insertInto(table).values(rows as Array<OutboxTable>).execute()
}

/**
 * The earliest `next_attempt_at` of a pending row (undefined when there is none), at or after
 * `from` when given. A read, so an idle relay takes no write lock. Claims do not count: only the
 * relay holding the outbox's lead sends, and a claim left by one that died must not hide its rows.
 */
export const nextDue = async (db: Db, table: string, from?: number): Promise<number | undefined> => {
  let q = db.selectFrom(table).select("next_attempt_at").where("state", "=", "pending")
  if (from !== undefined) q = q.where("next_attempt_at", ">", from)
  const row = await q.orderBy("next_attempt_at").limit(1).executeTakeFirst()
  return row === undefined ? undefined : num(row.next_attempt_at)
}

/** The table holding an outbox's lead: one row, the relay sending and until when. */
export const leadTable = (table: string) => `${table}_relay`

/**
 * Takes the outbox's lead for `owner` until `until`, or renews it: true when `owner` holds it.
 * Only the holder sends, so rows go into the bus in the order they were added; a holder that
 * died is followed once its lead ran out.
 */
export const holdLead = async (db: Db, table: string, owner: string, now: number, until: number): Promise<boolean> => {
  const lead = db as unknown as Kysely<Record<string, { id: number; owner: string; until: number }>>
  const updated = await lead.updateTable(leadTable(table)).set({ owner, until })
    .where("id", "=", 1).where((eb) => eb.or([eb("owner", "=", owner), eb("until", "<=", now)]))
    .executeTakeFirst()
  if (num(updated.numUpdatedRows) === 1) return true
  // The first relay ever makes the row (two at once: one of them does).
  const inserted = await lead.insertInto(leadTable(table)).values({ id: 1, owner, until })
    .onConflict((oc) => oc.column("id").doNothing())
    .returning("id")
    .execute()
  return inserted.length === 1
}

/** Gives the lead up (a relay stopping): the next relay with rows to send need not wait for it to run out. */
export const dropLead = async (db: Db, table: string, owner: string): Promise<void> => {
  const lead = db as unknown as Kysely<Record<string, { id: number; owner: string; until: number }>>
  await lead.updateTable(leadTable(table)).set({ until: 0 }).where("id", "=", 1).where("owner", "=", owner).execute()
}

/**
 * Claims up to `limit` due rows for `owner` until `now + leaseMs`, in the order they were added
 * (by id: ids are time-ordered), and no more than `maxChars` characters of messages (payload and
 * headers as stored; always at least one row). A keyed row waits while an earlier row of its key
 * is pending and not due (refused, waiting for its retry), so a key's messages reach the bus in
 * order; once that row is sent or failed, the key's later rows go. Two statements: the due rows'
 * ids and sizes (nothing large is read), then an UPDATE ... RETURNING of the ones that fit; `more`
 * says whether more rows may be due now (the batch was cut by its size, or filled).
 * Claims of other relays do not count (only the lead's holder claims; see `holdLead`): a claim is
 * a note of who is sending.
 */
export const claimDue = async (
  db: Db,
  table: string,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
  maxChars: number
): Promise<{ readonly rows: Array<ClaimedRow>; readonly more: boolean }> => {
  const earlierWaiting = sql<boolean>`exists (select 1 from ${sql.table(table)} as w where w.key = r.key and w.state = 'pending' and w.id < r.id and w.next_attempt_at > ${now})`
  const due = await (db as unknown as Kysely<Record<string, OutboxTable>>).selectFrom(`${table} as r` as never)
    .select([sql.ref<string>("r.id").as("id"), sql<number>`length(r.payload) + coalesce(length(r.headers), 0)`.as("size")])
    // `+` keeps the due index out of it: SQLite would read every due row by (state,
    // next_attempt_at) and sort them for each batch (the relay ran at half its speed); by (state,
    // id) the scan stops at the batch's last row.
    .where(sql.ref("r.state"), "=", "pending").where(sql`+${sql.ref("r.next_attempt_at")}`, "<=", now)
    .where((eb) => eb.or([eb(sql.ref("r.key"), "is", null), eb.not(earlierWaiting)]))
    .orderBy(sql.ref("r.id")).limit(limit)
    .execute() as Array<{ id: string; size: number | string }>
  const ids: Array<string> = []
  let chars = 0
  for (const row of due) {
    const size = num(row.size)
    if (ids.length > 0 && chars + size > maxChars) break
    ids.push(row.id)
    chars += size
  }
  // More may be due: the batch was cut by its size, or filled.
  const more = ids.length < due.length || due.length === limit
  if (ids.length === 0) return { rows: [], more }
  const rows = await db.updateTable(table)
    .set({ claimed_by: owner, claimed_until: now + leaseMs })
    .where("id", "in", ids)
    .where("state", "=", "pending")
    .returning(["id", "topic", "payload", "key", "headers", "attempts"])
    .execute()
  // RETURNING gives no order: restore the order rows were added in.
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  return { rows: rows.map((r) => ({ id: r.id, topic: r.topic, payload: r.payload, key: r.key, headers: r.headers, attempts: num(r.attempts) })), more }
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
