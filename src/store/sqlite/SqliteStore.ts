/**
 * The SQLite dialect: better-sqlite3 in WAL mode, one connection per process. Every statement is a
 * Kysely-built template prepared once; writes run in `BEGIN IMMEDIATE` transactions. better-sqlite3
 * is synchronous, so each store call is atomic with respect to the event loop: no other fiber can
 * interleave inside a transaction. `:memory:` runs the same code on an in-memory database.
 *
 * Its capabilities: change detection (`data_version` moves when another connection commits) and
 * WAL checkpoints (bulk deletions skip the automatic one; maintenance runs a passive one after).
 * Checkpoints otherwise run in a worker thread (`checkpointer.ts`), so no commit waits for one.
 *
 * Kysely executes only the migrations (at open, before anything else runs, and only when one is
 * pending) and a handler's own statements (`ctx.transaction`); the store runs its statements,
 * compiled by Kysely at build time (`compiledStatements.ts`), directly on the handle. So a process
 * that publishes and consumes on a migrated file never loads Kysely.
 */
import SqliteDatabase from "better-sqlite3"
import { existsSync, watch } from "node:fs"
import { basename, dirname, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { describeCause, StoreError, StoreOpenError } from "../storeErrors.ts"
import type { Driver, TransactionMode } from "../Driver.ts"
import { makeStore } from "../makeStore.ts"
import { decodeEventRows, type Program, runSync, type Statement } from "../storeProgram.ts"
import type { EventTuple } from "../records.ts"
import { type HandlerTransaction, Store, TransactionSlot } from "../Store.ts"
import { bind, type Template } from "../template.ts"
import { syncBusyMs, whileBusy } from "./busy.ts"
import { checkSibusSchema, checkSibusTables, migrate, pendingMigrations } from "./schema.ts"
import { unsupportedNode } from "./nodeVersion.ts"
import { compiledStatements } from "./compiledStatements.ts"
import { defaultWalLimitBytes, guardWal, limitWal } from "./walGuard.ts"
import { type Checkpointer, checkpointInWorker } from "./checkpointer.ts"

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
  /**
   * Opens an existing sibus database for reading only: nothing is written to it, not even a
   * migration or the switch to WAL, so inspecting another process's file (or one in a read-only
   * folder) changes nothing. A file that is not a sibus database, or one this version's schema
   * does not match, is refused with `StoreOpenError`.
   */
  readonly readOnly?: boolean | undefined
  /**
   * Opens only an existing sibus database (`false` by default: a missing file is created). A
   * missing file, or one that is not a sibus database (another application's SQLite file, an empty
   * file), is refused with `StoreOpenError` before anything is written to it: no file created, no
   * migration, no switch to WAL. An older sibus database is migrated, as by any other open.
   */
  readonly existing?: boolean | undefined
  /**
   * The size the write-ahead log is brought back to (default 64 MiB): SQLite truncates it to this
   * when it starts it over, and a guard checkpoints and truncates it on the Clock once old readers
   * let go, warning while one keeps it past this size (`walGuard.ts`).
   */
  readonly walLimitBytes?: number | undefined
  /**
   * The most memory SQLite's page cache may hold for this connection (default 4 MiB; better-sqlite3
   * builds SQLite with 16 MiB). A consumer reads the log once, front to back, so a large cache
   * fills with pages read once: reading a 100k-event backlog filled 16 MiB of it, about a tenth of
   * the process's peak memory. 4 MiB keeps the index pages appends touch (1,000-row batches over
   * 1,000 keys: 3-5 % slower than with 16 MiB; keyless and 100-key batches: no change). On a
   * connection the application hands in (`database`), the cache is changed only when this is given.
   */
  readonly pageCacheBytes?: number | undefined
}

/** The page cache's size when `pageCacheBytes` is not given. */
export const defaultPageCacheBytes = 4 * 1024 * 1024

/**
 * Opens a file for reading only. SQLite reads a WAL database through an index file (`-shm`) it
 * creates beside it; in a folder it cannot write, the file opens immutable instead (a URI filename,
 * which needs `SQLITE_USE_URI=1` when better-sqlite3 loads: the `sib` binary sets it), on the
 * grounds that no process is writing it then: a writer keeps the index beside it while it has the
 * database open (and with the index there, the read-only connection uses it and sees the writer's
 * commits). A writer that opens the file after this one did is not seen.
 */
/**
 * What SQLite says when a read-only connection cannot create the WAL index: a folder it cannot
 * write at all (a read-only mount: CANTOPEN), or one whose permissions keep this user out
 * (READONLY_DIRECTORY: the service's own folder, read as another user).
 */
