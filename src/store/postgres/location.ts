/**
 * A Postgres location: a `postgres://` URL parsed into the connection string, the schema sibus
 * uses and whether it listens; the pool sibus opens there; and the schema's own names (its
 * writers' advisory lock, its NOTIFY channel), which every process on the schema must agree on.
 */
import pg from "pg"
import { redactUrl } from "../redact.ts"
import { quoteLiteral } from "./listener.ts"

/** Where a URL points: the connection string for `pg` and the schema sibus uses. */
export interface PostgresLocation {
  readonly connectionString: string
  readonly schema: string
  /**
   * Whether the process keeps a LISTEN connection (`?listen=false` turns it off, e.g. behind a
   * pooler in transaction mode, where LISTEN does not work): without it, other processes' commits
   * are found by the poll alone (within `pollIntervalMs`).
   */
  readonly listen: boolean
  /** The URL with its password hidden, for messages. */
  readonly shown: string
}

// At most 57 characters: the NOTIFY channel is `sibus_<schema>`, and Postgres names hold 63 bytes.
const schemaPattern = /^[a-z_][a-z0-9_]{0,56}$/

/** Parses a location URL; a schema name that is not a plain identifier is refused. */
export const parseLocation = (url: string): PostgresLocation | string => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return "not a valid URL"
  }
  const schema = parsed.searchParams.get("schema") ?? "public"
  if (!schemaPattern.test(schema)) return `schema ${JSON.stringify(schema)} must be a lower-case identifier (letters, digits, _) of at most 57 characters`
  if (schema.startsWith("pg_") || schema === "information_schema") return `schema ${JSON.stringify(schema)} is one of Postgres's own: choose a schema of the application's`
  const listenParam = parsed.searchParams.get("listen") ?? "true"
  if (listenParam !== "true" && listenParam !== "false") return `listen must be true or false, got ${JSON.stringify(listenParam)}`
  parsed.searchParams.delete("schema")
  parsed.searchParams.delete("listen")
  const shown = redactUrl(parsed)
  if (schema !== "public") shown.searchParams.set("schema", schema)
  if (listenParam === "false") shown.searchParams.set("listen", "false")
  return { connectionString: parsed.toString(), schema, listen: listenParam === "true", shown: shown.toString() }
}

/** `bigint` (seqs, timestamps, counts) as numbers: every value sibus stores there is a safe integer. */
const typeParsers = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20 ? (value: string) => Number(value) : (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format)
} as pg.CustomTypesConfig

/**
 * How long a transaction holding the writers' lock may sit idle (its process paused: SIGSTOP, a
 * frozen VM, a long GC) before the server ends it. Every other writer of the schema waits for the
 * lock meanwhile, so a paused process would otherwise stall the whole database, the standbys'
 * lease claims included, for as long as it stays paused. A live writer is never idle that long
 * between its statements; a writer that was is rolled back and sees a failed commit.
 */
export const writerIdleTimeoutMs = 5000

/**
 * The advisory lock every write transaction of a schema holds (a stable key per schema), with the
 * idle limit of a transaction holding it (`writerIdleTimeoutMs`).
 */
export const writersLock = (schema: string) =>
  `set local idle_in_transaction_session_timeout = ${writerIdleTimeoutMs}; select pg_advisory_xact_lock(${writersLockKey(schema)})`

/** The key of a schema's writers' lock. */
export const writersLockKey = (schema: string) => `hashtext('sibus:' || ${quoteLiteral(schema)})`

/** The NOTIFY channel of a schema's commits. */
export const channelOf = (schema: string) => `sibus_${schema}`

export const poolOf = (location: PostgresLocation, max: number, readOnly: boolean) => {
  const pool = new pg.Pool({
    connectionString: location.connectionString,
    max,
    types: typeParsers,
    // Read-only: the server refuses every write of its sessions, as SQLite's read-only connection does.
    options: `-c search_path=${location.schema}${readOnly ? " -c default_transaction_read_only=on" : ""}`
  })
  // An idle connection that breaks (the server restarts) is replaced on next use; without a
  // listener its error would end the process. So would a connection's own error event while it is
  // checked out by code that adds no listener (Kysely's migrator, on the first open of a schema):
  // every connection gets one as it is made; the failing query still rejects.
  pool.on("error", () => {})
  pool.on("connect", (client) => {
    client.on("error", () => {})
  })
  return pool
}
