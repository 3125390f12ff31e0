/**
 * The outbox relay: a fiber that publishes an outbox's rows into the bus, with the row id as the
 * event id, and marks them sent. It holds its claims, its retry decisions and its pruning; it
 * publishes only through a narrow `RelayTarget` (the `Bus` service, or the Promise runtime's
 * methods), so it never touches the bus's store. Start one per outbox per process, or several:
 * one at a time sends (the outbox's lead, `holdLead` in sql.ts), the others stand by and take
 * over when its lead runs out (it died) or it gives it up (it stopped). So rows reach the bus in
 * the order they were added, and a key's rows stay in order across retries and crashes: a row
 * waiting for a retry holds back its key's later rows until it is sent or failed.
 *
 * Modes of the relay fiber:
 * - **checking**: reads the earliest due time of a pending row (a read: an idle relay takes no
 *   write lock). Due now -> takes or renews the lead (a write); held by another relay -> idle
 *   until the poll; held -> sending. Not due -> idle.
 * - **sending**: claims up to `batchSize` due rows in the order they were added (a key's row
 *   behind an earlier one waiting for its retry is skipped; at most 16 Mi characters of messages,
 *   read by size first, so big rows are not read twice), publishes them in one `publishAll`
 *   (given at most `leaseMs`, then abandoned as a failure), then marks them sent. No connection
 *   of the application's database is held while it publishes (unless the outbox shares its
 *   SQLite file with a bus: `sharesFile`): the relay's statements (claim, mark) are short, and
 *   the application's transactions run between them. A publish
 *   refused for one row (a `PublishError`: bad topic, schema mismatch, ...) charges that row an
 *   attempt (`attempts`, `last_error`, `next_attempt_at` after the backoff, or `failed` at
 *   `maxAttempts`); the rows of other keys are published again without it, and its key's later
 *   rows are given back (they wait for it). The bus closed (a `BusClosedError`) marks what was
 *   published, gives the other rows back uncharged and with no error noted (they were not sent,
 *   and it is not their fault), and -> ended. Any other failure (the bus's store or the database
 *   failing) marks what was published, gives the other rows back uncharged with the error noted,
 *   and -> backing off. A full batch (or one cut by its size) -> sending again; a partial one ->
 *   checking; none claimed (every due row waits behind its key's retry) -> idle until the first
 *   retry is due.
 * - **backing off**: sleeps 100 ms doubling to 30 s (jittered) after consecutive failures, then
 *   -> checking. Restart strategy: the relay is never restarted, and it stops on its own only
 *   when its bus has closed.
 * - **ended** (the bus closed): the relay fiber and the pruner end, `stopped` completes, and the
 *   rows left pending wait for a relay on a live bus; `stop` still completes (at once). A closed
 *   bus is noticed only by a publish: an idle relay ends when it next has a row to send.
 * - **idle**: waits for the first of a local `add` (the wake), the poll interval and the next
 *   retry due, then -> checking. The lead is kept until it runs out (an idle relay writes
 *   nothing). A wake may come before the adding transaction commits, so after a wake the next
 *   three waits are short (`recheckMs`, doubling) before falling back to polling.
 *   Adds in other processes are found by the poll.
 * - **pruning** (beside the modes above, ending with them): every `pruneIntervalMs`, deletes rows
 *   sent more than `retentionMs` ago, in batches of `pruneBatchSize`.
 * Stopping (the scope closes) interrupts only a publish in flight; what was published is marked,
 * the rest of the batch is given back and the lead given up, so nothing waits for a lease to run
 * out. Closing the bus first is just as safe (the relay ends at its next publish, as above).
 *
 * Why exactly once into the bus: a row is inserted only if the application's transaction
 * commits; it stays pending until the publish that carries it has committed; and a second
 * publish of it (after a crash before marking, or after a lease ran out) carries the same event
 * id, which the store deduplicates while the event is stored: if compaction or retention deleted
 * it in between (a lease later at the earliest), the second publish appends it again. Effects
 * that leave the bus remain the consumers' business.
 *
 * What breaks the order: a relay that pauses (SIGSTOP, a frozen VM) longer than its lease, while
 * another takes the lead and sends, and then completes the publish it had started.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type { Kysely } from "kysely"
import { Bus } from "../runtime/Bus.ts"
import { BusClosedError, PublishError } from "../runtime/busErrors.ts"
import { bootId } from "../runtime/ids.ts"
import type { PublishItem, PublishOptions } from "../runtime/publish.ts"
import { type Backoff, retryDelay } from "../runtime/retryDelay.ts"
import { Signal } from "../runtime/Signal.ts"
import { backoffProblem } from "../options/backoffSpec.ts"
import { relaySpec, rowBackoff } from "../options/outboxSpec.ts"
import { check, problemText } from "../options/spec.ts"
import { OutboxDbError, OutboxOptionsError } from "./outboxErrors.ts"
import { Outbox, type OutboxShape } from "./Outbox.ts"
import type { OutboxDatabase } from "./outboxTable.ts"
import { claimDue, type ClaimedRow, dropLead, holdLead, markSent, nextDue, type OutboxStats, pruneSent, recordRefusal, release, sharesFileWithBus } from "./sql.ts"
import { watchAdds } from "./wakeOnAdd.ts"

/**
 * Where a relay publishes: the `Bus` service fits, and so does the Promise runtime's
 * `publish`/`publishAll` wrapped in effects. A failure that is a `PublishError` is the row's
 * fault; a `BusClosedError` ends the relay; any other failure is the target's.
 */
