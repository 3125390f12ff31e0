/**
 * Handler publishes commit with the ack: a run's publishes are written in the transaction that
 * acknowledges its event (caused_by set), or not at all when the run fails, times out, is nacked
 * or dead-lettered. Under TestClock on fresh and shared databases of every store factory; one test
 * (other store calls wait for an open handler transaction) is about SQLite's single connection.
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import type { Kysely } from "kysely"
import { Bus } from "../../src/facade/Bus.ts"
import { createRuntime } from "../../src/index.ts"
import { PublishError } from "../../src/runtime/busErrors.ts"
import type { Event } from "../../src/store/records.ts"
import { StoreError } from "../../src/store/storeErrors.ts"
import { openStore } from "../../src/store/open.ts"
import { type RuntimeStore, Store } from "../../src/store/Store.ts"
import { makeWriter } from "../../src/runtime/Writer.ts"
import { advance, makeRecorder, settle } from "../helpers/recorder.ts"
import { kyselyOn, postgresFactory, postgresUrl, sharedDb, sqliteFactory, type StoreFactory, storeFactories } from "../helpers/stores.ts"
import { sql } from "kysely"

/** Runs an effect on a bus over a fresh database of `factory`. */
const busOn = (factory: StoreFactory) => <A, E>(effect: Effect.Effect<A, E, Bus | Store>) =>
  effect.pipe(Effect.provide(Bus.open(factory.fresh()), { local: true }))

const payloads = (events: ReadonlyArray<Event>) => events.map((e) => e.payload)

/**
 * Runs `body` on a bus over a new shared database of `factory` holding the handler-owned table
 * `balances` (created, and read back by `rowsOf`, through an application connection of its own).
 */
const withTable = (factory: StoreFactory) => <A, E>(body: (app: Kysely<any>) => Effect.Effect<A, E, Bus | Store>) =>
  Effect.gen(function*() {
    const location = yield* sharedDb(factory)
    const app = yield* kyselyOn(factory, location)
    yield* Effect.promise(() =>
      app.schema.createTable("balances")
        .addColumn("account", "text", (c) => c.notNull())
        .addColumn("amount", "integer", (c) => c.notNull())
        .addColumn("n", "integer") // the order of the inserts, where a test needs it
        .execute()
    )
    return yield* body(app).pipe(Effect.provide(Bus.open(location), { local: true }))
  })

/** The committed rows of `balances`, read through the application's connection. */
const rowsOf = (app: Kysely<any>) => Effect.promise(() => app.selectFrom("balances").select(["account", "amount"]).orderBy("n").execute())

