/**
 * The relay under TestClock: woken by local adds, polling for other connections' adds, re-checking
 * after a wake that came before the commit; refused rows retried with backoff and failed after
 * maxAttempts while others flow; a failing bus charging nothing; pruning; counters; two relays
 * kept apart by the lease; a lapsed lease taken over; claims given back on stop; the bus (or the
 * Promise runtime) closing under a running relay, which ends it with nothing charged or lost. On
 * every store factory: the application's database and the bus's are both the factory's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Exit, Layer, Random, Scope } from "effect"
import { TestClock } from "effect/testing"
import type { Kysely } from "kysely"
import { make } from "../../src/outbox/Outbox.ts"
import { createOutbox, type PromisePublisher } from "../../src/promise.ts"
import { type RelayTarget, start } from "../../src/outbox/Relay.ts"
import { createRuntime, type Runtime } from "../../src/promise.ts"
import { Bus } from "../../src/facade/Bus.ts"
import { StoreError } from "../../src/store/storeErrors.ts"
import { BusClosedError } from "../../src/runtime/busErrors.ts"
import { advance, settle } from "../helpers/recorder.ts"
import { kyselyOn, sharedDb, type StoreFactory, storeFactories } from "../helpers/stores.ts"
import { createOrders, eventually, rows, tick } from "./setup.ts"

/** Runs an effect on a bus over a fresh database of `factory`. */
const busOn = (factory: StoreFactory) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provide(Bus.open(factory.fresh()), { local: true }))

/** An application's database of its own (a new shared database of `factory`), for the current scope. */
const appDbOn = (factory: StoreFactory) => Effect.flatMap(sharedDb(factory), (location) => kyselyOn(factory, location))

const rowOf = (db: Kysely<any>, id: string) =>
  Effect.promise(() => db.selectFrom("sib_outbox").selectAll().where("id", "=", id).executeTakeFirstOrThrow())

/** Real time passes (promises, other fibers) but the test clock does not. */
const quietly = Effect.forEach(Array.from({ length: 20 }), () => tick, { discard: true })

/**
 * The test clock, counting the sleeps in progress of fibers that use it (a relay started under
 * it), so a test can tell when a relay is idle: its loop and its pruner both asleep. On a server,
 * a relay woken by the clock reads the database (real I/O) before it sleeps again, and moving the
 * clock meanwhile would skip past its next sleep before it is registered: `stepwise` moves the
 * clock in small steps, each once the relay is idle.
 */
const sleepCounter = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  let sleeping = 0
  const counted: Clock.Clock = {
    ...clock,
    sleep: (duration) =>
      Effect.suspend(() => {
        sleeping++
        return Effect.ensuring(clock.sleep(duration), Effect.sync(() => sleeping--))
      })
  }
  const idle = Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      yield* settle
      if (sleeping >= 2) return
      yield* tick
    }
    return yield* Effect.die(new Error("the relay never went idle"))
  })
  /** Moves the clock by `ms`, at most 10 ms at a time, each step once the relay is idle. */
  const stepwise = (ms: number) =>
    Effect.gen(function*() {
      for (let left = ms; left > 0; left -= 10) {
        yield* idle
        yield* advance(Math.min(10, left))
      }
      yield* idle
    })
  return { clock: counted, stepwise }
})

