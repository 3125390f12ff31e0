/**
 * The Postgres dialect: `pg` connections from a pool, the store's programs run statement by
 * statement (each a named prepared statement on its connection), for several processes and
 * replicas on one database.
 *
 * **Writers take turns.** Every write transaction (a group commit, a handler's commit, a lease
 * claim, maintenance) first takes one transaction-level advisory lock of the schema, held until
 * it commits. So writes serialize as on SQLite, which keeps the store's guarantees (`Store.ts`)
 * with the same policy: seqs are taken under the lock and become visible in seq order (a
 * transaction becomes visible before it releases its locks, so whoever takes the lock next, and
 * every later seq, comes after it), and what a write transaction reads cannot change before it
 * writes. The cost: one writer transaction at a time per database, which the runtime's group
 * commits (many publishes and acks per transaction) keep short; a handler's own statements
 * (`ctx.transaction`) run before the lock is taken, so only its commit waits. Within a process,
 * write transactions also take turns before they ask for the lock, so each one's `onCommit` has run
 * before the next one reads in-memory state (`progressNow`).
 *
 * **Change detection** (`changes.ts`). Every write transaction raises a counter (`changes`,
 * migration 0003) and sends a NOTIFY naming this store on the schema's channel; the change token is
 * the counter minus this store's own raises, so it moves exactly when another process committed. A
 * dedicated LISTEN connection (not from the pool; reconnected with backoff) turns the other
 * processes' notifications into wake-ups.
 *
 * A location is a `postgres://` URL; `?schema=name` puts every table in that schema (created if
 * missing), so several applications or test runs can share one database; `?listen=false` keeps no
 * LISTEN connection (behind a pooler in transaction mode), leaving wake-ups to the poll.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Kysely, PostgresDialect } from "kysely"
import pg from "pg"
import { StoreError, StoreOpenError } from "../storeErrors.ts"
import type { Driver, OpenTransaction, TransactionMode } from "../Driver.ts"
import { makeStore } from "../makeStore.ts"
import { decodeEventRows, type Program, type Statement } from "../storeProgram.ts"
import { makeStatements } from "../queries.ts"
import type { EventDraft, EventTuple } from "../records.ts"
import type { Database } from "../schema.ts"
import { type HandlerTransaction, Store, TransactionSlot } from "../Store.ts"
import { bind, type Template } from "../template.ts"
import { SchemaPostgresDialect } from "./dialect.ts"
import { announceSql, OwnRaises, versionOf } from "./changes.ts"
import { listen } from "./listener.ts"
import { postgresStatements } from "./statements.ts"
import { appendAtOnceSql, appendChunk, appendSql, assignSeqs, bareValues, draftValues, maxAppendsAtOnce, shapeOf } from "./appends.ts"
import { redactText } from "../redact.ts"
import { channelOf, type PostgresLocation, parseLocation, poolOf, writersLock, writersLockKey } from "./location.ts"
import { checkSibusSchema, migrate, openError } from "./schema.ts"
import { permits } from "./permits.ts"

export interface PostgresOptions {
  /** `postgres://user:password@host:port/database`, optionally with `?schema=name`. */
  readonly url: string
  /**
   * Connections in the pool (default 10); a handler holding `ctx.transaction` keeps one, and at
   * most all but two are held by handler transactions at once (the others wait to open theirs).
   */
  readonly maxConnections?: number | undefined
  /**
   * Opens for reading only: nothing is created or migrated; a database without sibus's tables, or
   * with a schema of another version, is refused.
   */
  readonly readOnly?: boolean | undefined
}

/** Opens (and migrates) a Postgres store for the life of the current scope. */
export const make = Effect.fnUntraced(function*(options: PostgresOptions) {
  const parsed = parseLocation(options.url)
  if (typeof parsed === "string") {
    return yield* new StoreOpenError({ reason: "unreadable", location: redactText(options.url), detail: parsed })
  }
  const location = parsed
  const poolSize = Math.max(2, Math.floor(options.maxConnections ?? 10))
  const pool = yield* Effect.acquireRelease(
    Effect.sync(() => poolOf(location, poolSize, options.readOnly === true)),
    (pool) => Effect.promise(() => pool.end().catch(() => undefined))
  )

  // The first connection says whether the server can be reached at all.
  yield* Effect.tryPromise({
    try: () => pool.query("select 1"),
    catch: (cause) => openError(location, "unreadable", cause)
  })
  const kysely = new Kysely<Database>({ dialect: new SchemaPostgresDialect({ pool }) })
  if (options.readOnly === true) yield* checkSibusSchema(pool, location)
  else yield* migrate(pool, kysely, location)
  return makeStore(makeDriver(pool, kysely, location, poolSize, options.readOnly === true))
})