describe.each(storeFactories)("handler publishes commit with the ack ($name)", (factory) => {
  const provideBus = busOn(factory)

  it.effect("a failed run's publishes are never written; the successful run's exist once, caused by the event", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const order = yield* bus.publish("orders", { id: 7 })
      const rec = yield* makeRecorder
      yield* bus.subscribe("orders", "billing", rec.handler((e, ctx) =>
        Effect.gen(function*() {
          yield* ctx.publish("invoices", { order: 7, attempt: ctx.attempt })
          yield* ctx.publish("audit", { order: 7, attempt: ctx.attempt }, { key: "7" })
          if (ctx.attempt < 3) return yield* Effect.fail(new Error(`attempt ${ctx.attempt} failed`))
        })
      ), { from: "earliest", backoff: { initialMs: 100, jitter: 0 } })
      yield* rec.take(1)
      yield* settle
      assert.deepStrictEqual(yield* bus.read("invoices", 0, 10), [])
      yield* advance(100)
      yield* rec.take(1)
      yield* settle
      assert.deepStrictEqual(yield* bus.read("audit", 0, 10), [])
      yield* advance(200)
      yield* rec.take(1)
      yield* settle
      const invoices = yield* bus.read("invoices", 0, 10)
      const audit = yield* bus.read("audit", 0, 10)
      assert.deepStrictEqual(payloads(invoices), [{ order: 7, attempt: 3 }])
      assert.deepStrictEqual(payloads(audit), [{ order: 7, attempt: 3 }])
      assert.deepStrictEqual(invoices[0]!.causedBy, [order.id])
      assert.strictEqual(audit[0]!.key, "7")
      // Both were written in one transaction: consecutive seqs.
      assert.strictEqual(audit[0]!.seq, invoices[0]!.seq + 1)
      // The ack is in the store at once (not only after the flusher's interval).
      const store = yield* Store
      const cursor = yield* store.runtime.getCursor("billing", "orders")
      assert.isTrue(cursor!.floor >= order.seq || cursor!.acked.some(([a, b]) => a <= order.seq && order.seq <= b))
    })))

  it.effect("publishes of a run that times out, is nacked or is dead-lettered are discarded", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("in", "slow")
      yield* bus.publish("in", "nack")
      yield* bus.publish("in", "dead")
      const rec = yield* makeRecorder
      yield* bus.subscribe("in", "g", rec.handler((e, ctx) =>
        Effect.gen(function*() {
          yield* ctx.publish("out", { from: e.payload, attempt: ctx.attempt })
          if (e.payload === "slow" && ctx.attempt === 1) yield* Effect.sleep(10_000)
          if (e.payload === "nack" && ctx.attempt === 1) yield* ctx.nack(0)
          if (e.payload === "dead") yield* Effect.fail(new Error("poison"))
        })
      ), { from: "earliest", ackTimeoutMs: 1000, maxAttempts: 2, ordering: "none", backoff: { initialMs: 10, jitter: 0 } })
      for (let i = 0; i < 10; i++) yield* advance(1000)
      const out = payloads(yield* bus.read("out", 0, 100)) as Array<{ from: string; attempt: number }>
      assert.deepStrictEqual(out.map((o) => `${o.from}/${o.attempt}`).sort(), ["nack/2", "slow/2"])
      const dead = yield* bus.deadLetters({ group: "g" })
      assert.deepStrictEqual(dead.map((d) => d.attempts), [2])
    })))

  it.effect("manual ack: publishes before the ack are written with it; a publish after it is refused and writes nothing", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const source = yield* bus.publish("in", 1)
      const late = yield* Deferred.make<Exit.Exit<unknown, PublishError>>()
      const acked = yield* Deferred.make<void>()
      yield* bus.subscribe("in", "g", (_e, ctx) =>
        Effect.gen(function*() {
          yield* ctx.publish("out", "before-ack")
          // Ack from another fiber after the handler returned; then try to publish again.
          yield* Effect.forkDetach(Effect.gen(function*() {
            yield* Effect.sleep(50)
            yield* ctx.publish("out", "after-return")
            yield* ctx.ack
            yield* Deferred.succeed(acked, undefined)
            yield* settle
            yield* Deferred.succeed(late, yield* Effect.exit(ctx.publish("out", "after-ack")))
          }))
        }), { from: "earliest", ackMode: "manual" })
      yield* advance(50)
      yield* Deferred.await(acked)
      const exit = yield* Deferred.await(late)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
      assert.strictEqual((error as { error: PublishError } | undefined)?.error.reason, "settled")
      yield* settle
      const out = yield* bus.read("out", 0, 10)
      assert.deepStrictEqual(payloads(out), ["before-ack", "after-return"])
      assert.deepStrictEqual(out.map((e) => e.causedBy), [[source.id], [source.id]])
    })))

  it.effect("manual ack inside a running handler: after ctx.ack or ctx.nack, publishes are refused and a second decision fails", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("in", "ack-me")
      yield* bus.publish("in", "nack-me")
      const outcomes: Array<string> = []
      const tag = <A, E>(eff: Effect.Effect<A, E>) =>
        Effect.map(Effect.exit(eff), (exit) =>
          Exit.isSuccess(exit) ? "ok" : String((exit.cause.reasons.find((r) => r._tag === "Fail") as { error: { _tag: string } } | undefined)?.error._tag))
      const rec = yield* makeRecorder
      yield* bus.subscribe("in", "g", rec.handler((e, ctx) =>
        Effect.gen(function*() {
          if (ctx.attempt > 1) return yield* ctx.ack
          yield* ctx.publish("out", `${e.payload} before`)
          if (e.payload === "ack-me") yield* ctx.ack
          else yield* ctx.nack(10)
          outcomes.push(`${e.payload}: publish ${yield* tag(ctx.publish("out", `${e.payload} after`))}`)
          outcomes.push(`${e.payload}: transaction ${yield* tag(ctx.transaction)}`)
          outcomes.push(`${e.payload}: again ${yield* tag(e.payload === "ack-me" ? ctx.nack(0) : ctx.ack)}`)
        })
      ), { from: "earliest", ackMode: "manual", ordering: "none" })
      yield* rec.take(2)
      yield* advance(10)
      yield* rec.take(1)
      yield* settle
      assert.deepStrictEqual(outcomes.sort(), [
        "ack-me: again AckError", "ack-me: publish PublishError", "ack-me: transaction PublishError",
        "nack-me: again AckError", "nack-me: publish PublishError", "nack-me: transaction PublishError"
      ])
      assert.deepStrictEqual(payloads(yield* bus.read("out", 0, 10)), ["ack-me before"])
    })))

  it.effect("a bad publish fails the run at the call and writes nothing; the retry can succeed", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("in", 1)
      const rec = yield* makeRecorder
      const errors: Array<string> = []
      yield* bus.subscribe("in", "g", rec.handler((_e, ctx) =>
        Effect.gen(function*() {
          yield* ctx.publish("out", "fine")
          if (ctx.attempt === 1) {
            const bad = yield* Effect.flip(ctx.publish("bad topic!", 1))
            errors.push(bad.reason)
            return yield* bad
          }
        })
      ), { from: "earliest", backoff: { initialMs: 10, jitter: 0 } })
      yield* rec.take(1)
      yield* advance(10)
      yield* rec.take(1)
      yield* settle
      assert.deepStrictEqual(errors, ["topic"])
      assert.deepStrictEqual(payloads(yield* bus.read("out", 0, 10)), ["fine"])
    })))

  it.effect("a publish refused only at the ack's commit (its id names another topic's event) fails the run: counted, retried, dead-lettered; the other runs commit once", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      for (let n = 1; n <= 5; n++) yield* bus.publish("jobs", { n }, { key: `k${n % 2}` })
      const runs = new Map<number, number>()
      yield* bus.subscribe("jobs", "workers", (e, ctx) =>
        Effect.gen(function*() {
          const n = (e.payload as { n: number }).n
          runs.set(n, (runs.get(n) ?? 0) + 1)
          // Event 2's follow-up reuses the event's own id (taken on "jobs"); event 4's gives one id
          // to two events of its commit.
          if (n === 2) yield* ctx.publish("jobs.done", { n }, { id: e.id })
          else if (n === 4) {
            yield* ctx.publish("jobs.done", { n }, { id: "four" })
            yield* ctx.publish("jobs.other", { n }, { id: "four" })
          } else yield* ctx.publish("jobs.done", { n })
        }), { from: "earliest", maxAttempts: 3, backoff: { initialMs: 100, jitter: 0 } })
      for (let i = 0; i < 20; i++) yield* advance(100)
      assert.deepStrictEqual([...runs].sort((a, b) => a[0] - b[0]), [[1, 1], [2, 3], [3, 1], [4, 3], [5, 1]])
      const dead = yield* bus.deadLetters({ group: "workers" })
      assert.deepStrictEqual(dead.map((d) => [d.seq, d.attempts]), [[2, 3], [4, 3]])
      assert.match(dead[0]!.errorMessage, /^what the handler published was refused: the id "[^"]+" already names event #2 of topic "jobs"/)
      assert.match(dead[1]!.errorMessage, /^what the handler published was refused: the id "four" is given to two events of one transaction, on topics "jobs.done" and "jobs.other"/)
      assert.deepStrictEqual(payloads(yield* bus.read("jobs.done", 0, 100)).map((p) => (p as { n: number }).n).sort(), [1, 3, 5])
      assert.deepStrictEqual(yield* bus.read("jobs.other", 0, 100), [])
      const store = yield* Store
      assert.strictEqual((yield* store.runtime.getCursor("workers", "jobs"))?.floor, 5)
    })))

  it.effect("the same refusal inside the handler's own transaction fails the run and rolls the transaction back", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const taken = yield* bus.publish("elsewhere", 1, { id: "taken" })
      yield* bus.publish("jobs", { n: 1 })
      let runs = 0
      yield* bus.subscribe("jobs", "workers", (_e, ctx) =>
        Effect.gen(function*() {
          runs++
          yield* ctx.transaction
          yield* ctx.publish("jobs.done", 1, { id: taken.id })
        }), { from: "earliest", maxAttempts: 2, backoff: { initialMs: 100, jitter: 0 } })
      for (let i = 0; i < 10; i++) yield* advance(100)
      assert.strictEqual(runs, 2)
      assert.deepStrictEqual((yield* bus.deadLetters({ group: "workers" })).map((d) => d.attempts), [2])
      assert.deepStrictEqual(yield* bus.read("jobs.done", 0, 10), [])
    })))

  it.effect("a chain of stages: every stage's output is caused by its input, each exactly once", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const n = 300
      yield* bus.subscribe("a", "to-b", (e, ctx) => ctx.publish("b", e.payload, { key: e.key }), { from: "earliest" })
      yield* bus.subscribe("b", "to-c", (e, ctx) => ctx.publish("c", e.payload, { key: e.key }), { from: "earliest", maxInFlight: 4 })
      const done = yield* Deferred.make<void>()
      const seen: Array<Event> = []
      yield* bus.subscribe("c", "sink", (e) =>
        Effect.suspend(() => {
          seen.push(e)
          return seen.length === n ? Deferred.succeed(done, undefined) : Effect.void
        }), { from: "earliest" })
      const sent = yield* bus.publishAll(Array.from({ length: n }, (_, i) => ({ topic: "a", payload: i, key: `k${i % 5}` })))
      yield* Deferred.await(done)
      const b = yield* bus.read("b", 0, 1000)
      const c = yield* bus.read("c", 0, 1000)
      assert.strictEqual(b.length, n)
      assert.strictEqual(c.length, n)
      const bById = new Map(b.map((e) => [e.id, e]))
      for (const e of c) assert.strictEqual(bById.get(e.causedBy![0]!)!.payload, e.payload)
      assert.deepStrictEqual(new Set(b.map((e) => e.causedBy![0])), new Set(sent.map((e) => e.id)))
      // Per key, stage outputs keep their input order.
      for (let k = 0; k < 5; k++) {
        const order = c.filter((e) => e.key === `k${k}`).map((e) => e.payload as number)
        assert.deepStrictEqual(order, [...order].sort((x, y) => x - y))
      }
    })))

  it.effect("per key, runs follow the log order while earlier runs' acks are still being committed", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const n = 2000
      const runs = new Map<string, Array<number>>()
      const done = yield* Deferred.make<void>()
      let handled = 0
      yield* bus.subscribe("in", "g", (e, ctx) =>
        Effect.andThen(ctx.publish("out", e.payload, { key: e.key }), Effect.suspend(() => {
          const key = e.key!
          if (!runs.has(key)) runs.set(key, [])
          runs.get(key)!.push(e.payload as number)
          return ++handled === n ? Deferred.succeed(done, undefined) : Effect.void
        })), { from: "earliest", ordering: "key", maxInFlight: 64 })
      yield* bus.publishAll(Array.from({ length: n }, (_, i) => ({ topic: "in", payload: i, key: `k${i % 7}` })))
      yield* Deferred.await(done)
      for (const [, seen] of runs) assert.deepStrictEqual(seen, [...seen].sort((a, b) => a - b))
      yield* settle
      const out = yield* bus.read("out", 0, n + 10)
      assert.strictEqual(out.length, n)
      for (let k = 0; k < 7; k++) {
        const order = out.filter((e) => e.key === `k${k}`).map((e) => e.payload as number)
        assert.deepStrictEqual(order, [...order].sort((x, y) => x - y))
      }
    })))

  it.effect("a key's next run sees what the previous run of that key published (a projector counting per key)", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const perKey = 200
      const done = yield* Deferred.make<void>()
      let handled = 0
      yield* bus.subscribe("hits", "counter", (e, ctx) =>
        Effect.gen(function*() {
          const current = (yield* bus.latestByKey("counts", [e.key!])).get(e.key!)?.payload as number | undefined
          yield* ctx.publish("counts", (current ?? 0) + 1, { key: e.key })
          if (++handled === 3 * perKey) yield* Deferred.succeed(done, undefined)
        }), { from: "earliest", ordering: "key", maxInFlight: 16 })
      yield* bus.publishAll(Array.from({ length: 3 * perKey }, (_, i) => ({ topic: "hits", payload: i, key: `k${i % 3}` })))
      yield* Deferred.await(done)
      yield* settle
      const latest = yield* bus.latestByKey("counts", ["k0", "k1", "k2"])
      assert.deepStrictEqual([...latest].map(([k, e]) => [k, e.payload]), [["k0", perKey], ["k1", perKey], ["k2", perKey]])
    })))

  it.effect("writer: a part cancelled by the failure of an earlier one is never committed, in the failed batch or later", () =>
    Effect.gen(function*() {
      const real = yield* Store
      // The real store, failing any transaction that appends the event with id "bad".
      const store: RuntimeStore = {
        ...real.runtime,
        commit: (batch) =>
          batch.appends.some((a) => a.id === "bad") ? Effect.fail(new StoreError({ op: "commit", cause: new Error("disk full") })) : real.runtime.commit(batch)
      }
      for (const group of ["g", "h"]) {
        yield* real.runtime.claimLease({ group, expectedOwner: null, owner: "A", pid: null, host: null, expiresAt: 10_000, now: 0 })
        yield* real.runtime.initCursor(group, "in", 0, 0)
      }
      const draft = (id: string) => ({
        id, ts: 0, topic: "out", key: null, partition: null, headers: null, payload: "1", causedBy: null, tags: null, sid: null
      })
      const writer = yield* makeWriter(store, () => {})
      // As a consumer group does: once one of its acks fails, the ones after it are cancelled.
      let gFailed = false
      const cancelled = () => gFailed
      const outcomes: Array<string> = []
      const record = (name: string, group?: string) => (exit: Exit.Exit<unknown, unknown>) => {
        if (group === "g" && Exit.isFailure(exit)) gFailed = true
        outcomes.push(`${name} ${exit._tag}`)
      }
      const ack = (group: string, seq: number) => [{ group, owner: "A", topic: "in", seq }]
      // Submitted together, so the writer first tries them as one transaction.
      writer.enqueue({ appends: [draft("bad")], acks: ack("g", 1), cancelled }, record("g1", "g"))
      writer.enqueue({ appends: [draft("g2")], acks: ack("g", 2), cancelled }, record("g2", "g"))
      writer.enqueue({ appends: [draft("h3")], acks: ack("h", 3) }, record("h3", "h"))
      while (outcomes.length < 3) yield* Effect.yieldNow
      // A later batch.
      writer.enqueue({ appends: [draft("g4")], acks: ack("g", 4), cancelled }, record("g4", "g"))
      while (outcomes.length < 4) yield* Effect.yieldNow
      assert.deepStrictEqual(outcomes, ["g1 Failure", "g2 Failure", "h3 Success", "g4 Failure"])
      assert.strictEqual(yield* real.runtime.eventById("g2"), undefined)
      assert.strictEqual(yield* real.runtime.eventById("g4"), undefined)
      assert.notStrictEqual(yield* real.runtime.eventById("h3"), undefined)
      const g = yield* real.runtime.getCursor("g", "in")
      const h = yield* real.runtime.getCursor("h", "in")
      assert.deepStrictEqual([g!.floor, g!.acked], [0, []])
      assert.deepStrictEqual([h!.floor, h!.acked], [0, [[3, 3]]])
    }).pipe(Effect.scoped, Effect.provide(openStore(factory.fresh()))))

  it.effect("store: a fenced ack rolls back the publishes in its transaction", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const owned = yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: null, host: null, expiresAt: 10_000, now: 0 })
      assert.isTrue(owned)
      yield* store.runtime.initCursor("g", "in", 0, 0)
      const draft = (id: string) => ({
        id, ts: 0, topic: "out", key: null, partition: null, headers: null, payload: "1", causedBy: null, tags: null, sid: null
      })
      const fenced = yield* Effect.exit(store.runtime.commit({
        now: 0, appends: [draft("x")], progress: [], deliveries: [], deadLetters: [],
        acks: [{ group: "g", owner: "B", topic: "in", seq: 1 }]
      }))
      assert.isTrue(Exit.isFailure(fenced))
      assert.strictEqual(yield* store.runtime.eventById("x"), undefined)
      yield* store.runtime.commit({
        now: 0, appends: [draft("y")], progress: [], deliveries: [], deadLetters: [],
        acks: [{ group: "g", owner: "A", topic: "in", seq: 2 }, { group: "g", owner: "A", topic: "in", seq: 1 }]
      })
      assert.notStrictEqual(yield* store.runtime.eventById("y"), undefined)
      const cursor = yield* store.runtime.getCursor("g", "in")
      assert.deepStrictEqual([cursor!.floor, cursor!.acked], [2, []])
      yield* store.runtime.commit({ now: 0, appends: [], progress: [], deliveries: [], deadLetters: [], acks: [{ group: "g", owner: "A", topic: "in", seq: 5 }] })
      const after = yield* store.runtime.getCursor("g", "in")
      assert.deepStrictEqual([after!.floor, after!.acked], [2, [[5, 5]]])
    }).pipe(Effect.provide(openStore(factory.fresh()))))

  it.live("on a shared database, a restarted bus finds every acked event's publishes and redelivers nothing", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const n = 200
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        yield* bus.publishAll(Array.from({ length: n }, (_, i) => ({ topic: "in", payload: i })))
        const done = yield* Deferred.make<void>()
        let count = 0
        const sub = yield* bus.subscribe("in", "g", (e, ctx) =>
          Effect.andThen(ctx.publish("out", e.payload), Effect.suspend(() => (++count === n ? Deferred.succeed(done, undefined) : Effect.void))),
          { from: "earliest", commitIntervalMs: 60_000 })
        yield* Deferred.await(done)
        yield* Effect.sleep(20)
        // Read the database from another connection while the group still runs: every ack is there.
        const [cursor, outs] = yield* Effect.flatMap(Effect.service(Store), (other) =>
          Effect.all([other.runtime.getCursor("g", "in"), other.admin.countEvents("out", 0, Number.MAX_SAFE_INTEGER)])
        ).pipe(Effect.provide(openStore(location), { local: true }))
        assert.strictEqual(outs, n)
        assert.strictEqual(cursor!.floor, n)
        yield* sub.unsubscribe
      }).pipe(Effect.provide(Bus.open(location), { local: true }))
    }))
})