const cannotMakeWalIndex = new Set(["SQLITE_CANTOPEN", "SQLITE_READONLY_DIRECTORY", "SQLITE_READONLY_CANTINIT"])

const openReadOnly = (filename: string): SqliteDatabase.Database => {
  try {
    const db = new SqliteDatabase(filename, { readonly: true, fileMustExist: true })
    try {
      // SQLite opens the file lazily: the first read is where a missing WAL index shows.
      db.prepare("select count(*) from sqlite_master").get()
    } catch (e) {
      db.close()
      throw e
    }
    return db
  } catch (e) {
    if (!cannotMakeWalIndex.has(String((e as { code?: unknown }).code)) || !existsSync(filename)) throw e
    try {
      return new SqliteDatabase(`${pathToFileURL(resolve(filename)).href}?immutable=1`, { readonly: true, fileMustExist: true })
    } catch {
      throw new Error(`${(e as Error).message}: SQLite needs to create ${basename(filename)}-shm beside a WAL database to read it, and cannot in this folder; copy the file to a folder it can write`)
    }
  }
}

const walLimit = (options: SqliteOptions) => Math.max(0, Math.floor(options.walLimitBytes ?? defaultWalLimitBytes))

const busyTimeout = (options: SqliteOptions) => `busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`

/** Sizes the page cache (in KiB, as a negative `cache_size` says), unless the caller's own connection keeps its own. */
const sizePageCache = (db: SqliteDatabase.Database, options: SqliteOptions) => {
  if (options.filename === ":memory:" || (options.database !== undefined && options.pageCacheBytes === undefined)) return
  db.pragma(`cache_size = -${Math.max(64, Math.floor((options.pageCacheBytes ?? defaultPageCacheBytes) / 1024))}`)
}

/** The connection, opened as the options say and not yet configured (nothing written). */
const openDatabase = (options: SqliteOptions) => {
  const unsupported = options.database === undefined ? unsupportedNode() : undefined
  if (unsupported !== undefined) return Effect.fail(new StoreOpenError({ reason: "unsupported", location: options.filename, detail: unsupported }))
  return Effect.try({
    try: () => {
      if (options.readOnly === true) {
        if (options.filename === ":memory:") throw new Error("an in-memory database cannot be opened read-only")
        const db = options.database ?? openReadOnly(options.filename)
        db.pragma(busyTimeout(options))
        sizePageCache(db, options)
        return db
      }
      if (options.existing === true && options.database === undefined && options.filename !== ":memory:" && !existsSync(options.filename)) {
        throw new Error(`there is no file at ${options.filename}`)
      }
      const db = options.database ?? new SqliteDatabase(options.filename, { fileMustExist: options.existing === true && options.filename !== ":memory:" })
      // The busy timeout first: switching a new file to WAL waits for other processes opening it.
      db.pragma(busyTimeout(options))
      sizePageCache(db, options)
      return db
    },
    catch: (cause) =>
      new StoreOpenError({ reason: "unreadable", location: options.filename, detail: describeCause(cause) })
  })
}

/** Configures a connection that writes: WAL, the durability asked for, no foreign keys. */
const configure = (db: SqliteDatabase.Database, options: SqliteOptions) =>
  Effect.try({
    try: () => {
      db.pragma("journal_mode = WAL")
      db.pragma(`synchronous = ${options.synchronous ?? "NORMAL"}`)
      db.pragma("foreign_keys = OFF")
      limitWal(db, walLimit(options))
    },
    catch: (cause) =>
      new StoreOpenError({ reason: "unreadable", location: options.filename, detail: describeCause(cause) })
  })

/** Kysely, for handlers' own statements (`ctx.transaction`): loaded by the first one. */
let kyselyModule: typeof import("kysely") | undefined
const loadKysely: Effect.Effect<typeof import("kysely")> = Effect.suspend(() =>
  kyselyModule !== undefined
    ? Effect.succeed(kyselyModule)
    : Effect.map(Effect.promise(() => import("kysely")), (m) => (kyselyModule = m))
)

const attempt = <A>(op: string, f: () => A): Effect.Effect<A, StoreError> =>
  Effect.try({ try: f, catch: (cause) => new StoreError({ op, cause }) })