describe.each(storeFactories)("waking and polling ($name)", (factory) => {
  const withBus = busOn(factory)

  it.effect("a local add wakes the relay at once; another connection's add waits for the poll", () =>
    withBus(Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const db = yield* kyselyOn(factory, location)
      const other = yield* kyselyOn(factory, location)
      const outbox = yield* make({ db })
      const elsewhere = yield* make({ db: other })
      const bus = yield* Bus
      yield* start(outbox, bus, { pollIntervalMs: 60_000 })
      yield* settle
      yield* outbox.add(db, { topic: "t", payload: "local" })
      yield* eventually("the local add is sent", Effect.map(bus.read("t", 0, 10), (es) => es.length === 1))
      // The relay idle again: the row marked, the look for more that follows a batch done (on a
      // server that look takes real time, and would find a row added meanwhile).
      yield* eventually("the local row is marked sent", Effect.map(outbox.stats, (s) => s.sent === 1))
      yield* quietly
      assert.strictEqual(yield* Clock.currentTimeMillis, 0)
      // Through another connection (as another process would): no wake-up reaches this relay.
      yield* elsewhere.add(other, { topic: "t", payload: "remote" })
      yield* quietly
      assert.strictEqual((yield* bus.read("t", 0, 10)).length, 1)
      yield* advance(60_000)
      yield* eventually("the poll finds the other add", Effect.map(bus.read("t", 0, 10), (es) => es.length === 2))
      assert.deepStrictEqual((yield* bus.read("t", 0, 10)).map((e) => e.payload), ["local", "remote"])
    })))

  it.effect("a wake that comes before the adding transaction commits is followed by a short re-check", () =>
    withBus(Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const db = yield* kyselyOn(factory, location)
      const app = yield* kyselyOn(factory, location) // the application writes through its own connection
      const outbox = yield* make({ db })
      const bus = yield* Bus
      yield* start(outbox, bus, { pollIntervalMs: 60_000, recheckMs: 20 })
      yield* settle
      const trx = yield* Effect.promise(() => app.startTransaction().execute())
      const id = yield* outbox.add(trx, { topic: "t", payload: 1 })
      yield* quietly // the relay wakes, looks, finds nothing committed
      yield* Effect.promise(() => trx.commit().execute())
      yield* quietly
      assert.strictEqual((yield* bus.read("t", 0, 10)).length, 0)
      yield* advance(20)
      yield* eventually("the re-check sends it", Effect.map(bus.read("t", 0, 10), (es) => es.length === 1))
      assert.strictEqual((yield* bus.read("t", 0, 10))[0]!.id, id)
      assert.strictEqual(yield* Clock.currentTimeMillis, 20)
    })))
})

describe.each(storeFactories)("batches ($name)", (factory) => {
  const withBus = busOn(factory)
  const appDb = appDbOn(factory)

  it.effect("a batch reads, parses and publishes at most 16 Mi characters of messages (sizes read first): the rest is sent next, in order, each row read once", () =>
    withBus(Effect.gen(function*() {
      const db = yield* appDb
      const outbox = yield* make({ db })
      const bus = yield* Bus
      const batches: Array<number> = []
      const recorded: RelayTarget = {
        publish: bus.publish,
        publishAll: (items) => Effect.andThen(Effect.sync(() => batches.push(items.length)), bus.publishAll(items))
      }
      const big = "x".repeat(600_000)
      for (let t = 0; t < 4; t++) yield* outbox.addAll(db, Array.from({ length: 10 }, (_, i) => ({ topic: "big", payload: { n: t * 10 + i, big } })))
      yield* start(outbox, recorded, { batchSize: 100 })
      yield* eventually("every row is sent", Effect.map(outbox.stats, (s) => s.sent === 40))
      // 600 kB each: 27 fit in 16 Mi characters (a batch of 100 rows of 1 MB took a relay to ~800 MB).
      assert.deepStrictEqual(batches, [27, 13])
      // No row was claimed and given back (its payload read for nothing): each was claimed once.
      assert.isTrue((yield* rows(db)).every((r) => r.state === "sent" && r.attempts === 0 && r.last_error === null))
      assert.deepStrictEqual((yield* bus.read("big", 0, 100)).map((e) => (e.payload as { n: number }).n), Array.from({ length: 40 }, (_, n) => n))
    })), 60_000)
})

