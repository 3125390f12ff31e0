/**
 * The outbox table and `add`: messages checked like publishes (a refusal writes nothing, with a
 * readable message), written in the caller's transaction (rolled back with its business rows),
 * relayed into a bus on another database or on the same one, and the Promise functions. On every
 * store factory: the application's database and the bus's are both the factory's.
 */
import { assert, describe, it } from "@effect/vitest"
import { it as vit } from "vitest"
import { Effect, Exit, Layer } from "effect"
import { type Kysely, sql } from "kysely"
import { createRuntime } from "../../src/index.ts"
import { OutboxAddError, OutboxDbError, OutboxOptionsError } from "../../src/outbox/outboxErrors.ts"
import { make, Outbox, type OutboxMessage } from "../../src/outbox/Outbox.ts"
import { createOutbox } from "../../src/promise.ts"
import { OutboxRelay, start } from "../../src/outbox/Relay.ts"
import { Bus } from "../../src/facade/Bus.ts"
import { advance } from "../helpers/recorder.ts"
import { kyselyOn, sharedDb, type StoreFactory, storeFactories } from "../helpers/stores.ts"
import { createOrders, eventually, rows } from "./setup.ts"

/** An application's database of its own (a new shared database of `factory`), for the current scope. */
const appDbOn = (factory: StoreFactory) => Effect.flatMap(sharedDb(factory), (location) => kyselyOn(factory, location))

/**
 * The names of every table in the database, internal ones included, sorted. On Postgres a
 * database is a schema (`search_path`), and introspection lists every schema's tables: only the
 * current schema's count.
 */
const tablesOf = (db: Kysely<any>) =>
  Effect.promise(async () => {
    const tables = (await db.introspection.getTables({ withInternalKyselyTables: true })).filter((t) => !t.isView)
    const current = tables.some((t) => t.schema !== undefined)
      ? (await sql<{ s: string }>`select current_schema() as s`.execute(db)).rows[0]!.s
      : undefined
    return tables.filter((t) => t.schema === current).map((t) => t.name).sort()
  })