export interface RelayTarget {
  readonly publish: (topic: string, payload: unknown, options?: PublishOptions) => Effect.Effect<unknown, unknown>
  readonly publishAll: (items: ReadonlyArray<PublishItem>) => Effect.Effect<unknown, unknown>
}

export interface RelayOptions {
  /** Rows claimed and published per transaction (default 100). */
  readonly batchSize?: number | undefined
  /** How long a claim keeps other relays off a row (default 30 s). */
  readonly leaseMs?: number | undefined
  /** How often an idle relay looks for rows added elsewhere (default 1 s). */
  readonly pollIntervalMs?: number | undefined
  /** The first short wait after a local add found nothing committed yet (default 20 ms). */
  readonly recheckMs?: number | undefined
  /** Refused publishes before a row is marked failed (default 10). */
  readonly maxAttempts?: number | undefined
  /** Delay before a refused row is tried again (default 1 s doubling to 60 s, +/- 20 %). */
  readonly backoff?: Partial<Backoff> | undefined
  /** How long sent rows are kept (default 1 day; `Infinity` keeps them). */
  readonly retentionMs?: number | undefined
  /** How often sent rows are pruned (default 1 min). */
  readonly pruneIntervalMs?: number | undefined
  /** Rows deleted per prune statement (default 1000). */
  readonly pruneBatchSize?: number | undefined
  /** This relay's name in `claimed_by` (default: a new UUIDv7). */
  readonly owner?: string | undefined
}

/** What this relay did since it started: monotonic counters for metrics. */
export interface RelayCounters {
  /** Rows it marked sent. */
  readonly sent: number
  /** Publishes refused and charged to a row. */
  readonly refused: number
  /** Rows it marked failed (refused `maxAttempts` times). */
  readonly failed: number
  /** Sent rows it deleted after the retention. */
  readonly pruned: number
  /** Rounds that failed as a whole (the bus's store or the database unavailable; not the bus closing). */
  readonly errors: number
}

/** The outbox's rows by state (gauges) and this relay's counters. */
export interface RelayStats extends OutboxStats {
  readonly relay: RelayCounters
}

export interface RelayShape {
  readonly owner: string
  readonly counters: () => RelayCounters
  readonly stats: Effect.Effect<RelayStats, OutboxDbError>
  /** Deletes sent rows past the retention now; returns how many. */
  readonly prune: Effect.Effect<number, OutboxDbError>
  /** Stops the relay (idempotent): a publish in flight is interrupted, its claims given back. */
  readonly stop: Effect.Effect<void>
  /** Completes when the relay has stopped: by `stop`, or on its own when its bus closed. */
  readonly stopped: Effect.Effect<void>
}