describe.each(storeFactories)("ctx.transaction: the handler's own writes commit with its ack ($name)", (factory) => {
  it.effect("a failed run's writes are rolled back; the successful run's commit with its publishes and ack", () =>
    withTable(factory)((app) => Effect.gen(function*() {
      const bus = yield* Bus
      const event = yield* bus.publish("payments", { account: "a", amount: 5 })
      const rec = yield* makeRecorder
      const seenInside: Array<unknown> = []
      yield* bus.subscribe("payments", "ledger", rec.handler((e, ctx) =>
        Effect.gen(function*() {
          const trx = yield* ctx.transaction
          const again = yield* ctx.transaction
          assert.strictEqual(again, trx)
          const p = e.payload as { account: string; amount: number }
          yield* Effect.promise(() => trx.insertInto("balances").values({ account: p.account, amount: p.amount * ctx.attempt }).execute())
          // The transaction sees its own writes.
          seenInside.push((yield* Effect.promise(() => trx.selectFrom("balances").selectAll().execute())).length)
          yield* ctx.publish("ledger.updated", { account: p.account })
          if (ctx.attempt === 1) return yield* Effect.fail(new Error("crash after the write"))
        })
      ), { from: "earliest", backoff: { initialMs: 10, jitter: 0 } })
      yield* rec.take(1)
      yield* settle
      assert.deepStrictEqual(yield* rowsOf(app), [])
      assert.deepStrictEqual(yield* bus.read("ledger.updated", 0, 10), [])
      yield* advance(10)
      yield* rec.take(1)
      yield* settle
      assert.deepStrictEqual(yield* rowsOf(app), [{ account: "a", amount: 10 }])
      assert.deepStrictEqual(seenInside, [1, 1])
      const updated = yield* bus.read("ledger.updated", 0, 10)
      assert.deepStrictEqual(updated.map((u) => u.causedBy), [[event.id]])
      const store = yield* Store
      assert.strictEqual((yield* store.runtime.getCursor("ledger", "payments"))!.floor, event.seq)
    })))

  it.effect("a run that times out holding its transaction rolls it back, and the group carries on", () =>
    withTable(factory)((app) => Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("in", "stuck")
      yield* bus.publish("in", "fine")
      const rec = yield* makeRecorder
      let inserts = 0
      yield* bus.subscribe("in", "g", rec.handler((e, ctx) =>
        Effect.gen(function*() {
          const trx = yield* ctx.transaction
          yield* Effect.promise(() => trx.insertInto("balances").values({ account: String(e.payload), amount: ctx.attempt, n: inserts++ }).execute())
          if (e.payload === "stuck" && ctx.attempt === 1) yield* Effect.never
        })
      ), { from: "earliest", ackTimeoutMs: 1000, ordering: "strict", backoff: { initialMs: 10, jitter: 0 } })
      for (let i = 0; i < 5; i++) yield* advance(1000)
      assert.deepStrictEqual(yield* rowsOf(app), [{ account: "stuck", amount: 2 }, { account: "fine", amount: 1 }])
    })))
})

