/**
 * How the Postgres dialect writes events: the chunked multi-row INSERT a write transaction runs,
 * and the one statement that is a whole transaction of publishes (`Driver.appendAtOnce`), with
 * the parameters each sends and the seqs each answers.
 */
import type { EventDraft } from "../records.ts"
import { quoteLiteral } from "./listener.ts"

/** Rows per INSERT of an append (10 parameters each, well under Postgres's 65,535). */
export const appendChunk = 500

const eventInsertColumns = "(id, ts, topic, key, partition, headers, payload, caused_by, tags, sid)"

/** The text of an INSERT of `n` events, returning the seq of each one written (not of ids that existed). */
export const appendSql = (n: number): string => {
  const rows = new Array<string>(n)
  for (let i = 0; i < n; i++) {
    const b = i * 10
    rows[i] = `($${b + 1},$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7},$${b + 8},$${b + 9},$${b + 10})`
  }
  return `insert into events ${eventInsertColumns} values ${rows.join(",")} on conflict (id) do nothing returning id, seq`
}

/** The most drafts `appendAtOnce` takes (10 parameters each, well under Postgres's 65,535). */
export const maxAppendsAtOnce = 1000

/**
 * The columns a batch of appends sends: all of them, or (`bare`, the common case of plain
 * publishes) only those every event has, so the statement carries half the parameters.
 */
const atOnceShapes = {
  full: { columns: eventInsertColumns, casts: ["text", "bigint", "text", "text", "integer", "text", "text", "text", "text", "text"] },
  bare: { columns: "(id, ts, topic, payload, sid)", casts: ["text", "bigint", "text", "text", "text"] }
} as const

export type AtOnceShape = keyof typeof atOnceShapes

/** `bare` when no draft has a key, partition, headers, causes or tags. */
export const shapeOf = (drafts: ReadonlyArray<EventDraft>): AtOnceShape =>
  drafts.every((d) => d.key === null && d.partition === null && d.headers === null && d.causedBy === null && d.tags === null) ? "bare" : "full"

/**
 * One statement that is a whole write transaction of appends (run outside an explicit
 * transaction, so the server commits it as it ends): takes the writers' lock, inserts the `n`
 * events, raises the change counter and notifies `channel`, answering the new version and the id
 * and seq of each event written (a JSON array of pairs). The lock comes first: the insert's rows
 * and the counter's update are filtered by it, a condition the server evaluates once before either
 * produces a row. The first row's casts give the VALUES list its column types.
 */
export const appendAtOnceSql = (n: number, shape: AtOnceShape, lockKey: string, channel: string, origin: string): string => {
  const { casts, columns } = atOnceShapes[shape]
  const width = casts.length
  const rows = new Array<string>(n)
  for (let i = 0; i < n; i++) {
    const b = i * width
    rows[i] = `(${casts.map((cast, k) => (i === 0 ? `$${b + k + 1}::${cast}` : `$${b + k + 1}`)).join(",")})`
  }
  return `with locked as (select pg_advisory_xact_lock(${lockKey}) is not null as held), ` +
    `written as (insert into events ${columns} select * from (values ${rows.join(",")}) v ` +
    `where (select held from locked) on conflict (id) do nothing returning id, seq), ` +
    `raised as (update changes set version = version + 1 where id = 1 and (select held from locked) returning version) ` +
    `select r.version, pg_notify(${quoteLiteral(channel)}, ${quoteLiteral(origin)}) as notified, w.written ` +
    `from raised r, (select json_agg(json_build_array(id, seq)) as written from written) w`
}

export const draftValues = (drafts: ReadonlyArray<EventDraft>, from: number, to: number): Array<unknown> => {
  const out: Array<unknown> = []
  for (let i = from; i < to; i++) {
    const d = drafts[i]!
    out.push(d.id, d.ts, d.topic, d.key, d.partition, d.headers, d.payload, d.causedBy, d.tags, d.sid)
  }
  return out
}

export const bareValues = (drafts: ReadonlyArray<EventDraft>): Array<unknown> => {
  const out = new Array<unknown>(drafts.length * 5)
  for (let i = 0; i < drafts.length; i++) {
    const d = drafts[i]!
    const b = i * 5
    out[b] = d.id
    out[b + 1] = d.ts
    out[b + 2] = d.topic
    out[b + 3] = d.payload
    out[b + 4] = d.sid
  }
  return out
}

/**
 * Fills `seqs[from..to)` with the seq each draft was written at (`byId`, from the insert's
 * RETURNING), undefined where its id existed. An id twice in one batch: the first is written, the
 * second finds it.
 */
export const assignSeqs = (
  drafts: ReadonlyArray<EventDraft>,
  from: number,
  to: number,
  byId: Map<string, number>,
  seqs: Array<number | undefined>
): Array<number | undefined> => {
  for (let i = from; i < to; i++) {
    const id = drafts[i]!.id
    const seq = byId.get(id)
    if (seq !== undefined) byId.delete(id)
    seqs[i] = seq
  }
  return seqs
}