describe.each(storeFactories)("failures ($name)", (factory) => {
  const withBus = busOn(factory)
  const appDb = appDbOn(factory)

  it.effect("a refused row records its error, is retried with backoff, fails after maxAttempts; other rows flow; pruning; stats", () =>
    withBus(Effect.gen(function*() {
      const db = yield* appDb
      const outbox = yield* make({ db })
      const bus = yield* Bus
      let strict = true
      yield* bus.defineTopic("orders", { validate: (p) => (strict && (p as { ok?: boolean }).ok !== true ? "ok must be true" : undefined) })
      const { clock, stepwise } = yield* sleepCounter
      const relay = yield* start(outbox, bus, {
        pollIntervalMs: 60_000, backoff: { initialMs: 1000, factor: 2, jitter: 0 }, maxAttempts: 3,
        retentionMs: 10_000, pruneIntervalMs: 1000
      }).pipe(Effect.provideService(Clock.Clock, clock))
      const [a, bad, b] = yield* outbox.addAll(db, [
        { topic: "orders", payload: { n: 1, ok: true } },
        { topic: "orders", payload: { n: 2, ok: false } },
        { topic: "orders", payload: { n: 3, ok: true } }
      ])
      yield* eventually("the good rows are sent", Effect.map(outbox.stats, (s) => s.sent === 2))
      assert.deepStrictEqual((yield* bus.read("orders", 0, 10)).map((e) => e.id), [a, b])
      const first = yield* rowOf(db, bad!)
      assert.deepStrictEqual([first.state, first.attempts, first.next_attempt_at, first.claimed_by], ["pending", 1, 1000, null])
      assert.strictEqual(first.last_error, `cannot publish to "orders": payload does not match the topic's schema: ok must be true`)
      yield* stepwise(999)
      yield* quietly
      assert.strictEqual((yield* rowOf(db, bad!)).attempts, 1)
      // Meanwhile, another row is added and goes through.
      const c = yield* outbox.add(db, { topic: "orders", payload: { n: 4, ok: true } })
      yield* eventually("the new row is sent", Effect.map(outbox.stats, (s) => s.sent === 3))
      yield* stepwise(1)
      yield* eventually("the second attempt", Effect.map(rowOf(db, bad!), (r) => r.attempts === 2))
      assert.strictEqual((yield* rowOf(db, bad!)).next_attempt_at, 3000)
      yield* stepwise(1999)
      yield* quietly
      assert.strictEqual((yield* rowOf(db, bad!)).attempts, 2)
      yield* stepwise(1)
      yield* eventually("the third attempt fails the row", Effect.map(rowOf(db, bad!), (r) => r.state === "failed"))
      assert.strictEqual((yield* rowOf(db, bad!)).attempts, 3)
      assert.deepStrictEqual((yield* bus.read("orders", 0, 10)).map((e) => e.id), [a, b, c])
      assert.deepStrictEqual(yield* outbox.stats, { pending: 0, sent: 3, failed: 1, oldestPendingAt: undefined })
      assert.deepStrictEqual(relay.counters(), { sent: 3, refused: 3, failed: 1, pruned: 0, errors: 0 })
      // A failed row stays put: no more attempts.
      yield* stepwise(5000)
      assert.strictEqual((yield* rowOf(db, bad!)).attempts, 3)
      // Retention: a and b were sent at 0, c at 999; the pruner runs every second.
      assert.strictEqual(yield* Clock.currentTimeMillis, 8000)
      yield* stepwise(2000)
      yield* eventually("a and b are pruned", Effect.map(outbox.stats, (s) => s.sent === 1))
      yield* stepwise(1000)
      yield* eventually("c is pruned", Effect.map(outbox.stats, (s) => s.sent === 0))
      assert.deepStrictEqual((yield* rows(db)).map((r) => r.id), [bad])
      assert.strictEqual(relay.counters().pruned, 3)
      // The topic is fixed: the failed row is retried on request, and sent with its own id.
      strict = false
      assert.strictEqual(yield* outbox.retryFailed(), 1)
      yield* eventually("the retried row is sent", Effect.map(outbox.stats, (s) => s.sent === 1 && s.failed === 0))
      assert.deepStrictEqual((yield* bus.read("orders", 0, 10)).map((e) => e.id), [a, b, c, bad])
      const stats = yield* relay.stats
      assert.deepStrictEqual([stats.pending, stats.sent, stats.failed, stats.relay.sent], [0, 1, 0, 4])
    })), 90_000)

  it.effect("a key's rows reach the bus in the order they were added: its later rows wait behind one waiting for its retry, other keys flow", () =>
    withBus(Effect.gen(function*() {
      const db = yield* appDb
      const outbox = yield* make({ db })
      const bus = yield* Bus
      let refuse = true
      yield* bus.defineTopic("acct", { validate: (p) => (refuse && (p as { n: number }).n === 1 ? "not yet" : undefined) })
      const { clock, stepwise } = yield* sleepCounter
      yield* start(outbox, bus, { pollIntervalMs: 60_000, backoff: { initialMs: 1000, factor: 2, jitter: 0 }, maxAttempts: 5, batchSize: 2 })
        .pipe(Effect.provideService(Clock.Clock, clock))
      yield* outbox.addAll(db, [
        { topic: "acct", key: "a", payload: { n: 1 } },
        { topic: "acct", key: "a", payload: { n: 2 } },
        { topic: "acct", key: "b", payload: { n: 10 } },
        { topic: "acct", key: "a", payload: { n: 3 } },
        { topic: "acct", key: "b", payload: { n: 11 } }
      ])
      yield* eventually("key b's rows are sent", Effect.map(bus.read("acct", 0, 10), (es) => es.length === 2))
      yield* quietly
      assert.deepStrictEqual((yield* bus.read("acct", 0, 10)).map((e) => [e.key, (e.payload as { n: number }).n]), [["b", 10], ["b", 11]], "a's rows wait behind its first")
      refuse = false
      yield* stepwise(1000)
      yield* eventually("key a's rows are sent", Effect.map(outbox.stats, (s) => s.sent === 5))
      assert.deepStrictEqual((yield* bus.read("acct", 0, 10)).map((e) => [e.key, (e.payload as { n: number }).n]), [["b", 10], ["b", 11], ["a", 1], ["a", 2], ["a", 3]])
    })), 90_000)

  it.effect("the application's transactions do not wait for a publish: a relay stuck on a bus that does not answer holds no connection", () =>
    withBus(Effect.gen(function*() {
      const db = yield* appDb
      yield* createOrders(db)
      const outbox = yield* make({ db })
      const stuck: RelayTarget = { publish: () => Effect.never, publishAll: () => Effect.never }
      yield* start(outbox, stuck, { leaseMs: 60_000, owner: "stuck" })
      const [held] = yield* outbox.addAll(db, [{ topic: "t", payload: 1 }])
      yield* eventually("the relay is publishing", Effect.map(rowOf(db, held!), (r) => r.claimed_by === "stuck"))
      // With a single-connection Kysely, a relay holding it kept every transaction waiting for the
      // lease (a minute here): each application transaction must finish in real time now.
      for (let n = 0; n < 3; n++) {
        const done = yield* Effect.raceFirst(
          Effect.as(outbox.transaction((trx) =>
            Effect.andThen(
              Effect.promise(() => trx.insertInto("orders").values({ id: n, total: n }).execute()),
              outbox.add(trx, { topic: "t", payload: { n } })
            )
          ), true),
          Effect.as(TestClock.withLive(Effect.sleep(3000)), false)
        )
        assert.isTrue(done, `transaction ${n} finished while the relay was publishing`)
      }
    })))

  it.effect("rows written by other means with a bad topic or bad JSON are refused alone; the rows around them are sent", () =>
    withBus(Effect.gen(function*() {
      const db = yield* appDb
      const outbox = yield* make({ db })
      const bus = yield* Bus
      const relay = yield* start(outbox, bus, { pollIntervalMs: 60_000, maxAttempts: 1 })
      const [first] = yield* outbox.addAll(db, [{ topic: "t", payload: 1 }])
      const raw = (id: string, topic: string, payload: string) =>
        Effect.promise(() =>
          db.insertInto("sib_outbox").values({
            id, topic, payload, key: null, headers: null, state: "pending", created_at: 0, attempts: 0, next_attempt_at: 0,
            claimed_by: null, claimed_until: null, last_error: null, sent_at: null
          }).execute()
        )
      yield* raw("row-bad-topic", "no spaces allowed", "1")
      yield* raw("row-bad-json", "t", "{oops")
      const [last] = yield* outbox.addAll(db, [{ topic: "t", payload: 2 }])
      yield* advance(60_000)
      yield* eventually("both refusals are recorded", Effect.map(outbox.stats, (s) => s.failed === 2 && s.sent === 2))
      assert.deepStrictEqual((yield* bus.read("t", 0, 10)).map((e) => e.id), [first, last])
      assert.strictEqual(
        (yield* rowOf(db, "row-bad-topic")).last_error,
        `cannot publish to "no spaces allowed": a topic name may contain only letters, digits, ".", "_" and "-" (found " ")`
      )
      assert.match((yield* rowOf(db, "row-bad-json")).last_error, /^the stored row is not valid JSON: /)
      assert.deepStrictEqual(relay.counters(), { sent: 2, refused: 2, failed: 2, pruned: 0, errors: 0 })
    })))

  it.effect("the bus failing as a whole charges no attempt: the rows are given back with the error and sent after the relay's backoff", () =>
    withBus(Effect.gen(function*() {
      const db = yield* appDb
      const outbox = yield* make({ db })
      const bus = yield* Bus
      let down = true
      const target: RelayTarget = {
        publish: bus.publish,
        publishAll: (items) => (down ? Effect.fail(new StoreError({ op: "commit", cause: new Error("disk I/O error") })) : bus.publishAll(items))
      }
      const relay = yield* start(outbox, target, { pollIntervalMs: 60_000 }).pipe(Random.withSeed("relay"))
      const [id] = yield* outbox.addAll(db, [{ topic: "t", payload: 1 }, { topic: "t", payload: 2 }])
      yield* eventually("the failure is noted", Effect.map(rowOf(db, id!), (r) => r.last_error !== null))
      const failed = yield* rows(db)
      assert.deepStrictEqual(failed.map((r) => [r.state, r.attempts, r.claimed_by, r.last_error]), [
        ["pending", 0, null, "publishing failed: could not write to the database: disk I/O error"],
        ["pending", 0, null, "publishing failed: could not write to the database: disk I/O error"]
      ])
      assert.strictEqual(relay.counters().errors, 1)
      down = false
      yield* advance(120) // 100 ms +/- 20 %
      yield* eventually("both are sent", Effect.map(outbox.stats, (s) => s.sent === 2))
      assert.deepStrictEqual((yield* bus.read("t", 0, 10)).map((e) => e.payload), [1, 2])
      assert.deepStrictEqual((yield* rows(db)).map((r) => r.attempts), [0, 0])
    })))
})