describe.each(storeFactories)("ctx.transaction while another run holds the only one ($name)", (factory) => {
  it.live("a run that times out while its transaction waits to open leaves none open: the other groups and its retry carry on", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const runs: Array<string> = []
        // One run holds a transaction for 1.5 s: on SQLite the connection, on Postgres the pool's
        // only handler transaction (3 connections).
        yield* bus.subscribe("hold", "holder", (_e, ctx) =>
          Effect.gen(function*() {
            // Both runs have started (on SQLite nothing starts while the transaction is open).
            yield* Effect.sleep("100 millis")
            yield* ctx.transaction
            yield* Effect.sleep("1500 millis")
            runs.push("holder")
          }), { from: "earliest", ackTimeoutMs: 10_000 })
        yield* bus.subscribe("wait", "waiter", (_e, ctx) =>
          Effect.gen(function*() {
            // The holder opens first.
            yield* Effect.sleep("200 millis")
            runs.push(`waiter ${ctx.attempt} opens`)
            yield* ctx.transaction
            runs.push(`waiter ${ctx.attempt} opened`)
          }), { from: "earliest", ackTimeoutMs: 500, maxAttempts: 3, backoff: { initialMs: 1000, jitter: 0 } })
        // Both at once: on SQLite a publish waits while a handler's transaction holds the connection.
        yield* bus.publishAll([{ topic: "hold", payload: 1 }, { topic: "wait", payload: 1 }])
        const until = (done: () => boolean) =>
          Effect.gen(function*() {
            for (let i = 0; i < 200 && !done(); i++) yield* Effect.sleep("50 millis")
          })
        yield* until(() => runs.includes("waiter 2 opened"))
        // Attempt 1 timed out waiting; its transaction, opened once the holder let go, was rolled
        // back at once (on Postgres it was left open: a permit and a connection gone for good).
        assert.deepStrictEqual(runs, ["waiter 1 opens", "holder", "waiter 2 opens", "waiter 2 opened"])
        yield* bus.publish("hold", 2)
        yield* until(() => runs.length === 5)
        assert.deepStrictEqual(runs.slice(4), ["holder"])
      }).pipe(Effect.provide(Bus.open(location, { maxConnections: 3 }), { local: true }))
    }).pipe(Effect.scoped), 30_000)
})