/** The target failed as a whole (not because of a row). */
class TargetFailure extends Data.TaggedError("TargetFailure")<{ readonly cause: unknown }> {
  override get message(): string {
    const c = this.cause
    return `publishing failed: ${c instanceof Error ? c.message : String(c)}`
  }
}

/** The target is closed: the relay ends (the batch's rows were not sent, and not by their fault). */
class TargetClosed extends Data.TaggedError("TargetClosed")<{ readonly cause: unknown }> {
  override get message(): string {
    const c = this.cause
    return `publishing stopped: ${c instanceof Error ? c.message : String(c)}`
  }
}

/**
 * The most message text (payloads and headers as stored, in characters: what the strings take in
 * memory) one batch reads, parses and publishes: a batch of 100 rows of 1 MB took a relay process
 * to ~800 MB.
 */
const maxBatchChars = 16 * 1024 * 1024

const relayBackoff: Backoff = { initialMs: 100, factor: 2, maxMs: 30_000, jitter: 0.2 }
const maxRechecks = 3

interface Config {
  readonly batchSize: number
  readonly leaseMs: number
  readonly pollIntervalMs: number
  readonly recheckMs: number
  readonly maxAttempts: number
  readonly backoff: Backoff
  readonly retentionMs: number
  readonly pruneIntervalMs: number
  readonly pruneBatchSize: number
  readonly owner: string | undefined
}

const resolveOptions = (options: RelayOptions): Config | OutboxOptionsError => {
  const checked = check(relaySpec, options)
  const problem = !checked.ok ? checked.problem : backoffProblem({ ...rowBackoff, ...checked.value.backoff }, "backoff")?.problem
  if (problem !== undefined) return new OutboxOptionsError({ of: "relay", detail: problemText(problem), problem })
  const o = checked.ok ? checked.value : {}
  return {
    batchSize: o.batchSize!, leaseMs: o.leaseMs!, pollIntervalMs: o.pollIntervalMs!, recheckMs: o.recheckMs!, maxAttempts: o.maxAttempts!,
    backoff: { ...rowBackoff, ...o.backoff }, retentionMs: o.retentionMs ?? 24 * 60 * 60 * 1000,
    pruneIntervalMs: o.pruneIntervalMs!, pruneBatchSize: o.pruneBatchSize!, owner: o.owner
  }
}

const isPublishError = (e: unknown): e is PublishError =>
  e instanceof PublishError || (typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "PublishError")

const isBusClosed = (e: unknown): e is BusClosedError =>
  e instanceof BusClosedError || (typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "BusClosedError")

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** The publish of a claimed row, or why its stored text cannot be one. */
const itemOf = (row: ClaimedRow): PublishItem | string => {
  try {
    const item: { topic: string; payload: unknown; id: string; key?: string; headers?: Record<string, string> } = {
      topic: row.topic, payload: JSON.parse(row.payload), id: row.id
    }
    if (row.key !== null) item.key = row.key
    if (row.headers !== null) item.headers = JSON.parse(row.headers)
    return item
  } catch (e) {
    return `the stored row is not valid JSON: ${errorText(e)}`
  }
}

interface Progress {
  readonly sent: Array<string>
  readonly refused: Array<{ readonly row: ClaimedRow; readonly error: string }>
  /** Why the target failed as a whole (noted on the rows given back; not when it closed). */
  error?: string | undefined
}

/**
 * Starts a relay for `outbox` publishing to `target`, for the life of the current scope. Fails
 * only on bad options; after that it runs until stopped.
 */