describe.each(storeFactories)("leases ($name)", (factory) => {
  const withBus = busOn(factory)

  it.effect("two relays on the same outbox: one sends at a time, in the order rows were added; a stopped one hands over at once; everything is sent once", () =>
    withBus(Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const db = yield* kyselyOn(factory, location)
      const outbox = yield* make({ db })
      for (let t = 0; t < 6; t++) {
        yield* outbox.transaction((trx) => outbox.addAll(trx, Array.from({ length: 100 }, (_, i) => ({ topic: "t", payload: { n: t * 100 + i } }))))
      }
      const bus = yield* Bus
      const inFlight = new Map<string, string>()
      const overlaps: Array<string> = []
      const published: Record<string, Array<string>> = { one: [], two: [] }
      // Each relay publishes through the same bus; a publish takes a little real time, so the
      // two relays' batches overlap.
      const recorded = (name: string): RelayTarget => ({
        publish: bus.publish,
        publishAll: (items) =>
          Effect.gen(function*() {
            for (const item of items) {
              const holder = inFlight.get(item.id!)
              if (holder !== undefined) overlaps.push(`${item.id} by ${holder} and ${name}`)
              inFlight.set(item.id!, name)
            }
            yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
            const events = yield* bus.publishAll(items)
            for (const item of items) published[name]!.push(item.id!)
            return events
          }).pipe(Effect.ensuring(Effect.sync(() => {
            // Done, or stopped mid-publish (its rows are given back).
            for (const item of items) if (inFlight.get(item.id!) === name) inFlight.delete(item.id!)
          })))
      })
      // Two connections, as two processes would have.
      const relays = {
        one: yield* start(yield* make({ db: yield* kyselyOn(factory, location) }), recorded("one"), { batchSize: 20, owner: "one" }),
        two: yield* start(yield* make({ db: yield* kyselyOn(factory, location) }), recorded("two"), { batchSize: 20, owner: "two" })
      }
      yield* eventually("some rows are sent", Effect.map(outbox.stats, (s) => s.sent >= 100))
      // The holder of the lead stops: the other takes over without waiting for the lead to run out.
      const holder = published.one!.length > 0 ? "one" : "two"
      const other = holder === "one" ? "two" : "one"
      assert.strictEqual(published[other]!.length, 0, "only the lead's holder sends")
      yield* relays[holder].stop
      // The other relay looks again at its poll (a second of the test clock): the lead is free.
      yield* advance(1000)
      yield* eventually("every row is sent", Effect.map(outbox.stats, (s) => s.sent === 600))
      assert.deepStrictEqual(overlaps, [])
      assert.isAbove(published[other]!.length, 0, "the other relay took over")
      assert.strictEqual(published.one!.length + published.two!.length, 600, "no row was published twice")
      const events = yield* bus.read("t", 0, 1000)
      const ids = (yield* rows(db)).map((r) => r.id)
      // In the order they were added (ids are time-ordered): seq order is id order.
      assert.deepStrictEqual(events.map((e) => e.id), [...ids].sort())
      assert.deepStrictEqual(events.map((e) => (e.payload as { n: number }).n), Array.from({ length: 600 }, (_, n) => n))
    })))

  it.effect("a relay whose lease ran out is taken over; its late outcome changes nothing; stop gives claims back at once", () =>
    withBus(Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const db = yield* kyselyOn(factory, location)
      const outbox = yield* make({ db })
      const bus = yield* Bus
      const stuck: RelayTarget = { publish: () => Effect.never, publishAll: () => Effect.never }
      // Each relay on its own connection, as in its own process: a relay holds its connection while it publishes.
      // The rows first: no wake reaches a relay on another connection, so a relay started
      // before them would find them only at its poll (if its first look came before the add).
      const ids = [...yield* outbox.addAll(db, [{ topic: "t", payload: 1 }, { topic: "t", payload: 2 }])]
      const first = yield* start(yield* make({ db: yield* kyselyOn(factory, location) }), stuck, { leaseMs: 5000, owner: "first" })
      yield* eventually("the first relay holds the rows", Effect.map(rows(db), (rs) => rs.every((r) => r.claimed_by === "first")))
      // Rows added after the first relay died with its batch go after that batch, not before it.
      ids.push(...yield* outbox.addAll(db, [{ topic: "t", payload: 3 }, { topic: "t", payload: 4 }]))
      const { clock, stepwise } = yield* sleepCounter
      const second = yield* start(yield* make({ db: yield* kyselyOn(factory, location) }), bus, { pollIntervalMs: 1000, owner: "second" })
        .pipe(Effect.provideService(Clock.Clock, clock))
      yield* stepwise(4000)
      yield* quietly
      assert.deepStrictEqual(yield* bus.read("t", 0, 10), [], "nobody sends rows under a lease")
      yield* stepwise(1000)
      yield* eventually("the second relay sends them after the lease", Effect.map(outbox.stats, (s) => s.sent === 4))
      assert.deepStrictEqual((yield* bus.read("t", 0, 10)).map((e) => e.id), ids, "in the order they were added")
      // The first relay gave up its publish when its lease ran out; whatever it does next, the rows stay sent once.
      yield* advance(10_000)
      yield* quietly
      yield* first.stop
      assert.deepStrictEqual((yield* rows(db)).map((r) => [r.state, r.claimed_by]), Array.from({ length: 4 }, () => ["sent", null]))
      assert.strictEqual((yield* bus.read("t", 0, 10)).length, 4)
      assert.isAbove(first.counters().errors, 0)
      yield* second.stop
      // Stopping a relay mid-publish gives its claims back without waiting for the lease.
      const [late] = yield* outbox.addAll(db, [{ topic: "t", payload: 3 }])
      const third = yield* start(yield* make({ db: yield* kyselyOn(factory, location) }), stuck, { leaseMs: 60_000, owner: "third" })
      yield* eventually("the third relay holds the row", Effect.map(rowOf(db, late!), (r) => r.claimed_by === "third"))
      yield* third.stop
      const released = yield* rowOf(db, late!)
      assert.deepStrictEqual([released.state, released.claimed_by, released.claimed_until, released.attempts], ["pending", null, null, 0])
    })))
})