describe.each(storeFactories)("ctx.transaction of the Promise API while another run holds the only one ($name)", (factory) => {
  it("a run that times out while its transaction waits to open leaves none open: its retry and the other group carry on", async () => {
    const location = factory.shared()
    const rt = await createRuntime({ db: location, maxConnections: 3 })
    try {
      const runs: Array<string> = []
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
      await rt.subscribe("hold", "holder", async (_e, ctx) => {
        await sleep(100)
        await ctx.transaction()
        await sleep(1500)
        runs.push("holder")
      }, { from: "earliest", ackTimeoutMs: 10_000 })
      await rt.subscribe("wait", "waiter", async (_e, ctx) => {
        await sleep(200)
        runs.push(`waiter ${ctx.attempt} opens`)
        await ctx.transaction()
        runs.push(`waiter ${ctx.attempt} opened`)
      }, { from: "earliest", ackTimeoutMs: 500, maxAttempts: 3, backoff: { initialMs: 1000, jitter: 0 } })
      await rt.publishAll([{ topic: "hold", payload: 1 }, { topic: "wait", payload: 1 }])
      const until = async (done: () => boolean) => {
        for (let i = 0; i < 200 && !done(); i++) await sleep(50)
      }
      await until(() => runs.includes("waiter 2 opened"))
      // Attempt 1's transaction, opened in the background once the holder let go, was rolled back
      // at once: before, it stayed open (holding the connection or the pool's permit) and the
      // worker's next run was handed it.
      expect(runs.filter((r) => r !== "waiter 1 opened")).toEqual(["waiter 1 opens", "holder", "waiter 2 opens", "waiter 2 opened"])
      await rt.publish("hold", 2)
      await until(() => runs.filter((r) => r === "holder").length === 2)
      expect(runs.filter((r) => r === "holder")).toHaveLength(2)
    } finally {
      await rt.close()
      await factory.drop(location)
    }
  }, 30_000)
})