/** Opens (and migrates) a SQLite store for the life of the current scope. */
export const make = Effect.fnUntraced(function*(options: SqliteOptions) {
  const location = options.filename
  const close = (db: SqliteDatabase.Database) => Effect.sync(() => options.database === undefined && db.close())
  const ready = Effect.flatMap(openDatabase(options), (db) =>
    Effect.gen(function*() {
      // Everything that refuses the file reads only, and comes before the first write (WAL, migrations).
      if (options.existing === true && options.readOnly !== true) yield* checkSibusTables(db, location)
      const pending = yield* pendingMigrations(db, location)
      if (options.readOnly === true) {
        yield* checkSibusSchema(db, location, pending)
      } else {
        yield* configure(db, options)
        if (pending.length > 0) yield* migrate(db, location)
      }
      return db
    }).pipe(Effect.onError(() => close(db))))
  // Processes opening a new file together can meet a lock the busy timeout does not wait for (while
  // one sets up WAL): such an open is tried again, on the Clock.
  const db = yield* Effect.acquireRelease(
    ready.pipe(Effect.retry({ while: (e) => /database is locked|SQLITE_BUSY/.test(e.detail), schedule: Schedule.exponential("20 millis"), times: 6 })),
    close
  )
  // Open: from here a call waits for other connections' locks on the Clock (`whileBusy`), past a
  // short synchronous wait. A connection the application handed in keeps its own busy timeout.
  const busyMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))
  if (options.database === undefined && options.filename !== ":memory:") db.pragma(`busy_timeout = ${Math.min(busyMs, syncBusyMs)}`)
  const waitBusyMs = options.database === undefined ? busyMs : 0
  if (options.readOnly !== true && options.filename !== ":memory:") {
    yield* Effect.forkScoped(guardWal(db, options.filename, walLimit(options)))
    const checkpointer = yield* checkpointInWorker(db, options.filename)
    return makeStore(makeDriver(db, options.filename, checkpointer, waitBusyMs))
  }
  return makeStore(makeDriver(db, options.filename === ":memory:" ? undefined : options.filename, undefined, waitBusyMs))
})

/**
 * Writes to the database file or its WAL by any process, as the file system reports them: a watch
 * of the folder (the WAL file comes and goes), filtered to this database's files.
 */
const watchWrites = (filename: string) => (notify: () => void): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const base = basename(filename)
      try {
        const watcher = watch(dirname(resolve(filename)), { persistent: false }, (_event, name) => {
          if (name === base || name === `${base}-wal`) notify()
        })
        watcher.on("error", () => watcher.close())
        return watcher
      } catch {
        return undefined
      }
    }),
    (watcher) => Effect.sync(() => watcher?.close())
  ).pipe(Effect.asVoid)

/**
 * The driver on one better-sqlite3 connection. Statements are prepared once per template and run
 * synchronously, so a program runs start to end inside its transaction with no other fiber in
 * between.
 */
