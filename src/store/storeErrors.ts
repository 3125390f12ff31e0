/**
 * The store's typed failures. `StoreError` wraps any failure of the database itself (I/O, lock
 * timeouts, constraint surprises); `StoreOpenError` is a database that cannot be opened or
 * migrated, reported once at start-up with what to do about it.
 */
import * as Data from "effect/Data"

const describe = (cause: unknown): string =>
  cause instanceof Error ? cause.message : typeof cause === "string" ? cause : JSON.stringify(cause) ?? String(cause)

/** The store's operations that only read; a failure of any other one is a failed write. */
const readingOps: ReadonlySet<string> = new Set([
  "readPage", "readPartition", "groupMembers", "members", "cursorGroupsWithPrefix", "readSeqs", "eventById", "latestByKey", "headSeq", "floorForTs", "readLease", "loadGroup", "getCursor",
  "topics", "readTopic", "topicStats", "groupPositions", "floorForLast", "countEvents", "deliveries", "deadLetters", "changeToken",
  "eventsCausedBy"
])

/**
 * A database operation failed. `op` names the operation (`commit`, `readTopic`, ...) for
 * debugging; the message is for people: whether reading or writing failed, and the database's own
 * reason ("could not write to the database: database or disk is full").
 */
export class StoreError extends Data.TaggedError("StoreError")<{
  readonly op: string
  readonly cause: unknown
}> {
  /** Whether the failed operation only read. */
  get kind(): "read" | "write" {
    return readingOps.has(this.op) ? "read" : "write"
  }

  override get message(): string {
    return `could not ${this.kind === "read" ? "read from" : "write to"} the database: ${describe(this.cause)}`
  }
}

/**
 * An append whose id already names an event of another topic: its transaction is rolled back (an
 * id names one event across all topics; publishing it again is idempotent on its own topic only).
 * Thrown inside the store's transaction; it reaches the caller as a `StoreError`'s cause.
 */
export class IdTaken extends Error {
  readonly id: string
  readonly topic: string
  /** The event the id names: its seq, or none when it is another event of the same transaction. */
  readonly taken: { readonly topic: string; readonly seq: number | undefined }
  constructor(id: string, topic: string, taken: { readonly topic: string; readonly seq: number | undefined }) {
    super(taken.seq === undefined
      ? `the id ${JSON.stringify(id)} is given to two events of one transaction, on topics ${JSON.stringify(taken.topic)} and ${JSON.stringify(topic)} (an id names one event across all topics)`
      : `the id ${JSON.stringify(id)} already names event #${taken.seq} of topic ${JSON.stringify(taken.topic)} (an id names one event across all topics; publishing it again is idempotent on its own topic only)`)
    this.id = id
    this.topic = topic
    this.taken = { topic: taken.topic, seq: taken.seq }
  }
}

/**
 * The database could not be opened or brought to the current schema.
 * - `unreadable`: the file is missing its directory, not a database, or not accessible.
 * - `newer`: it was written by a newer sibus (it has migrations this version does not know).
 * - `migration`: a migration failed; nothing was started.
 * - `unsupported`: the location names a database this version cannot use (a `postgres://` URL).
 * - `not-sibus` (read-only opens): the file is a database, but not one sibus wrote.
 * - `older` (read-only opens): written by an older sibus; a writing open would migrate it.
 */
export class StoreOpenError extends Data.TaggedError("StoreOpenError")<{
  readonly reason: "unreadable" | "newer" | "migration" | "unsupported" | "not-sibus" | "older"
  readonly location: string
  readonly detail: string
}> {
  override get message(): string {
    switch (this.reason) {
      case "unreadable":
        return `cannot open database ${this.location}: ${this.detail}`
      case "newer":
        return `database ${this.location} was written by a newer version of sibus (${this.detail}); upgrade sibus to use it`
      case "migration":
        return `cannot migrate database ${this.location}: ${this.detail}`
      case "unsupported":
        return `cannot open ${this.location}: ${this.detail}`
      case "not-sibus":
        return `${this.location} is not a sibus database (${this.detail})`
      case "older":
        return `database ${this.location} was written by an older version of sibus: ${this.detail}`
    }
  }
}

export const describeCause = describe