describe.each(storeFactories)("the bus closing under the relay ($name)", (factory) => {
  const appDb = appDbOn(factory)

  /** Rows as (state, attempts, claim, error), the uncharged pending ones and the sent ones. */
  const summary = (rs: ReadonlyArray<Record<string, unknown>>) => ({
    sent: rs.filter((r) => r.state === "sent").length,
    pendingUncharged: rs.filter((r) => r.state === "pending" && r.attempts === 0 && r.claimed_by === null && r.last_error === null).length,
    other: rs.filter((r) => !(r.state === "sent" || (r.state === "pending" && r.attempts === 0 && r.claimed_by === null && r.last_error === null))).length
  })

  it.effect("the bus closing mid-run ends the relay: unsent rows stay pending uncharged, and a relay on a new bus sends each once", () =>
    Effect.gen(function*() {
      const busLocation = yield* sharedDb(factory)
      const db = yield* appDb
      const outbox = yield* make({ db })
      const ids = [
        ...yield* outbox.addAll(db, Array.from({ length: 25 }, (_, n) => ({ topic: "t", payload: n }))),
        ...yield* outbox.addAll(db, Array.from({ length: 25 }, (_, n) => ({ topic: "t", payload: 25 + n })))
      ]
      // The first bus lives in its own scope, closed while the relay (in the test's scope) runs.
      const busScope = yield* Scope.make()
      const bus = Context.get(yield* Layer.buildWithScope(Bus.open(busLocation), busScope), Bus)
      const third = yield* Deferred.make<void>()
      const go = yield* Deferred.make<void>()
      let batches = 0
      const target: RelayTarget = {
        publish: bus.publish,
        publishAll: (items) =>
          ++batches === 3
            ? Effect.andThen(Deferred.succeed(third, undefined), Effect.andThen(Deferred.await(go), bus.publishAll(items)))
            : bus.publishAll(items)
      }
      const relay = yield* start(outbox, target, { batchSize: 10, pollIntervalMs: 60_000 })
      yield* Deferred.await(third)
      yield* Scope.close(busScope, Exit.void)
      yield* Deferred.succeed(go, undefined)
      yield* relay.stopped
      assert.deepStrictEqual(summary(yield* rows(db)), { sent: 20, pendingUncharged: 30, other: 0 })
      assert.deepStrictEqual(relay.counters(), { sent: 20, refused: 0, failed: 0, pruned: 0, errors: 0 })
      assert.strictEqual(batches, 3, "the relay made no attempt after the bus closed")
      // Time passing changes nothing: the relay has ended (no backoff, no retry).
      yield* advance(120_000)
      yield* quietly
      assert.deepStrictEqual(summary(yield* rows(db)), { sent: 20, pendingUncharged: 30, other: 0 })
      yield* relay.stop

      // A new bus on the same database and a new relay send the rest: the bus holds each row once.
      yield* Effect.gen(function*() {
        const reopened = yield* Bus
        yield* start(outbox, reopened, { batchSize: 10 })
        yield* eventually("every row is sent", Effect.map(outbox.stats, (s) => s.sent === 50))
        const events = yield* reopened.read("t", 0, 1000)
        assert.deepStrictEqual(events.map((e) => e.id).sort(), [...ids].sort())
        assert.deepStrictEqual(events.map((e) => e.payload), Array.from({ length: 50 }, (_, n) => n))
      }).pipe(Effect.scoped, Effect.provide(Bus.open(busLocation), { local: true }))
    }))

  it("a relay started on a Promise runtime logs through its logger, and cannot start on a closed one", async () => {
    const busLocation = factory.shared()
    const appLocation = factory.shared()
    const db = factory.kysely(appLocation)
    const lines: Array<string> = []
    try {
      const outbox = await createOutbox({ db })
      const rt = await createRuntime({ db: busLocation, logger: ({ level, message }) => lines.push(`${level}: ${message}`) })
      await rt.defineTopic("strict", { payloadSchema: { n: "int" } })
      await db.transaction().execute((trx) => outbox.add(trx, { topic: "strict", payload: { n: "x" } }))
      const relay = await outbox.startRelay(rt, { pollIntervalMs: 10, maxAttempts: 1 })
      for (let i = 0; i < 500 && (await outbox.stats()).failed < 1; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      await relay.stop()
      assert.isTrue(lines.some((l) => /^warn: outbox sib_outbox: relay .*: row .* \(topic "strict"\) failed after 1 attempts: cannot publish to "strict"/.test(l)), JSON.stringify(lines))
      await rt.close()
      const refused = await outbox.startRelay(rt).catch((e: unknown) => e)
      assert.instanceOf(refused, BusClosedError)
    } finally {
      await db.destroy()
      factory.drop(busLocation)
      factory.drop(appLocation)
    }
  })

  it("closing the Promise runtime stops an idle relay started on it, at once", async () => {
    const busLocation = factory.shared()
    const appLocation = factory.shared()
    const db = factory.kysely(appLocation)
    try {
      const outbox = await createOutbox({ db })
      const rt = await createRuntime({ db: busLocation })
      await db.transaction().execute((trx) => outbox.add(trx, { topic: "t", payload: 1 }))
      // A long poll interval: only close() can end it soon.
      const relay = await outbox.startRelay(rt, { pollIntervalMs: 60_000 })
      for (let i = 0; i < 500 && (await outbox.stats()).sent < 1; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      const started = Date.now()
      await rt.close()
      await relay.stopped
      assert.isBelow(Date.now() - started, 5_000)
      await outbox.addAll(db, [{ topic: "t", payload: 2 }])
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.deepStrictEqual({ ...(await outbox.stats()), oldestPendingAt: undefined }, { pending: 1, sent: 1, failed: 0, oldestPendingAt: undefined })
      assert.deepStrictEqual(relay.counters(), { sent: 1, refused: 0, failed: 0, pruned: 0, errors: 0 })
    } finally {
      await db.destroy()
      factory.drop(busLocation)
      factory.drop(appLocation)
    }
  })

  it("closing the Promise runtime mid-run ends the relay (stop() still resolves); a new runtime and relay send each row once", async () => {
    const busLocation = factory.shared()
    const appLocation = factory.shared()
    const db = factory.kysely(appLocation)
    const runtimes: Array<Runtime> = []
    try {
      const outbox = await createOutbox({ db })
      const ids = await db.transaction().execute((trx) => outbox.addAll(trx, Array.from({ length: 50 }, (_, n) => ({ topic: "t", payload: n }))))
      const rt = await createRuntime({ db: busLocation })
      runtimes.push(rt)
      let batches = 0
      let reachedThird!: () => void
      const third = new Promise<void>((resolve) => (reachedThird = resolve))
      // The third batch's publish is under way inside the runtime when close() begins: close()
      // lets it finish (committed and marked sent), and the relay's next publish is refused.
      const publisher: PromisePublisher = {
        publish: (topic, payload, options) => rt.publish(topic, payload, options),
        publishAll: (items) => {
          const published = rt.publishAll(items)
          if (++batches === 3) reachedThird()
          return published
        }
      }
      const relay = await outbox.startRelay(publisher, { batchSize: 10, pollIntervalMs: 10 })
      await third
      await rt.close()
      await relay.stopped
      await relay.stop()
      assert.deepStrictEqual(summary(await db.selectFrom("sib_outbox").selectAll().execute()), { sent: 30, pendingUncharged: 20, other: 0 })
      assert.deepStrictEqual(relay.counters(), { sent: 30, refused: 0, failed: 0, pruned: 0, errors: 0 })
      assert.strictEqual(batches, 4, "one refused publish, then the relay ended")
      // Adds after the end wake nobody: the relay is gone.
      const [late] = await outbox.addAll(db, [{ topic: "t", payload: 50 }])
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.strictEqual(batches, 4)

      const again = await createRuntime({ db: busLocation })
      runtimes.push(again)
      const relayed = await outbox.startRelay(again, { batchSize: 10, pollIntervalMs: 10 })
      for (let i = 0; i < 500 && (await outbox.stats()).sent < 51; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      await relayed.stop()
      const events = await again.read("t", 0, 1000)
      assert.deepStrictEqual(events.map((e) => e.id).sort(), [...ids, late!].sort())
      assert.deepStrictEqual(events.map((e) => e.payload), Array.from({ length: 51 }, (_, n) => n))
      assert.deepStrictEqual(await outbox.stats(), { pending: 0, sent: 51, failed: 0, oldestPendingAt: undefined })
    } finally {
      for (const rt of runtimes) await rt.close()
      await db.destroy()
      factory.drop(busLocation)
      factory.drop(appLocation)
    }
  })
})

describe.each(storeFactories)("determinism ($name)", (factory) => {
  const appDb = appDbOn(factory)

  it.effect("ids and times come from Clock and Random: a seeded run gives the same rows", () =>
    Effect.gen(function*() {
      const run = Effect.gen(function*() {
        const db = yield* appDb
        const outbox = yield* make({ db })
        yield* TestClock.setTime(1234)
        yield* outbox.addAll(db, [{ topic: "t", payload: 1 }, { topic: "t", payload: 2 }])
        return (yield* rows(db)).map((r) => [r.id, r.created_at, r.next_attempt_at])
      }).pipe(Random.withSeed("outbox"), Effect.scoped)
      const a = yield* run
      assert.deepStrictEqual(a.map(([, at, due]) => [at, due]), [[1234, 1234], [1234, 1234]])
      assert.deepStrictEqual(yield* run, a)
    }))
})
