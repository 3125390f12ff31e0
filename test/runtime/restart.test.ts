/**
 * Restarts on a shared database (a file on SQLite) of every store factory: what was acked stays
 * acked, what was not is delivered again, cursors persist; a second runtime on the same database
 * stands by while the group is consumed and takes over when it is released; moving a cursor is
 * refused while another owner consumes it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, ManagedRuntime, References } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import { GroupError } from "../../src/runtime/busErrors.ts"
import { makeRecorder } from "../helpers/recorder.ts"
import { sharedDb, storeFactories } from "../helpers/stores.ts"

const quiet = Layer.succeed(References.MinimumLogLevel, "Error")
const onDb = (location: string) => Bus.open(location).pipe(Layer.provideMerge(quiet))

describe.each(storeFactories)("restarts on a shared database ($name)", (factory) => {
  it.live("acked events are not redelivered, unacked ones are, and the cursor persists", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const first = yield* Effect.gen(function*() {
        const bus = yield* Bus
        yield* bus.publishAll(Array.from({ length: 10 }, (_, n) => ({ topic: "t", payload: n })))
        const rec = yield* makeRecorder
        const stuck = yield* Deferred.make<void>()
        yield* bus.subscribe("t", "g", rec.handler((e) =>
          e.payload === 6 ? Deferred.succeed(stuck, undefined).pipe(Effect.andThen(Effect.never)) : Effect.void
        ), { from: "earliest", ordering: "strict", drainTimeoutMs: 50 })
        yield* Deferred.await(stuck)
        return rec.all.map((d) => d.event.payload)
      }).pipe(Effect.provide(onDb(location), { local: true }))
      assert.deepStrictEqual(first, [0, 1, 2, 3, 4, 5, 6])

      const second = yield* Effect.gen(function*() {
        const bus = yield* Bus
        assert.strictEqual(yield* bus.getCursor("t", "g"), 6, "events 1-6 (seqs) acked and persisted; 7 was not")
        const rec = yield* makeRecorder
        yield* bus.subscribe("t", "g", rec.handler(), { from: "earliest" })
        const seen = yield* rec.take(4)
        return seen.map((d) => [d.event.payload, d.attempt])
      }).pipe(Effect.provide(onDb(location), { local: true }))
      assert.deepStrictEqual(second, [[6, 1], [7, 1], [8, 1], [9, 1]], "an interrupted run is not an attempt")
    }))

  it.live("a second runtime stands by while the group is consumed, and takes over when it is released", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const runtime = Effect.acquireRelease(
        Effect.sync(() => ManagedRuntime.make(onDb(location))),
        (rt) => Effect.promise(() => rt.dispose())
      )
      const a = yield* runtime
      const b = yield* runtime
      const busA = yield* Effect.promise(() => a.runPromise(Effect.service(Bus)))
      const busB = yield* Effect.promise(() => b.runPromise(Effect.service(Bus)))
      const seenA: Array<unknown> = []
      const seenB: Array<unknown> = []
      const subA = yield* Effect.promise(() =>
        a.runPromise(busA.subscribe("t", "g", (e) => Effect.sync(() => seenA.push(e.payload)), { from: "earliest" }))
      )
      yield* Effect.promise(() =>
        b.runPromise(busB.subscribe("t", "g", (e) => Effect.sync(() => seenB.push(e.payload)), { from: "earliest" }))
      )
      assert.isUndefined(busB.groupStats("g"), "B stands by")
      yield* Effect.promise(() => a.runPromise(busA.publish("t", 1)))
      while (seenA.length < 1) yield* Effect.sleep(5)
      const moved = yield* Effect.promise(() => b.runPromise(Effect.flip(busB.setCursor("t", "g", 0))))
      assert.instanceOf(moved, GroupError)
      assert.match(moved.message, /being consumed by process \d+ on /)
      yield* Effect.promise(() => a.runPromise(subA.unsubscribe))
      yield* Effect.promise(() => a.runPromise(busA.publish("t", 2)))
      const deadline = Date.now() + 5000
      while (seenB.length < 1 && Date.now() < deadline) yield* Effect.sleep(20)
      assert.deepStrictEqual([seenA, seenB], [[1], [2]])
    }), 20_000)

  it.live("close drains running handlers and commits their acks", () =>
    Effect.gen(function*() {
      const location = yield* sharedDb(factory)
      const rt = ManagedRuntime.make(onDb(location))
      const bus = yield* Effect.promise(() => rt.runPromise(Effect.service(Bus)))
      yield* Effect.promise(() => rt.runPromise(bus.publishAll([1, 2, 3].map((payload) => ({ topic: "t", payload })))))
      let started = 0
      let finished = 0
      yield* Effect.promise(() =>
        rt.runPromise(bus.subscribe("t", "g", () =>
          Effect.sync(() => started++).pipe(Effect.andThen(Effect.sleep(100)), Effect.andThen(Effect.sync(() => finished++))), {
          from: "earliest", ordering: "none"
        }))
      )
      while (started < 3) yield* Effect.sleep(1)
      yield* Effect.promise(() => rt.dispose())
      assert.strictEqual(finished, 3)
      const check = ManagedRuntime.make(onDb(location))
      const cursor = yield* Effect.promise(() => check.runPromise(Effect.flatMap(Effect.service(Bus), (b) => b.getCursor("t", "g"))))
      yield* Effect.promise(() => check.dispose())
      assert.strictEqual(cursor, 3)
    }))
})