describe.each(storeFactories)("Outbox.add ($name)", (factory) => {
  const appDb = appDbOn(factory)

  it.effect("refuses bad messages with a readable error and writes nothing", () =>
    Effect.gen(function*() {
      const db = yield* appDb
      const outbox = yield* make({ db })
      const refused = (trx: unknown, message: unknown) =>
        Effect.flip(outbox.add(trx as never, message as OutboxMessage)).pipe(Effect.map((e) => {
          assert.instanceOf(e, OutboxAddError)
          return e.message
        }))
      const cycle: Record<string, unknown> = {}
      cycle.self = cycle
      const cases: Array<[unknown, string]> = [
        [{ topic: "orders", payload: 1, keys: "k" }, `cannot add to outbox sib_outbox (topic "orders"): unknown field "keys"; a message has topic, payload, key, headers`],
        [{ topic: "orders", payload: { at: new Date(0) } }, `cannot add to outbox sib_outbox (topic "orders"): payload.at is a Date, not a plain object or array; convert it to JSON data first (for example an ISO string or epoch milliseconds)`],
        [{ topic: "orders", payload: { n: 10n } }, `cannot add to outbox sib_outbox (topic "orders"): payload.n is a BigInt, which JSON cannot hold (send it as a string)`],
        [{ topic: "orders", payload: { f: () => 1 } }, `cannot add to outbox sib_outbox (topic "orders"): payload.f is a function, which JSON cannot hold`],
        [{ topic: "orders", payload: cycle }, `cannot add to outbox sib_outbox (topic "orders"): payload.self refers back to itself (a cycle), which JSON cannot hold`],
        [{ topic: "new orders", payload: 1 }, `cannot add to outbox sib_outbox (topic "new orders"): a topic name may contain only letters, digits, ".", "_" and "-" (found " ")`],
        [{ topic: "orders" }, `cannot add to outbox sib_outbox (topic "orders"): the message has no payload (use null for an empty one)`],
        [{ topic: "orders", payload: 1, key: 7 }, `cannot add to outbox sib_outbox (topic "orders"): key must be a string of at most 1024 characters, got number`],
        [{ topic: "orders", payload: 1, headers: { a: 1 } }, `cannot add to outbox sib_outbox (topic "orders"): header "a" must be a string, got number`],
        ["orders", `cannot add to outbox sib_outbox: a message must be an object { topic, payload, key?, headers? }, got string`]
      ]
      for (const [message, expected] of cases) assert.strictEqual(yield* refused(db, message), expected)
      assert.strictEqual(
        yield* refused(undefined, { topic: "orders", payload: 1 }),
        "cannot add to outbox sib_outbox: the first argument must be the caller's Kysely transaction (or Kysely instance), got undefined"
      )
      const all = yield* Effect.flip(outbox.addAll(db, [{ topic: "a", payload: 1 }, { topic: "b", payload: undefined }]))
      assert.strictEqual(all.message, `cannot add to outbox sib_outbox (topic "b"): message 1: the message has no payload (use null for an empty one)`)
      assert.strictEqual((yield* rows(db)).length, 0)
      // The same message without its fault goes in.
      const id = yield* outbox.add(db, { topic: "orders", payload: { n: 1 }, key: "k", headers: { source: "test" } })
      const stored = yield* rows(db)
      assert.deepStrictEqual(stored.map((r) => [r.id, r.topic, r.payload, r.key, r.headers, r.state, r.attempts]), [
        [id, "orders", `{"n":1}`, "k", `{"source":"test"}`, "pending", 0]
      ])
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }))

  it.effect("bad options are reported when the outbox or relay is made", () =>
    Effect.gen(function*() {
      const db = yield* appDb
      const message = (e: Effect.Effect<unknown, unknown, never>) =>
        Effect.map(Effect.flip(e), (err) => {
          assert.instanceOf(err, OutboxOptionsError)
          return (err as OutboxOptionsError).message
        })
      assert.strictEqual(yield* message(make({ db, tabel: "x" } as never)), `invalid outbox options: unknown option "tabel"; valid options: db, table, maxPayloadBytes`)
      assert.strictEqual(
        yield* message(make({ db, table: "drop table" })),
        `invalid outbox options: table "drop table" must be a plain identifier (letters, digits and _, not starting with a digit, at most 48 characters)`
      )
      assert.strictEqual(yield* message(make({ db: "app.db" as never })), `invalid outbox options: db must be a Kysely instance on the application's database, got "app.db"`)
      const trx = yield* Effect.promise(() => db.startTransaction().execute())
      assert.match(yield* message(make({ db: trx })), /^invalid outbox options: db is a transaction: give the root Kysely/)
      yield* Effect.promise(() => trx.rollback().execute())
      const outbox = yield* make({ db })
      const bus = { publish: () => Effect.void, publishAll: () => Effect.void }
      assert.strictEqual(
        yield* message(Effect.scoped(start(outbox, bus, { batch: 10 } as never))),
        `invalid relay options: unknown option "batch"; valid options: batchSize, leaseMs, pollIntervalMs, recheckMs, maxAttempts, backoff, retentionMs, pruneIntervalMs, pruneBatchSize, owner`
      )
      assert.strictEqual(yield* message(Effect.scoped(start(outbox, bus, { batchSize: 0 }))), `invalid relay options: batchSize must be an integer from 1 to 5000, got 0`)
      assert.strictEqual(yield* message(Effect.scoped(start(outbox, bus, { backoff: { initialMs: -1 } }))), `invalid relay options: backoff.initialMs must be a number >= 0, got -1`)
    }))

  vit("several connections creating the same new outbox at once all succeed (the losers of the race find it made)", async () => {
    const location = factory.shared()
    const dbs = [1, 2, 3].map(() => factory.kysely(location))
    try {
      const outcomes = await Promise.all(dbs.map((db) => createOutbox({ db }).then(() => "ok", (e: Error) => e.message)))
      assert.deepStrictEqual(outcomes, ["ok", "ok", "ok"])
    } finally {
      for (const db of dbs) await db.destroy()
      factory.drop(location)
    }
  })

  it.effect("ensure is idempotent, keeps its own migration bookkeeping, and a table name gives a separate outbox", () =>
    Effect.gen(function*() {
      const db = yield* appDb
      const a = yield* make({ db })
      yield* make({ db })
      const b = yield* make({ db, table: "billing_outbox" })
      yield* a.add(db, { topic: "t", payload: 1 })
      yield* b.add(db, { topic: "t", payload: 2 })
      assert.deepStrictEqual((yield* rows(db)).map((r) => r.payload), ["1"])
      assert.deepStrictEqual((yield* rows(db, "billing_outbox")).map((r) => r.payload), ["2"])
      const tables = yield* tablesOf(db)
      const applied = (yield* Effect.promise(() => db.selectFrom("sib_outbox_migration").select("name").execute())).map((r) => r.name)
      assert.deepStrictEqual(tables, [
        "billing_outbox", "billing_outbox_migration", "billing_outbox_migration_lock", "billing_outbox_relay",
        "sib_outbox", "sib_outbox_migration", "sib_outbox_migration_lock", "sib_outbox_relay"
      ])
      assert.deepStrictEqual(applied, ["0001_outbox", "0002_relay_lead"])
    }))
})

