/**
 * Keeps a SQLite file's write-ahead log near its size limit.
 *
 * A checkpoint copies the WAL's pages into the database file, but only those no reader still needs:
 * while a connection keeps a read transaction open (in this process or another: a backup, an
 * application's connection, a `sib` command), publishing grows the WAL without bound, and SQLite
 * keeps the file at its largest size afterwards. Two things bring it back:
 * - `journal_size_limit`: whenever SQLite starts the WAL over (the first write after a checkpoint
 *   that copied everything), it truncates the file to the limit;
 * - this guard, on the Clock: while the WAL is past the limit, it runs a passive checkpoint and,
 *   once that copied every page (the readers let go), a truncating one that does not wait for
 *   anyone. So the file is back under the limit within an interval of the last old reader ending,
 *   even when nothing is written any more.
 * While a checkpoint cannot finish, it logs a warning naming the cause (once, and again each time
 * the WAL doubles), and a line when the WAL is back under the limit.
 */
import type SqliteDatabase from "better-sqlite3"
import * as Effect from "effect/Effect"
import { statSync } from "node:fs"

/** The WAL's default size limit: 64 MiB. */
export const defaultWalLimitBytes = 64 * 1024 * 1024

/** How often the guard looks at the WAL's size. */
const intervalMs = 1000

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB`

const sizeOf = (path: string): number => {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

interface CheckpointResult {
  readonly busy: number
  readonly log: number
  readonly checkpointed: number
}

/** Sets the limit SQLite truncates the WAL to when it starts it over. */
export const limitWal = (db: SqliteDatabase.Database, limitBytes: number) => {
  db.pragma(`journal_size_limit = ${limitBytes}`)
}

/**
 * Watches the WAL of `filename` (opened as `db`, this process's connection) for the life of the
 * scope it is forked in.
 */
export const guardWal = (db: SqliteDatabase.Database, filename: string, limitBytes: number): Effect.Effect<never> => {
  const walPath = `${filename}-wal`
  let warnAt = limitBytes
  let warned = false

  /** Once the WAL is under the limit again after a warning: a line saying so. */
  const recovered = (size: number) => {
    if (!warned) return Effect.void
    warned = false
    warnAt = limitBytes
    return Effect.logInfo(`sqlite: the WAL of ${filename} is back to ${mib(size)} (limit ${mib(limitBytes)})`)
  }

  /** One look: the WAL's size, and what was done about it. */
  const look = Effect.suspend(() => {
    const size = sizeOf(walPath)
    if (size <= limitBytes) return recovered(size)
    // A handler transaction of this process is open on the connection: the checkpoint waits for it.
    if (db.inTransaction) return Effect.void
    const passive = (db.pragma("wal_checkpoint(PASSIVE)") as Array<CheckpointResult>)[0]
    if (passive !== undefined && passive.busy === 0 && passive.log === passive.checkpointed) {
      // Every page is in the database: start the WAL over at size zero, without waiting for a
      // reader that began meanwhile (it is tried again at the next look).
      const timeout = db.pragma("busy_timeout", { simple: true }) as number
      db.pragma("busy_timeout = 0")
      try {
        db.pragma("wal_checkpoint(TRUNCATE)")
      } finally {
        db.pragma(`busy_timeout = ${timeout}`)
      }
      const after = sizeOf(walPath)
      return after <= limitBytes ? recovered(after) : Effect.void
    }
    if (size < warnAt) return Effect.void
    warned = true
    warnAt = size * 2
    const pending = passive === undefined ? "" : ` (${passive.log - passive.checkpointed} of ${passive.log} pages not yet copied)`
    return Effect.logWarning(
      `sqlite: the WAL of ${filename} is ${mib(size)}, past its limit of ${mib(limitBytes)}${pending}: ` +
        `a checkpoint cannot finish while a connection keeps a read transaction open from before these writes ` +
        `(${db.inTransaction ? "this process's" : "another connection's, in this process or another"}: a backup, an application's open transaction, a long read). ` +
        `It shrinks back once that reader ends.`
    )
  }).pipe(
    // A failed look (the file being replaced, a busy checkpoint) is only tried again.
    Effect.catchCause(() => Effect.void)
  )

  return Effect.forever(Effect.andThen(Effect.sleep(intervalMs), look))
}