/** The Postgres store as a layer; the pool closes when the layer's scope closes. */
export const layer = (options: PostgresOptions): Layer.Layer<Store, StoreOpenError> => Layer.effect(Store, make(options))

// ---- the driver ---------------------------------------------------------------------------------

/** Something that runs queries: a pool or one connection. */
type Queryable = Pick<pg.PoolClient, "query">

/**
 * A mutex in one process: who holds it runs, the others wait in order. Write transactions take it
 * before they ask for the database's lock (see the header).
 */
class Turns {
  private busy = false
  private readonly waiting: Array<() => void> = []
  readonly take: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (!this.busy) {
      this.busy = true
      return resume(Effect.void)
    }
    this.waiting.push(() => resume(Effect.void))
  })
  readonly give = (): void => {
    const next = this.waiting.shift()
    if (next !== undefined) next()
    else this.busy = false
  }
}

const makeDriver = (pool: pg.Pool, kysely: Kysely<Database>, location: PostgresLocation, poolSize: number, readOnly: boolean): Driver => {
  // Handler transactions hold a connection from their run's first statement until their commit,
  // which waits for the writers' turn; whoever holds the turn (the group commit) needs a connection
  // too. With every connection held by open transactions the process deadlocked (16 handlers, 10
  // connections): two stay free for the writer and for reads.
  const handlerTransactions = permits(Math.max(1, poolSize - 2))
  const statements = makeStatements(kysely, postgresStatements(kysely))
  const names = new Map<Template<string>, string>()
  const nameOf = (t: Template<string>): string => {
    let name = names.get(t)
    if (name === undefined) {
      name = `sibus_${names.size + 1}`
      names.set(t, name)
    }
    return name
  }
  const lock = writersLock(location.schema)
  const lockKey = writersLockKey(location.schema)
  const channel = channelOf(location.schema)
  const turns = new Turns()
  /** This store's name in its notifications (its own are not wake-ups). */
  const origin = `${process.pid}.${Math.random().toString(36).slice(2, 10)}`
  /** Raises of the change counter by this store (the token leaves them out). */
  const raises = new OwnRaises()
  /** Operations waiting for the server now (`StoreCapabilities.inFlight`). */
  let inFlight = 0
  const counted = <A>(f: () => Promise<A>) => async (): Promise<A> => {
    inFlight++
    try {
      return await f()
    } finally {
      inFlight--
    }
  }

  const answer = async (c: Queryable, statement: Statement): Promise<unknown> => {
    switch (statement.kind) {
      case "run":
        return (await c.query({ name: nameOf(statement.template), text: statement.template.sql, values: bind(statement.template, statement.values) })).rowCount ?? 0
      case "get":
        return (await c.query({ name: nameOf(statement.template), text: statement.template.sql, values: bind(statement.template, statement.values) })).rows[0]
      case "all":
        return (await c.query({ name: nameOf(statement.template), text: statement.template.sql, values: bind(statement.template, statement.values) })).rows
      case "events": {
        const rows = (await c.query({
          name: `${nameOf(statement.template)}_rows`, text: statement.template.sql, values: bind(statement.template, statement.values), rowMode: "array"
        })).rows as unknown as Array<EventTuple>
        return decodeEventRows(rows)
      }
      case "append": {
        const drafts = statement.drafts
        const seqs = new Array<number | undefined>(drafts.length)
        for (let from = 0; from < drafts.length; from += appendChunk) {
          const to = Math.min(drafts.length, from + appendChunk)
          const n = to - from
          const written = await c.query({ name: `sibus_append_${n}`, text: appendSql(n), values: draftValues(drafts, from, to) })
          const byId = new Map<string, number>()
          for (const row of written.rows as Array<{ id: string; seq: number }>) byId.set(row.id, row.seq)
          assignSeqs(drafts, from, to, byId, seqs)
        }
        return seqs
      }
    }
  }

  const runProgram = async <A>(c: Queryable, program: Program<A>): Promise<A> => {
    let step = program.next()
    while (!step.done) step = program.next(await answer(c, step.value))
    return step.value
  }

  /** Raises the change counter and notifies the schema's channel, in one statement. */
  const announcement = announceSql(channel, origin)
  const announce = (c: Queryable) => raises.raise(() => c.query({ name: "sibus_announce", text: announcement }), versionOf)
  // A write transaction's first and last round trips: its start with the writers' lock, and its
  // announcement with the commit (each one simple query of two statements; a failure of the first
  // statement skips the second, and the caller rolls back).
  const beginWriting = `begin; ${lock}`
  // A relaxed write (lease marks only) does not wait for the server's disk at commit, and tells no
  // one: no other process waits for it.
  const beginRelaxed = `begin; set local synchronous_commit = off; ${lock}`
  const announceAndCommit = (c: Queryable) => raises.raise(() => c.query(`${announcement}; commit`), versionOf)

  /**
   * A connection the server ends between two queries (an idle-in-transaction timeout, a terminated
   * backend) is reported on its client, which the pool listens to only while the client is idle in
   * the pool: without a listener of ours, that would end the process. The next query fails instead.
   */
  const listened = new WeakSet<pg.PoolClient>()
  const guardClient = (client: pg.PoolClient): pg.PoolClient => {
    if (!listened.has(client)) {
      listened.add(client)
      client.on("error", () => {})
    }
    return client
  }
  const withClient = <A>(op: string, f: (c: pg.PoolClient) => Promise<A>): Effect.Effect<A, StoreError> =>
    Effect.tryPromise({
      try: counted(async () => {
        const client = guardClient(await pool.connect())
        let broken: unknown
        try {
          return await f(client)
        } catch (e) {
          broken = e
          throw e
        } finally {
          client.release(broken instanceof Error && isConnectionError(broken) ? broken : undefined)
        }
      }),
      catch: (cause) => new StoreError({ op, cause })
    })

  const inTransaction = <A>(c: pg.PoolClient, begin: string, f: () => Promise<A>): Promise<A> =>
    (async () => {
      await c.query(begin)
      try {
        const out = await f()
        await c.query("commit")
        return out
      } catch (e) {
        await c.query("rollback").catch(() => undefined)
        throw e
      }
    })()

  const transaction: Driver["transaction"] = <A>(op: string, mode: TransactionMode, program: () => Program<A>) =>
    mode === "read"
      ? withClient(op, (c) => inTransaction(c, "begin isolation level repeatable read read only", () => runProgram(c, program())))
      : Effect.acquireUseRelease(
        turns.take,
        () =>
          withClient(op, async (c) => {
            await c.query(mode === "relaxed" ? beginRelaxed : beginWriting)
            try {
              const out = await runProgram(c, program())
              if (mode === "relaxed") await c.query("commit")
              else await announceAndCommit(c)
              return out
            } catch (e) {
              await c.query("rollback").catch(() => undefined)
              throw e
            }
          }),
        () => Effect.sync(turns.give)
      )

  const appendAtOnce = (drafts: ReadonlyArray<EventDraft>): Effect.Effect<ReadonlyArray<number | undefined>, StoreError> =>
    Effect.acquireUseRelease(
      turns.take,
      () =>
        withClient("commit", async (c) => {
          const n = drafts.length
          const result = await raises.raise(
            () => {
              const shape = shapeOf(drafts)
              return c.query({
                name: `sibus_append_at_once_${shape}_${n}`,
                text: appendAtOnceSql(n, shape, lockKey, channel, origin),
                values: shape === "bare" ? bareValues(drafts) : draftValues(drafts, 0, n)
              })
            },
            versionOf
          )
          // (JSON, parsed natively: a Postgres array is parsed character by character in JavaScript.)
          const written = (result.rows[0] as { written: Array<[string, number]> | null }).written ?? []
          return assignSeqs(drafts, 0, drafts.length, new Map(written), new Array<number | undefined>(drafts.length))
        }),
      () => Effect.sync(turns.give)
    )

  // A program run outside a transaction: one statement (reads, and single-row writes fenced in
  // their own WHERE). A write among them announces itself, as a write transaction does.
  const statement: Driver["statement"] = (op, program) =>
    withClient(op, async (c) => {
      let wrote = false
      const p = program()
      let step = p.next()
      while (!step.done) {
        const s = step.value
        if (s.kind === "append") throw new Error(`${op}: an append runs in a write transaction`)
        const result = await answer(c, s)
        if (s.kind === "run" && (result as number) > 0) wrote = true
        step = p.next(result)
      }
      if (wrote) await announce(c)
      return step.value
    })

  const begin: Driver["begin"] = (wrap) =>
    Effect.withFiber((fiber) => {
      const slot = fiber.getRef(TransactionSlot)
      if (slot.current !== undefined) return Effect.succeed(slot.current)
      return Effect.tryPromise({
        try: (signal) => counted(async () => {
          await handlerTransactions.take(signal)
          let client: pg.PoolClient
          try {
            client = guardClient(await pool.connect())
          } catch (e) {
            handlerTransactions.give()
            throw e
          }
          try {
            await client.query("begin")
          } catch (e) {
            client.release(e instanceof Error ? e : undefined)
            handlerTransactions.give()
            throw e
          }
          // Interrupted while it opened (its run timed out, its session ended): no one will get
          // this transaction, so it is ended here. Kept, it stayed open for ever, holding a
          // connection and a permit.
          if (signal.aborted) {
            await client.query("rollback").catch(() => undefined)
            client.release()
            handlerTransactions.give()
            throw new Error("interrupted while the handler's transaction opened")
          }
          let ended = false
          /** Set once a rollback was asked for: no commit starts after it. */
          let rollingBack = false
          /**
           * The commit under way. A rollback asked for meanwhile (the session ending: a lost lease,
           * a drain) waits for it: sent on the same connection between the commit's statements, it
           * ended the transaction there and the rest of the commit (the run's follow-ups) ran
           * outside it, each statement committed on its own, with no ack and no writers' lock.
           */
          let committing: Promise<unknown> | undefined
          const end = (error?: Error) => {
            if (ended) return
            ended = true
            if (slot.current === tx) slot.current = undefined
            client.release(error)
            handlerTransactions.give()
          }
          // The handler's Kysely runs its statements on this connection only while the transaction
          // is open: a handle kept past its run fails instead of writing outside it.
          const guarded = {
            query: (...args: Array<unknown>) => {
              if (ended) {
                return Promise.reject(new Error("this handler transaction has ended (its run was acknowledged, failed or timed out): use ctx.transaction inside a run, and only until it settles"))
              }
              return counted(() => (client.query as (...a: Array<unknown>) => Promise<unknown>)(...args))()
            },
            release: () => {}
          }
          const open: OpenTransaction = {
            db: new Kysely<any>({ dialect: new PostgresDialect({ pool: { options: {}, connect: async () => guarded as never, end: async () => {} } }) }),
            commit: (program, onCommit) =>
              Effect.acquireUseRelease(
                turns.take,
                () =>
                  Effect.tryPromise({
                    try: counted(async () => {
                      if (ended || rollingBack) throw new Error("the transaction already ended")
                      const run = (async () => {
                        try {
                          await client.query(lock)
                          const out = await runProgram(client, program())
                          await announceAndCommit(client)
                          onCommit?.()
                          end()
                          return out
                        } catch (e) {
                          await client.query("rollback").catch(() => undefined)
                          end(e instanceof Error && isConnectionError(e) ? e : undefined)
                          throw e
                        }
                      })()
                      committing = run
                      try {
                        return await run
                      } finally {
                        committing = undefined
                      }
                    }),
                    catch: (cause) => new StoreError({ op: "commit", cause })
                  }),
                () => Effect.sync(turns.give)
              ),
            rollback: Effect.promise(counted(async () => {
              rollingBack = true
              // A commit under way decides: it commits (fenced), or rolls back itself.
              if (committing !== undefined) await committing.catch(() => undefined)
              if (ended) return
              await client.query("rollback").catch(() => undefined)
              end()
            }))
          }
          const tx: HandlerTransaction = wrap(open)
          slot.current = tx
          return tx
        })(),
        catch: (cause) => new StoreError({ op: "beginTransaction", cause })
      })
    })

  return {
    statements,
    transaction,
    statement,
    begin,
    appendAtOnce: { run: appendAtOnce, max: maxAppendsAtOnce },
    readsWait: true,
    capabilities: {
      readOnly,
      textWithoutNul: true,
      changeToken: Effect.tryPromise({
        try: counted(() =>
          raises.token(async () => {
            const row = (await pool.query({ name: "sibus_changes", text: "select version from changes where id = 1" })).rows[0] as { version: number } | undefined
            return row?.version ?? 0
          })
        ),
        catch: (cause) => new StoreError({ op: "changeToken", cause })
      }),
      commitNotifications: location.listen ? (notify) => listen(location, channel, origin, notify) : undefined,
      inFlight: () => inFlight
    }
  }
}

const isConnectionError = (e: Error): boolean => {
  const code = (e as { code?: unknown }).code
  return typeof code !== "string" || code.startsWith("08") || code === "57P01"
}