describe.each(storeFactories)("transactions ($name)", (factory) => {
  const appDb = appDbOn(factory)

  it.effect("a business write and its outbox row roll back together; nothing is relayed", () =>
    Effect.gen(function*() {
      const db = yield* appDb
      yield* createOrders(db)
      const outbox = yield* make({ db })
      const bus = yield* Bus
      yield* start(outbox, bus, { pollIntervalMs: 100 })
      const failed = yield* Effect.exit(outbox.transaction((trx) =>
        Effect.gen(function*() {
          yield* Effect.promise(() => trx.insertInto("orders").values({ id: 1, total: 10 }).execute())
          yield* outbox.add(trx, { topic: "orders", payload: { id: 1 } })
          return yield* Effect.fail("payment declined")
        })
      ))
      assert.isTrue(Exit.isFailure(failed))
      // Kysely's own transaction API, throwing from inside.
      const thrown = yield* Effect.exit(Effect.tryPromise(() =>
        db.transaction().execute(async (trx) => {
          await trx.insertInto("orders").values({ id: 2, total: 20 }).execute()
          await Effect.runPromise(outbox.add(trx, { topic: "orders", payload: { id: 2 } }))
          throw new Error("out of stock")
        })
      ))
      assert.isTrue(Exit.isFailure(thrown))
      for (let i = 0; i < 5; i++) yield* advance(100)
      assert.deepStrictEqual(yield* Effect.promise(() => db.selectFrom("orders").selectAll().execute()), [])
      assert.deepStrictEqual(yield* rows(db), [])
      assert.deepStrictEqual(yield* bus.read("orders", 0, 10), [])
      // The committed counterpart goes all the way.
      const id = yield* outbox.transaction((trx) =>
        Effect.gen(function*() {
          yield* Effect.promise(() => trx.insertInto("orders").values({ id: 3, total: 30 }).execute())
          return yield* outbox.add(trx, { topic: "orders", payload: { id: 3 }, key: "c1" })
        })
      )
      yield* eventually("the event is published", Effect.map(bus.read("orders", 0, 10), (es) => es.length === 1))
      const [event] = yield* bus.read("orders", 0, 10)
      assert.deepStrictEqual([event!.id, event!.payload, event!.key], [id, { id: 3 }, "c1"])
      assert.deepStrictEqual(yield* Effect.promise(() => db.selectFrom("orders").select("id").execute()), [{ id: 3 }])
    }).pipe(Effect.provide(Bus.open(factory.fresh()))))

  it.effect("outbox on a different database than the bus: each database holds only its own tables", () =>
    Effect.gen(function*() {
      const busLocation = yield* sharedDb(factory)
      const db = yield* appDb
      const outbox = yield* make({ db })
      const ids = yield* Effect.scoped(Effect.gen(function*() {
        const bus = yield* Bus
        yield* start(outbox, bus)
        const ids = yield* outbox.transaction((trx) =>
          outbox.addAll(trx, Array.from({ length: 250 }, (_, n) => ({ topic: "orders", payload: { n } })))
        )
        yield* eventually("every row is sent", Effect.map(outbox.stats, (s) => s.sent === 250))
        const events = yield* bus.read("orders", 0, 1000)
        assert.deepStrictEqual(events.map((e) => e.id), ids)
        assert.deepStrictEqual(events.map((e) => e.payload), ids.map((_, n) => ({ n })))
        return ids
      }).pipe(Effect.provide(Bus.open(busLocation))))
      assert.strictEqual(ids.length, 250)
      const busTables = yield* tablesOf(yield* kyselyOn(factory, busLocation))
      assert.notInclude(yield* tablesOf(db), "events")
      assert.include(busTables, "events")
      assert.notInclude(busTables, "sib_outbox")
    }))

  it.effect("outbox on the bus's own database: the bus opens beside it, transactions keep running while the relay publishes", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const db = yield* kyselyOn(factory, location)
      yield* createOrders(db)
      // The outbox's migrations first: the bus must not take them for a newer sibus.
      const outbox = yield* make({ db })
      yield* Effect.scoped(Effect.gen(function*() {
        const bus = yield* Bus
        yield* start(outbox, bus, { batchSize: 7 })
        const t0 = Date.now()
        for (let n = 0; n < 60; n++) {
          yield* outbox.transaction((trx) =>
            Effect.gen(function*() {
              yield* Effect.promise(() => trx.insertInto("orders").values({ id: n, total: n }).execute())
              yield* Effect.yieldNow // let the relay's fiber run while the transaction is open
              yield* outbox.add(trx, { topic: "orders", payload: { n } })
            })
          )
          if (n % 10 === 0) yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 1)))
        }
        yield* eventually("every row is sent", Effect.map(outbox.stats, (s) => s.sent === 60))
        // No SQLite lock wait: the relay never publishes while an application transaction is open.
        assert.isBelow(Date.now() - t0, 4000)
        const events = yield* bus.read("orders", 0, 100)
        assert.deepStrictEqual(events.map((e) => e.payload), Array.from({ length: 60 }, (_, n) => ({ n })))
      }).pipe(Effect.provide(Bus.open(location))))
      // And the other way round: a bus database first, then an outbox in it.
      const other = yield* sharedDb(factory)
      yield* Effect.scoped(Effect.provide(Effect.void, Bus.open(other)))
      const db2 = yield* kyselyOn(factory, other)
      const second = yield* make({ db: db2 })
      yield* second.add(db2, { topic: "t", payload: 1 })
      yield* Effect.scoped(Effect.gen(function*() {
        const bus = yield* Bus
        yield* start(second, bus)
        yield* eventually("the row is sent", Effect.map(bus.read("t", 0, 10), (es) => es.length === 1))
      }).pipe(Effect.provide(Bus.open(other))))
      const busMigrations = (yield* Effect.promise(() => db.selectFrom("kysely_migration").select("name").execute())).map((r) => r.name)
      assert.notInclude(busMigrations, "0001_outbox")
    }))
})

