/**
 * What a dialect supplies to the store: a connection that runs store programs (`storeProgram.ts`)
 * in transactions, the statements compiled for it, and its capabilities. Everything else, the
 * policy included, is written once in `makeStore.ts` and `policy/` (Kysely's split: a `Driver`
 * executes, the query builder and the code above it do not know which database they talk to).
 */
import type * as Effect from "effect/Effect"
import type { Kysely } from "kysely"
import type { StoreError } from "./storeErrors.ts"
import type { Program } from "./storeProgram.ts"
import type { Statements } from "./queries.ts"
import type { EventDraft } from "./records.ts"
import type { HandlerTransaction, StoreCapabilities } from "./Store.ts"

/**
 * How a program's transaction runs:
 * - `read`: a consistent snapshot of committed data;
 * - `write`: takes the write lock before the first statement, so what it reads cannot change
 *   before it writes;
 * - `bulk`: a `write` that deletes many rows; the dialect may leave log housekeeping to the
 *   `checkpoint` capability (SQLite skips its automatic WAL checkpoint).
 */
/**
 * read: a consistent snapshot; write: a transaction that commits durably and is announced to other
 * processes; bulk: a write of many deletions (SQLite skips its automatic checkpoint); relaxed: a
 * write of bookkeeping only (`WriteBatch.relaxed`), which a store may commit without waiting for
 * the disk and without announcing.
 */
export type TransactionMode = "read" | "write" | "bulk" | "relaxed"

/** A transaction a handler holds open (the driver's side of `HandlerTransaction`). */
export interface OpenTransaction {
  /** Kysely bound to the open transaction, for the handler's own statements. */
  readonly db: Kysely<any>
  /** Runs `program` inside the transaction and commits; `onCommit` runs right after the commit,
   * before any other store call. On failure everything is rolled back. Either way it ends. */
  readonly commit: <A>(program: () => Program<A>, onCommit?: () => void) => Effect.Effect<A, StoreError>
  /** Rolls back (nothing when already ended). */
  readonly rollback: Effect.Effect<void>
}

export interface Driver {
  readonly statements: Statements
  /** Runs `program` as one transaction; `op` names it in errors. A program that throws rolls back. */
  readonly transaction: <A>(op: string, mode: TransactionMode, program: () => Program<A>) => Effect.Effect<A, StoreError>
  /** Runs a program of one statement, without an explicit transaction. */
  readonly statement: <A>(op: string, program: () => Program<A>) => Effect.Effect<A, StoreError>
  /**
   * Opens a handler transaction for the fiber's `TransactionSlot` (waiting while another one is
   * open, where the database has one connection), and records `wrap(open)` in the slot until the
   * transaction ends. A fiber whose slot already holds one gets that one.
   */
  readonly begin: (wrap: (open: OpenTransaction) => HandlerTransaction) => Effect.Effect<HandlerTransaction, StoreError>
  /**
   * A `write` transaction of appends alone (at most `max` drafts) as one statement: the seq of
   * each draft written, none where its id existed. A server dialect offers it because a
   * transaction of three round trips (begin and lock, insert, commit) becomes one; the store uses
   * it for batches of publishes and nothing else.
   */
  readonly appendAtOnce?: {
    readonly run: (drafts: ReadonlyArray<EventDraft>) => Effect.Effect<ReadonlyArray<number | undefined>, StoreError>
    readonly max: number
  } | undefined
  /** Reads wait on a server (`RuntimeStore.readsWait`). */
  readonly readsWait?: boolean | undefined
  readonly capabilities: StoreCapabilities
}