export const start = Effect.fnUntraced(function*(outbox: OutboxShape, target: RelayTarget, options: RelayOptions = {}) {
  const config = resolveOptions(options)
  if (config instanceof OutboxOptionsError) return yield* config
  const clock = yield* Clock.Clock
  const random = yield* Random.Random
  const owner = config.owner ?? bootId(clock, random)
  const { table } = outbox
  const db = outbox.db as Kysely<OutboxDatabase>
  const counters = { sent: 0, refused: 0, failed: 0, pruned: 0, errors: 0 }
  const dbError = (op: string) => (cause: unknown) => new OutboxDbError({ table, op, cause })
  const query = <A>(op: string, f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: dbError(op) })
  const name = `outbox ${table}: relay ${owner}`

  const signal = new Signal()
  const unwatch = watchAdds(outbox.db, table, signal)
  yield* Effect.addFinalizer(() => Effect.sync(unwatch))

  /** Publishes the rows, isolating refused ones; records what happened in `progress`. */
  const publishRows = (rows: ReadonlyArray<ClaimedRow>, progress: Progress) =>
    Effect.gen(function*() {
      const targetFailed = (cause: unknown): TargetFailure | TargetClosed => {
        if (isBusClosed(cause)) return new TargetClosed({ cause })
        const failure = new TargetFailure({ cause })
        progress.error = failure.message
        return failure
      }
      let remaining: Array<{ row: ClaimedRow; item: PublishItem }> = []
      for (const row of rows) {
        const item = itemOf(row)
        if (typeof item === "string") progress.refused.push({ row, error: item })
        else if (row.key === null || !progress.refused.some((r) => r.row.key === row.key)) remaining.push({ row, item })
      }
      while (remaining.length > 0) {
        const all = yield* Effect.result(target.publishAll(remaining.map((r) => r.item)))
        if (Result.isSuccess(all)) {
          for (const r of remaining) progress.sent.push(r.row.id)
          return
        }
        if (!isPublishError(all.failure)) return yield* targetFailed(all.failure)
        const index = all.failure.item
        const suspects = typeof index === "number" && index >= 0 && index < remaining.length ? [remaining[index]!] : remaining
        // Each suspect alone: its own refusal message (or it goes through after all).
        for (const s of suspects) {
          const { topic, payload, ...rest } = s.item
          const alone = yield* Effect.result(target.publish(topic, payload, rest))
          if (Result.isSuccess(alone)) progress.sent.push(s.row.id)
          else if (isPublishError(alone.failure)) progress.refused.push({ row: s.row, error: alone.failure.message })
          else return yield* targetFailed(alone.failure)
        }
        remaining = remaining.filter((r) => !suspects.includes(r))
        // A key's later rows wait behind its refused one (given back, sent after it is): the
        // bus receives a key's messages in the order they were added.
        const refusedKeys = new Set(progress.refused.map((r) => r.row.key).filter((k) => k !== null))
        if (refusedKeys.size > 0) remaining = remaining.filter((r) => r.row.key === null || !refusedKeys.has(r.row.key))
      }
    })

  /** Writes down the outcome of a batch: sent, refused, given back. Never fails (logs instead). */
  const settle = (conn: Kysely<OutboxDatabase>, rows: ReadonlyArray<ClaimedRow>, progress: Progress) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* query("markSent", () => markSent(conn, table, progress.sent, now))
      counters.sent += progress.sent.length
      for (const { error, row } of progress.refused) {
        const attempts = row.attempts + 1
        const failed = attempts >= config.maxAttempts
        const nextAttemptAt = now + retryDelay(config.backoff, attempts, random)
        const held = yield* query("recordRefusal", () => recordRefusal(conn, table, { id: row.id, owner, attempts, error, nextAttemptAt, failed }))
        if (!held) continue
        counters.refused++
        if (failed) counters.failed++
        yield* Effect.logWarning(
          failed
            ? `${name}: row ${row.id} (topic ${JSON.stringify(row.topic)}) failed after ${attempts} attempts: ${error}`
            : `${name}: row ${row.id} (topic ${JSON.stringify(row.topic)}) refused (attempt ${attempts} of ${config.maxAttempts}, next in ${nextAttemptAt - now} ms): ${error}`
        )
      }
      const done = new Set([...progress.sent, ...progress.refused.map((r) => r.row.id)])
      const rest = rows.filter((r) => !done.has(r.id)).map((r) => r.id)
      yield* query("release", () => release(conn, table, rest, owner, progress.error))
    }).pipe(
      Effect.catch((e) =>
        Effect.sync(() => counters.errors++).pipe(
          Effect.andThen(Effect.logWarning(`${name}: ${e.message}; the batch's claims lapse after ${config.leaseMs} ms`))
        )
      )
    )

  /**
   * Runs `use` holding a connection of the outbox's database (uninterruptibly, except where
   * `use` restores interruption); the connection is given back however `use` ends. Used when the
   * outbox shares its SQLite file with a bus (see `sharesFile`).
   */
  const withConnection = <A, E>(
    use: (conn: Kysely<OutboxDatabase>, restore: <X, Y, Z>(e: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | OutboxDbError> =>
    Effect.uninterruptibleMask((restore) => {
      let giveBack: (() => void) | undefined
      let cancelled = false
      const acquire = Effect.callback<Kysely<OutboxDatabase>, OutboxDbError>((resume) => {
        db.connection().execute((conn) =>
          new Promise<void>((done) => {
            if (cancelled) return done()
            giveBack = done
            resume(Effect.succeed(conn))
          })
        ).catch((cause) => resume(Effect.fail(dbError("connection")(cause))))
        return Effect.sync(() => {
          cancelled = true
        })
      })
      return restore(acquire).pipe(
        Effect.flatMap((conn) => use(conn, restore)),
        Effect.ensuring(Effect.sync(() => giveBack?.()))
      )
    })

  /** Until when (on this relay's clock) it holds the outbox's lead, as it last took or renewed it. */
  let leadUntil = 0

  /**
   * Claims one batch through `conn` and sends it; returns how many rows were claimed. Only the
   * publish can be interrupted: what was published is marked and the rest given back.
   */
  const sendWith = (conn: Kysely<OutboxDatabase>, restore: <X, Y, Z>(e: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const { more, rows } = yield* query("claim", () => claimDue(conn, table, owner, now, config.leaseMs, config.batchSize, maxBatchChars))
      if (rows.length === 0) return { claimed: 0, more: false }
      const progress: Progress = { sent: [], refused: [] }
      // A publish is given at most what is left of the lead: past it another relay may take the
      // lead and send these rows itself.
      const bounded = Effect.timeoutOrElse(publishRows(rows, progress), {
        duration: Math.max(1, leadUntil - now),
        orElse: () => {
          const failure = new TargetFailure({ cause: `no answer while this relay held the lead (its lease is ${config.leaseMs} ms); the batch was abandoned` })
          progress.error = failure.message
          return Effect.fail(failure)
        }
      })
      const exit = yield* Effect.exit(restore(bounded))
      yield* settle(conn, rows, progress)
      yield* exit
      return { claimed: rows.length, more }
    })

  /**
   * Where the outbox shares its SQLite file with a bus, the relay holds a connection of the
   * application's Kysely while it publishes, so no application transaction holds the file's write
   * lock meanwhile (the bus's writer would wait for it): each application transaction waits for at
   * most one batch, about a millisecond. Anywhere else it holds none while it publishes: its claim
   * and its marks are short statements, and the application's transactions run between them
   * (holding a single-connection Kysely stalled every one of them for as long as the bus took,
   * up to the lease, when the bus was locked or unreachable).
   */
  const sharesFile = yield* query("inspect", () => sharesFileWithBus(db)).pipe(Effect.orElseSucceed(() => false))
  const sendBatch = sharesFile ? withConnection(sendWith) : Effect.uninterruptibleMask((restore) => sendWith(db, restore))

  /** Takes or renews the outbox's lead until a lease from now: true when this relay holds it. */
  const lead = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    // Held for more than half a lease still: no write (a relay sending batch after batch renews
    // it every half lease, not every batch).
    if (leadUntil - now > config.leaseMs / 2) return true
    const held = yield* query("lead", () => holdLead(db, table, owner, now, now + config.leaseMs))
    leadUntil = held ? now + config.leaseMs : 0
    return held
  })

  /** Waits up to `ms` for a wake; true when woken. */
  const waitForWake = (ms: number): Effect.Effect<boolean> =>
    ms <= 0 ? Effect.succeed(false) : Effect.raceFirst(Effect.as(signal.wait, true), Effect.as(Effect.sleep(ms), false))

  const loop: Effect.Effect<void> = Effect.gen(function*() {
    let failures = 0
    let rechecks = 0
    let full = false
    while (true) {
      const round = yield* Effect.result(Effect.gen(function*() {
        if (!full) {
          const now = yield* Clock.currentTimeMillis
          const due = yield* query("nextDue", () => nextDue(db, table))
          if (due === undefined || due > now) return due === undefined ? Infinity : due - now
        }
        // Another relay sends: look again at the poll (it may have died; its lead runs out).
        if (!(yield* lead)) {
          full = false
          return config.pollIntervalMs
        }
        const { claimed, more } = yield* sendBatch
        full = more
        if (claimed > 0) return 0
        // Every due row waits behind an earlier one of its key: until the first of those is due.
        const now = yield* Clock.currentTimeMillis
        const next = yield* query("nextDue", () => nextDue(db, table, now))
        return next === undefined ? Infinity : next - now
      }))
      if (Result.isFailure(round)) {
        if (round.failure._tag === "TargetClosed") {
          yield* Effect.logInfo(`${name}: ${round.failure.message}; the relay ends, its unsent rows stay pending`)
          return
        }
        full = false
        failures++
        counters.errors++
        const delay = retryDelay(relayBackoff, failures, random)
        yield* Effect.logWarning(`${name}: ${round.failure.message}; trying again in ${delay} ms`)
        yield* Effect.sleep(delay)
        continue
      }
      failures = 0
      if (round.success === 0) continue
      // Idle: nothing due now.
      let wait = Math.min(config.pollIntervalMs, round.success)
      if (rechecks > 0) {
        wait = Math.min(wait, config.recheckMs * 2 ** (maxRechecks - rechecks))
        rechecks--
      }
      if (yield* waitForWake(wait)) rechecks = maxRechecks
    }
  })

  const pruneNow: Effect.Effect<number, OutboxDbError> = Effect.gen(function*() {
    if (config.retentionMs === Infinity) return 0
    const cutoff = (yield* Clock.currentTimeMillis) - config.retentionMs
    let total = 0
    while (true) {
      const n = yield* query("prune", () => pruneSent(db, table, cutoff, config.pruneBatchSize))
      total += n
      counters.pruned += n
      if (n < config.pruneBatchSize) return total
      yield* Effect.yieldNow
    }
  })

  const pruner = Effect.gen(function*() {
    while (true) {
      yield* Effect.sleep(config.pruneIntervalMs)
      yield* pruneNow.pipe(Effect.catch((e) => Effect.logWarning(`${name}: ${e.message}`)))
    }
  })

  // The lead is given up when the relay ends (stopped, or its bus closed): another relay with rows
  // to send need not wait for it to run out.
  const sending = Effect.ensuring(loop, Effect.suspend(() => {
    leadUntil = 0
    return query("dropLead", () => dropLead(db, table, owner)).pipe(Effect.ignore)
  }))
  // One fiber: the pruner ends with the loop (when the bus closed) or with `stop`.
  const fiber = yield* Effect.forkScoped(config.retentionMs === Infinity ? sending : Effect.raceFirst(sending, pruner))
  const counterSnapshot = (): RelayCounters => ({ ...counters })

  const relay: RelayShape = {
    owner,
    counters: counterSnapshot,
    stats: Effect.map(outbox.stats, (s) => ({ ...s, relay: counterSnapshot() })),
    prune: pruneNow,
    stop: Fiber.interrupt(fiber),
    stopped: Effect.asVoid(Fiber.await(fiber))
  }
  return relay
})

export class OutboxRelay extends Context.Service<OutboxRelay, RelayShape>()("sibus/OutboxRelay") {
  /** A relay for any outbox and target, running until the current scope closes. */
  static readonly start = start
  /** A relay for the `Outbox` service publishing through the `Bus` service; stopped with the layer. */
  static readonly layer = (options?: RelayOptions): Layer.Layer<OutboxRelay, OutboxOptionsError, Outbox | Bus> =>
    Layer.effect(OutboxRelay, Effect.gen(function*() {
      return yield* start(yield* Outbox, yield* Bus, options)
    }))
}
