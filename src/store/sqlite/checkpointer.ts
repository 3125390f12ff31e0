/**
 * WAL checkpoints off the event loop. SQLite checkpoints a WAL database in the connection that
 * commits past `wal_autocheckpoint` pages (1,000 by default): that commit copies the pages into
 * the database file and syncs it before it returns, so with better-sqlite3 the whole process waits
 * (about 5-10 ms on this machine, every few hundred commits: the p99 of a publishing process's
 * latency). Here a worker thread with a connection of its own runs the passive checkpoints instead,
 * asked on the Clock whenever the WAL was written since the last one, and this process's
 * connection checkpoints by itself only past a safety size (a worker that fell behind or died).
 *
 * The worker (about 15 MB) starts once the process has published (appended events): a process that
 * only consumes writes little, and its handlers gain little from it; a short-lived command never
 * starts one. Until then the connection checkpoints as SQLite does by default. The worker holds no
 * lock between checkpoints and is stopped before the store's connection closes (so that
 * connection, the last one, still removes the WAL). If it cannot start, the connection checkpoints
 * by itself again, and a warning says why.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type SqliteDatabase from "better-sqlite3"
import { statSync } from "node:fs"
import { createRequire } from "node:module"
import type { Worker } from "node:worker_threads"

/** How often the WAL is looked at. */
const intervalMs = 100

/** SQLite's own threshold, restored when the worker cannot run. */
const defaultAutoCheckpoint = 1000

/** Past this many pages (about 40 MiB of 4 KiB pages) the connection checkpoints by itself after all. */
const safetyAutoCheckpoint = 10_000

/**
 * The worker's source: one connection, a passive checkpoint per message (it never waits for
 * readers or writers), closed on "close". better-sqlite3 is loaded from the path this module
 * resolves, so the worker finds it from a bundle too. Neither `require` nor `import`: an eval'd
 * worker is an ES module when the process runs with `--input-type=module` and CommonJS otherwise.
 */
const workerSource = `
const { parentPort, workerData } = process.getBuiltinModule("node:worker_threads")
const Database = process.getBuiltinModule("node:module").createRequire(workerData.driver)(workerData.driver)
const db = new Database(workerData.filename, { fileMustExist: true })
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close()
    parentPort.close()
    return
  }
  try {
    db.pragma("wal_checkpoint(PASSIVE)")
    parentPort.postMessage("done")
  } catch (e) {
    parentPort.postMessage(String(e && e.message || e))
  }
})
`

/** When the WAL file was last written (0 while it does not exist). */
const writtenAt = (walPath: string): bigint => {
  try {
    return statSync(walPath, { bigint: true }).mtimeNs
  } catch {
    return 0n
  }
}

/** The checkpoint thread's side the store's connection talks to. */
export interface Checkpointer {
  /** The process appended events (the worker may start). */
  readonly appended: () => void
  /**
   * A bulk deletion ran (maintenance, which checkpoints after each step itself): the next look
   * starts no checkpoint, so none runs beside the pass's next step (one beside a step made its
   * lock hold several times longer).
   */
  readonly bulkRan: () => void
}

/**
 * Checkpoints `filename` (opened as `db`) from a worker thread for the life of the scope, on the
 * Clock when the WAL was written (one at a time).
 */
export const checkpointInWorker = (db: SqliteDatabase.Database, filename: string): Effect.Effect<Checkpointer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const walPath = `${filename}-wal`
    let worker: Worker | undefined
    let failed = false
    /** True while the worker runs a checkpoint. */
    let running = false
    let seen = writtenAt(walPath)
    let published = false
    let bulk = false

    const fallBack = (why: string) =>
      Effect.suspend(() => {
        running = false
        if (failed) return Effect.void
        failed = true
        db.pragma(`wal_autocheckpoint = ${defaultAutoCheckpoint}`)
        return Effect.logWarning(`sqlite: checkpoints of ${filename} run in this thread again (${why})`)
      })

    const start = (): Worker => {
      // Loaded on first use: a command that never publishes (most of `sib`) does not pay for it.
      const { Worker } = process.getBuiltinModule("node:worker_threads")
      const w = new Worker(workerSource, {
        eval: true,
        workerData: { driver: createRequire(import.meta.url).resolve("better-sqlite3"), filename },
        // The connection's memory is the worker's: a small V8 heap is plenty.
        resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 }
      })
      w.unref()
      w.on("message", (message) => {
        running = false
        if (message !== "done") Effect.runFork(fallBack(`the checkpoint failed: ${String(message)}`))
      })
      w.on("error", (e) => Effect.runFork(fallBack(`the checkpoint thread failed: ${e.message}`)))
      return w
    }

    /** Starts a checkpoint in the worker (starting the worker first). */
    const begin = (): void => {
      if (failed) return
      try {
        if (worker === undefined) {
          worker = start()
          db.pragma(`wal_autocheckpoint = ${safetyAutoCheckpoint}`)
        }
      } catch (e) {
        Effect.runFork(fallBack(`no checkpoint thread: ${e instanceof Error ? e.message : String(e)}`))
        return
      }
      running = true
      worker.postMessage("checkpoint")
    }

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        const w = worker
        if (w === undefined) return
        const exited = new Promise<void>((resolve) => w.once("exit", () => resolve()))
        w.postMessage("close")
        // A checkpoint under way finishes first; a worker that does not stop is ended.
        const stopped = await Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2000).unref())])
        if (!stopped) await w.terminate()
      })
    )

    const look = Effect.suspend(() => {
      if (failed || running || !published) return Effect.void
      if (bulk) {
        bulk = false
        return Effect.void
      }
      const at = writtenAt(walPath)
      if (at === seen) return Effect.void
      seen = at
      begin()
      return Effect.void
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(intervalMs), look)))

    return {
      appended: () => {
        published = true
      },
      bulkRan: () => {
        bulk = true
      }
    }
  })
