/**
 * Live subscriptions (issue 12): every event published to the topics by any process on the
 * database from the moment of subscribing, in seq order, nothing before; a slow reader loses
 * nothing (it continues from the store); the stream ends when the bus closes. Two buses on one
 * database stand for two processes or replicas.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import type { BusShape } from "../../src/runtime/Bus.ts"
import { createRuntime } from "../../src/index.ts"
import type { Event } from "../../src/store/records.ts"
import { alteredStore, storeFailure } from "../helpers/faults.ts"
import { storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("live subscriptions ($name)", (factory) => {
  const twoProcesses = <A, E>(f: (a: BusShape, b: BusShape) => Effect.Effect<A, E>) =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const open = <X, Y>(g: (bus: BusShape) => Effect.Effect<X, Y>) =>
        Effect.flatMap(Effect.service(Bus), g).pipe(Effect.provide(Bus.open(location, { maintenance: false }), { local: true }))
      return yield* open((a) => open((b) => f(a, b)))
    }).pipe(Effect.scoped)

  it.live("gets what any process publishes from now on, on every topic given, in seq order; nothing from before", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        yield* b.publish("orders", { n: "before" })
        const seen = yield* Effect.forkChild(Stream.runCollect(Stream.take(a.live(["orders", "audit"]), 4)))
        // The stream reads where the topics stand when it starts: give it that moment.
        yield* Effect.sleep("100 millis")
        yield* b.publish("orders", { n: 1 })
        yield* a.publish("audit", { n: 2 })
        yield* b.publish("elsewhere", { n: "other topic" })
        yield* b.publishAll([{ topic: "audit", payload: { n: 3 } }, { topic: "orders", payload: { n: 4 } }])
        const events = [...(yield* Fiber.join(seen).pipe(Effect.timeout("10 seconds")))] as Array<Event>
        assert.deepStrictEqual(events.map((e) => (e.payload as { n: unknown }).n), [1, 2, 3, 4])
        assert.deepStrictEqual(events.map((e) => e.topic), ["orders", "audit", "audit", "orders"])
        assert.isTrue(events.every((e, i) => i === 0 || e.seq > events[i - 1]!.seq))
      })))

  it.live("several topics stay in seq order when one topic's backlog is more than a page", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        const seen = yield* Effect.forkChild(Stream.runCollect(Stream.take(a.live(["bulk", "rare"]), 605)))
        yield* Effect.sleep("100 millis")
        // One commit: 600 events of "bulk" (over two pages of it), then 5 of "rare".
        yield* b.publishAll([
          ...Array.from({ length: 600 }, (_, n) => ({ topic: "bulk", payload: n })),
          ...Array.from({ length: 5 }, (_, n) => ({ topic: "rare", payload: 600 + n }))
        ])
        const events = [...(yield* Fiber.join(seen).pipe(Effect.timeout("10 seconds")))] as Array<Event>
        assert.deepStrictEqual(events.map((e) => e.payload), Array.from({ length: 605 }, (_, n) => n))
      })))

  it.live("several topics stay in seq order when an event of a topic already read commits before the next topic's read", () =>
    Effect.gen(function*() {
      // The store reads one topic at a time: between the read of "first" and that of "second",
      // another writer commits an event to each. The one of "first" has the lower seq.
      let between: Effect.Effect<void, unknown> | undefined
      const interleaved = alteredStore(factory.fresh(), (store) => ({
        ...store,
        runtime: {
          ...store.runtime,
          readPage: (topic, after, limit, maxBytes) => {
            const hook = topic === "second" ? between : undefined
            if (hook !== undefined) between = undefined
            return Effect.andThen(hook === undefined ? Effect.void : Effect.orDie(hook), store.runtime.readPage(topic, after, limit, maxBytes))
          }
        }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const seen = yield* Effect.forkChild(Stream.runCollect(Stream.take(bus.live(["first", "second"]), 3)))
        yield* Effect.sleep("100 millis")
        between = Effect.andThen(bus.publish("first", 1), bus.publish("second", 2))
        yield* bus.publish("second", 0)
        const events = [...(yield* Fiber.join(seen).pipe(Effect.timeout("10 seconds")))] as Array<Event>
        assert.deepStrictEqual(events.map((e) => e.payload), [0, 1, 2])
      }).pipe(Effect.provide(Bus.layer({ maintenance: false }).pipe(Layer.provideMerge(interleaved))))
    }))

  it.live("a failing read is tried again from where the stream stands: a delay, no error, no gap", () =>
    Effect.gen(function*() {
      let failing = 0
      const flaky = alteredStore(factory.fresh(), (store) => ({
        ...store,
        runtime: {
          ...store.runtime,
          readPage: (topic, after, limit, maxBytes) =>
            failing > 0
              ? Effect.andThen(Effect.sync(() => failing--), storeFailure("readPage", "connection reset"))
              : store.runtime.readPage(topic, after, limit, maxBytes)
        }
      }))
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const seen = yield* Effect.forkChild(Stream.runCollect(Stream.take(bus.live("t", { onStart: () => undefined }), 6)))
        yield* Effect.sleep("100 millis")
        yield* bus.publishAll([1, 2, 3].map((n) => ({ topic: "t", payload: n })))
        yield* Effect.sleep("100 millis")
        failing = 3
        yield* bus.publishAll([4, 5, 6].map((n) => ({ topic: "t", payload: n })))
        const events = [...(yield* Fiber.join(seen).pipe(Effect.timeout("10 seconds")))] as Array<Event>
        assert.deepStrictEqual(events.map((e) => e.payload), [1, 2, 3, 4, 5, 6])
        assert.strictEqual(failing, 0, "the reads failed meanwhile")
      }).pipe(Effect.provide(Bus.layer({ maintenance: false }).pipe(Layer.provideMerge(flaky))))
    }))

  it.live("a slow reader with a buffer of 2 loses nothing: it continues from the store", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        const seen: Array<number> = []
        const reader = yield* Effect.forkChild(
          a.live("jobs", { bufferSize: 2 }).pipe(
            Stream.take(300),
            Stream.runForEach((e) => Effect.andThen(Effect.sync(() => void seen.push((e.payload as { n: number }).n)), Effect.sleep("1 millis")))
          )
        )
        yield* Effect.sleep("100 millis")
        yield* b.publishAll(Array.from({ length: 300 }, (_, n) => ({ topic: "jobs", payload: { n } })))
        yield* Fiber.join(reader).pipe(Effect.timeout("20 seconds"))
        assert.deepStrictEqual(seen, Array.from({ length: 300 }, (_, n) => n))
      })))
})

describe.each(storeFactories)("live subscriptions, Promise API ($name)", (factory) => {
  it("rt.live is an async iterable that ends when the runtime closes", async () => {
    const location = factory.shared()
    const rt = await createRuntime({ db: location })
    const got: Array<unknown> = []
    const loop = (async () => {
      for await (const e of rt.live("orders")) got.push(e.payload)
    })()
    await new Promise((resolve) => setTimeout(resolve, 100))
    await rt.publish("orders", { id: 1 })
    await rt.publish("orders", { id: 2 })
    const deadline = Date.now() + 5000
    while (got.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    await rt.close()
    await loop
    assert.deepStrictEqual(got, [{ id: 1 }, { id: 2 }])
    await factory.drop(location)
  })
})