// SQLite has one connection per store: while a handler's transaction holds it, every other call
// waits (Store guarantee 4). A store with a connection pool lets them run, so this is SQLite's own.
describe("ctx.transaction on SQLite's single connection", () => {
  it.effect("other store work waits while a transaction is open; bus.publish inside it is refused at once", () =>
    withTable(sqliteFactory)((app) => Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("in", 1)
      const opened = yield* Deferred.make<void>()
      const proceed = yield* Deferred.make<void>()
      const refused: Array<string> = []
      yield* bus.subscribe("in", "g", (_e, ctx) =>
        Effect.gen(function*() {
          const trx = yield* ctx.transaction
          yield* Effect.promise(() => trx.insertInto("balances").values({ account: "x", amount: 1 }).execute())
          const error = yield* Effect.flip(bus.publish("elsewhere", 1))
          refused.push(error._tag)
          yield* Deferred.succeed(opened, undefined)
          yield* Deferred.await(proceed)
        }), { from: "earliest" })
      yield* Deferred.await(opened)
      const outside = yield* Effect.forkChild(bus.publish("other", 2))
      yield* settle
      assert.isUndefined(outside.pollUnsafe())
      assert.deepStrictEqual(yield* rowsOf(app), [])
      yield* Deferred.succeed(proceed, undefined)
      const published = yield* Fiber.join(outside)
      assert.strictEqual(published.payload, 2)
      assert.deepStrictEqual(refused, ["PublishError"])
      assert.deepStrictEqual(yield* rowsOf(app), [{ account: "x", amount: 1 }])
    })))
})

