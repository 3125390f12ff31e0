/**
 * Supervision and clean shutdown: a failing store call restarts only its group (with a log line
 * and a backoff), other groups and the process keep going; the check for other processes' commits
 * and a singleton's lease survive a failing database the same way; closing leaves no timers or
 * handles.
 * On every store factory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Layer, ManagedRuntime } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import type { BusEvent } from "../../src/runtime/busEvents.ts"
import { openStore } from "../../src/store/open.ts"
import { Store } from "../../src/store/Store.ts"
import { alteredStore, keptLogs, storeFailure } from "../helpers/faults.ts"
import { advance, makeRecorder, settle } from "../helpers/recorder.ts"
import { sharedDb, storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("supervision ($name)", (factory) => {
  it.effect("a failing store read restarts that group with backoff and a log line; other groups keep flowing", () =>
    Effect.gen(function*() {
      const logs = keptLogs()
      let failuresLeft = 3
      const flaky = alteredStore(factory.fresh(), (store) => ({
        ...store,
        runtime: {
          ...store.runtime,
          readPage: (topic, after, limit) =>
            topic === "flaky" && failuresLeft > 0
              ? Effect.andThen(Effect.sync(() => failuresLeft--), storeFailure("readPage", "disk I/O error"))
              : store.runtime.readPage(topic, after, limit)
        }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const told: Array<BusEvent> = []
        bus.onEvent((e) => told.push(e))
        const steady = yield* makeRecorder
        const flakyRec = yield* makeRecorder
        yield* bus.subscribe("steady", "g-steady", steady.handler())
        yield* bus.subscribe("flaky", "g-flaky", flakyRec.handler())
        yield* bus.publish("flaky", "f1")
        yield* bus.publish("steady", "s1")
        assert.deepStrictEqual((yield* steady.take(1)).map((d) => d.event.payload), ["s1"])
        yield* settle
        assert.strictEqual(flakyRec.all.length, 0)
        assert.match(logs.text(), /group g-flaky: could not read from the database: disk I\/O error; restarting in 100 ms/)
        assert.deepStrictEqual(told[0], { type: "groupError", group: "g-flaky", error: "could not read from the database: disk I/O error", restartInMs: 100 })
        yield* advance(100)
        yield* advance(200)
        yield* advance(400)
        assert.deepStrictEqual((yield* flakyRec.take(1)).map((d) => d.event.payload), ["f1"])
        assert.match(logs.text(), /restarting in 400 ms/)
        yield* bus.publish("steady", "s2")
        assert.deepStrictEqual((yield* steady.take(1)).map((d) => d.event.payload), ["s2"])
      }).pipe(Effect.provide(Bus.layer().pipe(Layer.provideMerge(flaky), Layer.provideMerge(logs.layer))))
    }))

  it.effect("restarts back off to 5 s at most: a database that comes back costs a group seconds, not half a minute", () =>
    Effect.gen(function*() {
      const logs = keptLogs()
      let failuresLeft = 9
      const flaky = alteredStore(factory.fresh(), (store) => ({
        ...store,
        runtime: {
          ...store.runtime,
          readPage: (topic, after, limit) =>
            failuresLeft > 0
              ? Effect.andThen(Effect.sync(() => failuresLeft--), storeFailure("readPage", "Connection terminated unexpectedly"))
              : store.runtime.readPage(topic, after, limit)
        }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const rec = yield* makeRecorder
        yield* bus.subscribe("jobs", "g", rec.handler())
        yield* bus.publish("jobs", "j1")
        for (const ms of [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]) yield* advance(ms)
        assert.deepStrictEqual((yield* rec.take(1)).map((d) => d.event.payload), ["j1"])
        const delays = [...logs.text().matchAll(/restarting in (\d+) ms/g)].map((m) => Number(m[1]))
        assert.deepStrictEqual(delays, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000])
      }).pipe(Effect.provide(Bus.layer().pipe(Layer.provideMerge(flaky), Layer.provideMerge(logs.layer))))
    }))

  it.effect("a failing check for other processes' commits is tried again with a log line; their events still arrive", () =>
    Effect.gen(function*() {
      const db = yield* sharedDb(factory)
      const logs = keptLogs()
      // The bus's first check (when it opens) works; the next three fail.
      let calls = 0
      const flaky = alteredStore(db, (store) => ({
        ...store,
        capabilities: {
          ...store.capabilities,
          changeToken: Effect.suspend(() => (++calls >= 2 && calls <= 4 ? storeFailure("changeToken", "connection reset") : store.capabilities.changeToken!))
        }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const rec = yield* makeRecorder
        yield* bus.subscribe("t", "g", rec.handler(), { from: "earliest" })
        // The first checks fail; another process publishes meanwhile.
        yield* advance(50)
        const elsewhere = Effect.gen(function*() {
          const other = yield* Bus
          yield* other.publish("t", "elsewhere")
        }).pipe(Effect.provide(Bus.open(db, { metrics: false })))
        yield* Effect.promise(() => Effect.runPromise(elsewhere))
        yield* advance(5_000)
        assert.deepStrictEqual((yield* rec.take(1)).map((d) => d.event.payload), ["elsewhere"])
        assert.match(logs.text(), /cannot check for other processes' commits \(could not .*connection reset\)/)
        assert.match(logs.text(), /works again/)
        assert.notMatch(logs.text(), /stopped/)
      }).pipe(Effect.provide(Bus.layer({ pollIntervalMs: 50 }).pipe(Layer.provideMerge(flaky), Layer.provideMerge(logs.layer))))
    }))

  it.effect("a singleton whose lease cannot be read stands by and tries again with a log line; then it runs", () =>
    Effect.gen(function*() {
      const logs = keptLogs()
      let calls = 0
      const flaky = alteredStore(factory.fresh(), (store) => ({
        ...store,
        runtime: { ...store.runtime, readLease: (name) => (++calls <= 3 ? storeFailure("readLease", "connection reset") : store.runtime.readLease(name)) }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const ran = yield* Deferred.make<void>()
        yield* Effect.forkChild(bus.singleton("job", Deferred.succeed(ran, undefined)))
        for (const ms of [200, 400, 800, 1600]) yield* advance(ms)
        yield* Deferred.await(ran).pipe(Effect.timeout("1 second"))
        assert.match(logs.text(), /singleton job: could not .*connection reset; trying again \(1 failure/)
      }).pipe(Effect.provide(Bus.layer().pipe(Layer.provideMerge(flaky), Layer.provideMerge(logs.layer))))
    }))

  it.effect("a lease taken over by another process is told as leaseLost, and the group stands by", () =>
    Effect.gen(function*() {
      const db = yield* sharedDb(factory)
      const logs = keptLogs()
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const told: Array<BusEvent> = []
        bus.onEvent((e) => told.push(e))
        yield* bus.subscribe("t", "g", () => Effect.void, { leaseMs: 3000 })
        yield* settle
        // Another process takes the lease (as `sib groups delete --force` or a clock bug could).
        const other = Context.get(yield* Layer.build(openStore(db)), Store)
        const lease = yield* other.runtime.readLease("g")
        assert.isTrue(yield* other.runtime.claimLease({ group: "g", expectedOwner: lease!.ownerSid, owner: "thief", pid: null, host: null, expiresAt: 1e13, now: 0 }))
        yield* advance(1000)
        assert.deepStrictEqual(told, [{ type: "leaseLost", group: "g" }])
        assert.match(logs.text(), /lease was taken over/)
      }).pipe(Effect.provide(Bus.open(db, { metrics: false }).pipe(Layer.provideMerge(logs.layer))))
    }).pipe(Effect.scoped))

  it.effect("a handler transaction that committed although its commit reported a failure (a connection lost in COMMIT) is not run again", () =>
    Effect.gen(function*() {
      const logs = keptLogs()
      let ambiguous = 1
      // The commit lands; the caller hears, a second later, that it failed (as when the server
      // commits and the connection drops before its answer arrives).
      const lossy = alteredStore(factory.fresh(), (store) => ({
        ...store,
        runtime: {
          ...store.runtime,
          beginTransaction: Effect.map(store.runtime.beginTransaction, (tx) => ({
            ...tx,
            commit: (batch, onCommit) =>
              ambiguous > 0
                ? Effect.andThen(tx.commit(batch), Effect.andThen(Effect.andThen(Effect.sync(() => ambiguous--), Effect.sleep("1 second")), storeFailure("commit", "Connection terminated unexpectedly")))
                : tx.commit(batch, onCommit)
          }))
        }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const runs: Array<string> = []
        yield* bus.subscribe("jobs", "g", (event, ctx) =>
          Effect.gen(function*() {
            runs.push(String(event.payload))
            // Its ack commits in its own transaction; the other event's is kept in memory.
            if (event.payload === "in-tx") yield* ctx.transaction
          }), { from: "earliest", maxInFlight: 2 })
        yield* bus.publishAll([{ topic: "jobs", payload: "in-tx" }, { topic: "jobs", payload: "plain" }])
        yield* settle
        // While the answer is on its way, the group's progress is written from memory.
        yield* advance(100)
        yield* advance(1000)
        assert.match(logs.text(), /group g: could not write to the database: Connection terminated unexpectedly; restarting in 100 ms/)
        yield* advance(100)
        yield* advance(1000)
        // The next session reads what is stored: "in-tx" is acknowledged (its transaction
        // committed) and must not run again.
        assert.deepStrictEqual(runs.filter((r) => r === "in-tx"), ["in-tx"], `runs: ${runs.join(", ")}`)
      }).pipe(Effect.provide(Bus.layer().pipe(Layer.provideMerge(lossy), Layer.provideMerge(logs.layer))))
    }))

  it.effect("a run whose ack was lost with its session runs again as a redelivery: attempt 2, counted", () =>
    Effect.gen(function*() {
      const logs = keptLogs()
      let failuresLeft = 1
      // The commit carrying the group's first acked floor fails: the session ends with it.
      const lossy = alteredStore(factory.fresh(), (store) => ({
        ...store,
        runtime: {
          ...store.runtime,
          commit: (batch) =>
            failuresLeft > 0 && [...batch.progress, ...(batch.progressNow?.() ?? [])].some((p) => p.group === "g" && p.floor >= 1)
              ? Effect.andThen(Effect.sync(() => failuresLeft--), storeFailure("commit", "disk I/O error"))
              : store.runtime.commit(batch)
        }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const attempts: Array<number> = []
        yield* bus.subscribe("jobs", "g", (_event, ctx) => Effect.sync(() => void attempts.push(ctx.attempt)), { from: "earliest" })
        yield* bus.publish("jobs", "one")
        yield* settle
        yield* advance(100)
        yield* advance(1000)
        assert.match(logs.text(), /group g: could not write to the database: disk I\/O error; restarting in 100 ms/)
        yield* advance(100)
        yield* advance(1000)
        // Its handler ran; the ack was not stored: the same process's next session counts it.
        assert.deepStrictEqual(attempts, [1, 2])
        const [position] = (yield* bus.describeGroup("g")).positions
        assert.strictEqual(position?.cursor.redelivered, 1)
      }).pipe(Effect.provide(Bus.layer().pipe(Layer.provideMerge(lossy), Layer.provideMerge(logs.layer))))
    }))

  it.live("closing a runtime leaves no timers, handles or fibers behind", () =>
    Effect.gen(function*() {
      const before = process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap").length
      const rt = ManagedRuntime.make(Bus.open(factory.fresh()))
      const bus = yield* Effect.promise(() => rt.runPromise(Effect.service(Bus)))
      for (const group of ["a", "b", "c"]) {
        yield* Effect.promise(() => rt.runPromise(bus.subscribe("t", group, () => Effect.sleep(5), { from: "earliest" })))
      }
      yield* Effect.promise(() => rt.runPromise(bus.publishAll(Array.from({ length: 50 }, (_, i) => ({ topic: "t", payload: i })))))
      yield* Effect.sleep(20)
      yield* Effect.promise(() => rt.dispose())
      // Effect's scheduler may hold a zero-delay timeout for a moment (it yields to the event loop
      // under load): a leak is a resource still there after that, so look a few times.
      const count = () => process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap").length
      let after = count()
      for (let i = 0; i < 50 && after > before; i++) {
        yield* Effect.sleep(10)
        after = count()
      }
      assert.isAtMost(after, before, `left behind: ${process.getActiveResourcesInfo().join(", ")}`)
      const closed = yield* Effect.promise(() => rt.runPromiseExit(Effect.void))
      assert.strictEqual(closed._tag, "Failure", "a disposed runtime runs nothing")
    }))
})