const makeDriver = (
  db: SqliteDatabase.Database,
  filename: string | undefined,
  checkpointer: Checkpointer | undefined,
  /** How long a call waits on the Clock for another connection's lock (see `whileBusy`). */
  waitBusyMs: number
): Driver => {
  const statements = compiledStatements
  const prepared = new Map<Template<string>, SqliteDatabase.Statement>()
  const stmt = (t: Template<string>): SqliteDatabase.Statement => {
    let s = prepared.get(t)
    if (s === undefined) {
      s = db.prepare(t.sql)
      prepared.set(t, s)
    }
    return s
  }
  const preparedRaw = new Map<Template<string>, SqliteDatabase.Statement>()
  const rawStmt = (t: Template<string>): SqliteDatabase.Statement => {
    let s = preparedRaw.get(t)
    if (s === undefined) {
      s = db.prepare(t.sql).raw(true)
      preparedRaw.set(t, s)
    }
    return s
  }
  const insertEvent = statements.insertEvent

  const answer = (statement: Statement): unknown => {
    switch (statement.kind) {
      case "run":
        return stmt(statement.template).run(bind(statement.template, statement.values)).changes
      case "get":
        return stmt(statement.template).get(bind(statement.template, statement.values))
      case "all":
        return stmt(statement.template).all(bind(statement.template, statement.values))
      case "events": {
        const rows = rawStmt(statement.template).all(bind(statement.template, statement.values)) as Array<EventTuple>
        return decodeEventRows(rows)
      }
      case "append": {
        checkpointer?.appended()
        const insert = stmt(insertEvent)
        const seqs = new Array<number | undefined>(statement.drafts.length)
        for (let i = 0; i < statement.drafts.length; i++) {
          const info = insert.run(bind(insertEvent, statement.drafts[i]!))
          seqs[i] = info.changes === 1 ? Number(info.lastInsertRowid) : undefined
        }
        return seqs
      }
    }
  }
  const runProgram = <A>(program: () => Program<A>): A => runSync(program(), answer)
  const inTransaction = db.transaction(runProgram)

  /** Runs `f` with the automatic checkpoint off, so the commit inside it does not checkpoint. */
  const withoutAutoCheckpoint = <A>(f: () => A): A => {
    const previous = db.pragma("wal_autocheckpoint", { simple: true }) as number
    db.pragma("wal_autocheckpoint = 0")
    try {
      return f()
    } finally {
      db.pragma(`wal_autocheckpoint = ${previous}`)
    }
  }

  // ---- handler transactions -----------------------------------------------------------------
  // One connection serves every fiber, so while a handler holds a transaction open, calls from
  // anyone else wait for it to end (they would otherwise run inside it); calls made with the
  // holder's `TransactionSlot` run in it.
  let open: { readonly slot: { current: HandlerTransaction | undefined }; readonly waiters: Array<() => void> } | undefined

  const release = (slot: { current: HandlerTransaction | undefined }) => {
    const held = open
    if (held === undefined || held.slot !== slot) return
    open = undefined
    held.slot.current = undefined
    for (const wake of held.waiters) wake()
  }

  const waitForTransaction: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (open === undefined) return resume(Effect.void)
    open.waiters.push(() => resume(Effect.void))
  })

  const gated = <A>(op: string, f: () => A): Effect.Effect<A, StoreError> => {
    const run = whileBusy(attempt(op, f), waitBusyMs)
    const self: Effect.Effect<A, StoreError> = Effect.suspend(() =>
      open === undefined
        ? run
        : Effect.withFiber((fiber) => (open !== undefined && fiber.getRef(TransactionSlot) !== open.slot ? Effect.andThen(waitForTransaction, self) : run))
    )
    return self
  }

  const begin: Driver["begin"] = (wrap) =>
    Effect.withFiber((fiber) => {
      const slot = fiber.getRef(TransactionSlot)
      if (slot.current !== undefined) return Effect.succeed(slot.current)
      return Effect.flatMap(loadKysely, ({ Kysely, SqliteDialect }) => gated("beginTransaction", () => {
        db.exec("BEGIN IMMEDIATE")
        const ended = () => open?.slot !== slot || slot.current !== tx
        // The handler's Kysely runs its statements on the store's connection only while this
        // transaction is open: a handle kept past its run (a timed-out handler still going, a saved
        // reference) fails instead of writing outside it or inside another run's transaction.
        const guarded = {
          prepare: (text: string) => {
            if (ended()) {
              throw new Error("this handler transaction has ended (its run was acknowledged, failed or timed out): use ctx.transaction inside a run, and only until it settles")
            }
            return db.prepare(text)
          },
          close: () => {}
        }
        const tx: HandlerTransaction = wrap({
          db: new Kysely<any>({ dialect: new SqliteDialect({ database: guarded }) }),
          commit: (program, onCommit) =>
            Effect.try({
              try: () => {
                if (ended()) throw new Error("the transaction already ended")
                try {
                  const result = runProgram(program)
                  db.exec("COMMIT")
                  onCommit?.()
                  return result
                } catch (e) {
                  if (db.inTransaction) db.exec("ROLLBACK")
                  throw e
                } finally {
                  release(slot)
                }
              },
              catch: (cause) => new StoreError({ op: "commit", cause })
            }),
          rollback: Effect.sync(() => {
            if (ended()) return
            try {
              if (db.inTransaction) db.exec("ROLLBACK")
            } finally {
              release(slot)
            }
          })
        })
        open = { slot, waiters: [] }
        slot.current = tx
        return tx
      }))
    })

  return {
    statements,
    transaction: <A>(op: string, mode: TransactionMode, program: () => Program<A>) =>
      gated(op, () => {
        switch (mode) {
          case "read":
            return inTransaction.deferred(program) as A
          case "write":
          case "relaxed":
            return inTransaction.immediate(program) as A
          case "bulk":
            checkpointer?.bulkRan()
            return withoutAutoCheckpoint(() => inTransaction.immediate(program)) as A
        }
      }),
    statement: (op, program) => gated(op, () => runProgram(program)),
    begin,
    capabilities: {
      readOnly: db.readonly,
      // No other connection can reach an in-memory database: nothing to poll for.
      changeToken: filename === undefined ? undefined : gated("changeToken", () => db.pragma("data_version", { simple: true }) as number),
      checkpoint: gated("checkpoint", () => {
        db.pragma("wal_checkpoint(PASSIVE)")
      }),
      commitNotifications: filename === undefined ? undefined : watchWrites(filename)
    }
  }
}

/** The SQLite store as a layer; the database closes when the layer's scope closes. */
export const layer = (options: SqliteOptions): Layer.Layer<Store, StoreOpenError> => Layer.effect(Store, make(options))