describe.skipIf(postgresUrl === undefined)("a handler transaction refused at its commit (postgres)", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")
  it.live("more handlers holding transactions than the pool has connections (defaults: 16 and 10) do not deadlock the process", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const app = yield* kyselyOn(factory, location)
      yield* Effect.promise(() => sql`create table ledger (k text primary key, n int not null)`.execute(app))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        yield* bus.publishAll(Array.from({ length: 100 }, (_, n) => ({ topic: "jobs", payload: { n }, key: `k${n}` })))
        yield* bus.subscribe("jobs", "g", (e, ctx) =>
          Effect.gen(function*() {
            const trx = yield* ctx.transaction
            const n = (e.payload as { n: number }).n
            yield* Effect.promise(() => trx.insertInto("ledger").values({ k: `k${n}`, n }).onConflict((oc) => oc.column("k").doUpdateSet({ n })).execute())
            yield* Effect.sleep(5)
            yield* ctx.publish("done", { n })
          }), { from: "earliest" })
        const deadline = Date.now() + 20_000
        while ((yield* bus.read("done", 0, 200)).length < 100) {
          if (Date.now() > deadline) throw new Error(`stuck at ${(yield* bus.read("done", 0, 200)).length} of 100`)
          yield* Effect.sleep(50)
        }
        // And the bus still publishes.
        yield* bus.publish("jobs", { n: 100 }, { key: "k100" })
      }).pipe(Effect.provide(Bus.open(location), { local: true }))
    }).pipe(Effect.scoped), 40_000)

  it.live("a deferred constraint of the handler's own table failing at COMMIT fails the run: retried, then dead-lettered; the group goes on", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const app = yield* kyselyOn(factory, location)
      yield* Effect.promise(() => sql`create table uniq (k text, constraint u unique (k) deferrable initially deferred)`.execute(app))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        for (let n = 1; n <= 3; n++) yield* bus.publish("jobs", { n })
        const runs = new Map<number, number>()
        yield* bus.subscribe("jobs", "g", (e, ctx) =>
          Effect.gen(function*() {
            const n = (e.payload as { n: number }).n
            runs.set(n, (runs.get(n) ?? 0) + 1)
            const trx = yield* ctx.transaction
            yield* Effect.promise(() => trx.insertInto("uniq").values({ k: n === 2 ? "dup" : `k${n}-${runs.get(n)}` }).execute())
            if (n === 2) yield* Effect.promise(() => trx.insertInto("uniq").values({ k: "dup" }).execute())
            yield* ctx.publish("done", { n })
          }), { from: "earliest", maxAttempts: 2, backoff: { initialMs: 10, jitter: 0 } })
        const deadline = Date.now() + 15_000
        while ((yield* bus.deadLetters({ group: "g" })).length === 0 || (yield* bus.read("done", 0, 10)).length < 2) {
          if (Date.now() > deadline) throw new Error(`timed out: runs ${JSON.stringify([...runs])}`)
          yield* Effect.sleep(20)
        }
        const [dead] = yield* bus.deadLetters({ group: "g" })
        assert.deepStrictEqual([dead!.seq, dead!.attempts, runs.get(2)], [2, 2, 2])
        assert.match(dead!.errorMessage, /^the handler's writes were refused at commit: .*duplicate key value violates unique constraint "u"/)
        assert.deepStrictEqual((yield* bus.read("done", 0, 10)).map((e) => (e.payload as { n: number }).n).sort(), [1, 3])
      }).pipe(Effect.provide(Bus.open(location), { local: true }))
    }).pipe(Effect.scoped), 30_000)
})