describe.each(storeFactories)("layers ($name)", (factory) => {
  it.effect("Outbox.layer + OutboxRelay.layer over Bus: application code adds through the service; closing the layers stops the relay", () =>
    Effect.gen(function*() {
      const db = yield* appDbOn(factory)
      yield* createOrders(db)
      const layers = OutboxRelay.layer({ pollIntervalMs: 50 }).pipe(
        Layer.provideMerge(Outbox.layer({ db })),
        Layer.provideMerge(Bus.open(yield* sharedDb(factory)))
      )
      const placeOrder = (id: number) =>
        Effect.gen(function*() {
          const outbox = yield* Outbox
          return yield* outbox.transaction((trx) =>
            Effect.gen(function*() {
              yield* Effect.promise(() => trx.insertInto("orders").values({ id, total: id * 10 }).execute())
              return yield* outbox.add(trx, { topic: "orders.placed", payload: { id }, key: String(id) })
            })
          )
        })
      const relayed = yield* Effect.scoped(Effect.gen(function*() {
        const id = yield* placeOrder(1)
        const bus = yield* Bus
        yield* eventually("the order is published", Effect.map(bus.read("orders.placed", 0, 10), (es) => es.length === 1))
        assert.strictEqual((yield* bus.read("orders.placed", 0, 10))[0]!.id, id)
        const relay = yield* OutboxRelay
        assert.strictEqual(relay.counters().sent, 1)
        return relay
      }).pipe(Effect.provide(layers)))
      // The layers are closed: a new order stays pending.
      yield* Effect.provide(placeOrder(2), Outbox.layer({ db }))
      yield* advance(1000)
      assert.strictEqual(relayed.counters().sent, 1)
      const states = Object.fromEntries((yield* rows(db)).map((r) => [r.payload, r.state]))
      assert.deepStrictEqual(states, { [`{"id":1}`]: "sent", [`{"id":2}`]: "pending" })
    }))
})

describe.each(storeFactories)("Promise functions ($name)", (factory) => {
  vit("createOutbox: add in a Kysely transaction, a relay through createRuntime, stats; typed rejections", async () => {
    const busLocation = factory.shared()
    const appLocation = factory.shared()
    try {
      const rt = await createRuntime({ db: busLocation })
      const db = factory.kysely(appLocation)
      const outbox = await createOutbox({ db })
      await db.schema.createTable("orders").addColumn("id", "integer", (c) => c.primaryKey()).execute()
      const id = await db.transaction().execute(async (trx) => {
        await trx.insertInto("orders").values({ id: 1 }).execute()
        return outbox.add(trx, { topic: "orders", payload: { id: 1 }, key: "o1" })
      })
      const relay = await outbox.startRelay(rt, { pollIntervalMs: 10 })
      for (let i = 0; i < 500 && (await rt.read("orders", 0, 10)).length === 0; i++) await new Promise((r) => setTimeout(r, 5))
      const events = await rt.read("orders", 0, 10)
      assert.deepStrictEqual(events.map((e) => [e.id, e.payload, e.key]), [[id, { id: 1 }, "o1"]])
      const stats = await relay.stats()
      assert.deepStrictEqual([stats.pending, stats.sent, stats.failed, stats.relay.sent], [0, 1, 0, 1])
      const refusal = await outbox.add(db, { topic: "orders", payload: undefined }).catch((e: unknown) => e)
      assert.instanceOf(refusal, OutboxAddError)
      const badStart = await outbox.startRelay(rt, { leaseMs: -1 }).catch((e: unknown) => e)
      assert.instanceOf(badStart, OutboxOptionsError)
      await relay.stop()
      await relay.stop()
      await rt.close()
      await db.destroy()
      const closed = await outbox.stats().catch((e: unknown) => e)
      assert.instanceOf(closed, OutboxDbError)
    } finally {
      factory.drop(busLocation)
      factory.drop(appLocation)
    }
  })
})
