/**
 * Publishing: validation before any write, idempotency by id, atomic batches, topic schemas. On
 * every store factory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import { PublishError } from "../../src/runtime/busErrors.ts"
import { Store } from "../../src/store/Store.ts"
import { type StoreFactory, storeFactories } from "../helpers/stores.ts"

/** Runs `f` on a bus over a fresh database of `factory`. */
const busOn = (factory: StoreFactory) => <A, E>(f: (bus: Bus["Service"]) => Effect.Effect<A, E, Store>, options: { maxPayloadBytes?: number } = {}) =>
  Effect.flatMap(Effect.service(Bus), f).pipe(Effect.provide(Bus.open(factory.fresh(), options), { local: true }))

const countAll = Effect.gen(function*() {
  const store = yield* Store
  const topics = ["t", "orders", "bad topic", "x"]
  let n = 0
  for (const t of topics) n += (yield* store.admin.readTopic(t, 0, 10_000)).length
  return n
})

describe.each(storeFactories)("publish ($name)", (factory) => {
  const withBus = busOn(factory)

  it.effect("returns the stored record with seq, id, ts from the clock, and the options given", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const e = yield* bus.publish("orders", { sku: "A-1", qty: 2 }, { key: "cust-7", headers: { traceparent: "00-ab" }, tags: ["vip"], causedBy: "cause-1" })
        assert.strictEqual(e.seq, 1)
        assert.strictEqual(e.ts, 0, "TestClock time")
        assert.match(e.id, /^[0-9a-f-]{36}$/)
        assert.deepStrictEqual(
          { ...e, id: "", sid: "" },
          { id: "", seq: 1, ts: 0, topic: "orders", key: "cust-7", headers: { traceparent: "00-ab" }, payload: { sku: "A-1", qty: 2 }, causedBy: ["cause-1"], tags: ["vip"], sid: "" }
        )
        assert.strictEqual(e.sid, bus.sid)
        const [stored] = yield* bus.read("orders", 0, 10)
        assert.deepStrictEqual(stored, e)
      })
    ))

  it.effect("is idempotent by id: the second publish writes nothing and returns the first record", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const first = yield* bus.publish("t", { v: 1 }, { id: "fixed-id" })
        const second = yield* bus.publish("t", { v: 2 }, { id: "fixed-id" })
        assert.deepStrictEqual(second, first)
        assert.strictEqual((yield* bus.read("t", 0, 10)).length, 1)
      })
    ))

  it.effect("an id names one event across topics: reusing it on another topic is refused and writes nothing, alone, in a batch or beside other publishers", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const first = yield* bus.publish("t", { v: 1 }, { id: "fixed-id" })
        const alone = yield* Effect.flip(bus.publish("x", { v: 2 }, { id: "fixed-id" }))
        assert.instanceOf(alone, PublishError)
        assert.strictEqual(alone.reason, "id")
        assert.strictEqual(alone.message, `cannot publish to "x": the id "fixed-id" already names event #1 of topic "t" (an id names one event across all topics; publishing it again is idempotent on its own topic only)`)
        // In a batch: the whole batch is refused, naming the item; its other events are not written.
        const batch = yield* Effect.flip(bus.publishAll([{ topic: "x", payload: 1, id: "new-id" }, { topic: "orders", payload: 2, id: "fixed-id" }]))
        assert.instanceOf(batch, PublishError)
        assert.strictEqual(batch.item, 1)
        assert.match(batch.message, /item 1 of 2: the id "fixed-id" already names event #1 of topic "t"/)
        // One id twice in a batch, on two topics.
        const twice = yield* Effect.flip(bus.publishAll([{ topic: "x", payload: 1, id: "twice" }, { topic: "t", payload: 2, id: "twice" }]))
        assert.match(twice.message, /item 1 of 2: the id "twice" is given to two events of one transaction, on topics "x" and "t"/)
        // Concurrent publishers sharing its commit are not failed by it.
        const results = yield* Effect.all([
          bus.publish("orders", { n: 1 }),
          Effect.flip(bus.publish("orders", { n: 2 }, { id: "fixed-id" })),
          bus.publish("orders", { n: 3 })
        ], { concurrency: "unbounded" })
        assert.strictEqual((results[1] as PublishError).reason, "id")
        assert.deepStrictEqual((yield* bus.read("orders", 0, 10)).map((e) => e.payload), [{ n: 1 }, { n: 3 }])
        assert.strictEqual(yield* countAll, 3)
        assert.deepStrictEqual(yield* bus.publish("t", { v: 3 }, { id: "fixed-id" }), first)
        // The NUL character: Postgres text cannot hold it, so neither dialect takes it in an id or key.
        const nulId = yield* Effect.flip(bus.publish("t", 1, { id: "a\u0000b" }))
        assert.strictEqual(nulId.message, `cannot publish to "t": id contains the NUL character (U+0000), which the database cannot store`)
        const nulKey = yield* Effect.flip(bus.publish("t", 1, { key: "a\u0000b" }))
        assert.strictEqual(nulKey.message, `cannot publish to "t": key contains the NUL character (U+0000), which the database cannot store`)
        assert.strictEqual(yield* countAll, 3)
        // Lengths are characters: 1024 emoji are a key of 1024 characters (2048 UTF-16 units).
        const emojiKey = yield* bus.publish("t", 9, { key: "\u{1F600}".repeat(1024), id: "\u{1F600}".repeat(255) })
        assert.strictEqual(emojiKey.key, "\u{1F600}".repeat(1024))
        assert.match((yield* Effect.flip(bus.publish("t", 9, { key: "\u{1F600}".repeat(1025) }))).message, /key must be a string of at most 1024 characters, got 1025 characters/)
        assert.match((yield* Effect.flip(bus.publish("t", 9, { key: null as never }))).message, /got null \(leave key out for an event without a key\)/)
      })
    ))

  it.effect("publishAll writes the whole batch in order, or nothing when one item is bad", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const events = yield* bus.publishAll([
          { topic: "t", payload: 1 }, { topic: "x", payload: 2, key: "k" }, { topic: "t", payload: 3 }
        ])
        assert.deepStrictEqual(events.map((e) => [e.seq, e.topic, e.payload]), [[1, "t", 1], [2, "x", 2], [3, "t", 3]])
        const error = yield* Effect.flip(bus.publishAll([{ topic: "t", payload: 4 }, { topic: "t", payload: NaN }]))
        assert.instanceOf(error, PublishError)
        assert.match(error.message, /item 1 of 2: payload is NaN/)
        assert.strictEqual(yield* countAll, 3)
        assert.deepStrictEqual(yield* bus.publishAll([]), [])
      })
    ))

  it.effect("concurrent publishes each resolve with their own record and distinct seqs", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        const events = yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => bus.publish("t", { i }), { concurrency: 64 })
        assert.deepStrictEqual(events.map((e) => e.payload), Array.from({ length: 200 }, (_, i) => ({ i })))
        assert.strictEqual(new Set(events.map((e) => e.seq)).size, 200)
        const stored = yield* bus.read("t", 0, 1000)
        for (const e of events) assert.deepStrictEqual(stored.find((s) => s.seq === e.seq)?.payload, e.payload)
      })
    ))

  describe("refuses bad input with a PublishError and writes nothing", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.me = cyclic
    const bad: Array<[string, string, unknown, Record<string, unknown> | undefined, RegExp]> = [
      ["empty topic", "", 1, undefined, /topic name cannot be empty/],
      ["topic with a space", "bad topic", 1, undefined, /may contain only letters, digits.*" "/],
      ["topic too long", "a".repeat(256), 1, undefined, /at most 255 characters/],
      ["undefined payload", "t", undefined, undefined, /payload is undefined/],
      ["function in payload", "t", { f: () => 0 }, undefined, /payload\.f is a function/],
      ["symbol payload", "t", Symbol("s"), undefined, /payload is a symbol/],
      ["BigInt", "t", { n: 1n }, undefined, /BigInt/],
      ["NaN", "t", [NaN], undefined, /payload\[0\] is NaN/],
      ["Infinity", "t", { x: -Infinity }, undefined, /-Infinity/],
      ["cycle", "t", cyclic, undefined, /refers back to itself/],
      ["class instance", "t", new Date(), undefined, /Date/],
      ["too large", "t", { s: "x".repeat(2000) }, undefined, /over the limit of 1024 bytes/],
      ["too large in UTF-8", "t", { s: "é".repeat(600) }, undefined, /over the limit of 1024 bytes/],
      ["non-string header", "t", 1, { headers: { n: 1 } }, /header "n" must be a string/],
      ["headers not a map", "t", 1, { headers: ["a"] }, /headers must be a plain object/],
      ["non-string key", "t", 1, { key: 5 }, /key must be a string/],
      ["tags not strings", "t", 1, { tags: [1] }, /tags must be an array of strings/],
      ["causedBy not ids", "t", 1, { causedBy: [1] }, /causedBy must be an event id/],
      ["empty id", "t", 1, { id: "" }, /id must be a non-empty string/],
      ["unknown option", "t", 1, { kye: "x" }, /unknown publish option "kye"; valid options: id, key, headers, tags, causedBy/]
    ]
    for (const [name, topic, payload, options, pattern] of bad) {
      it.effect(name, () =>
        withBus((bus) =>
          Effect.gen(function*() {
            const error = yield* Effect.flip(bus.publish(topic, payload, options as never))
            assert.instanceOf(error, PublishError)
            assert.match(error.message, pattern)
            assert.match(error.message, /^cannot publish to /)
            assert.strictEqual(yield* countAll, 0)
          }), { maxPayloadBytes: 1024 }))
    }
  })

  it.effect("a topic's schema is checked on publish; compacted topics require a key; partitions come from the key", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("orders", {
          schema: Schema.Struct({ sku: Schema.String, qty: Schema.Int }),
          partitions: 4
        })
        const ok = yield* bus.publish("orders", { sku: "a", qty: 1 }, { key: "k1" })
        assert.isTrue(ok.partition !== undefined && ok.partition >= 0 && ok.partition < 4)
        const again = yield* bus.publish("orders", { sku: "b", qty: 2 }, { key: "k1" })
        assert.strictEqual(again.partition, ok.partition, "same key, same partition")
        const error = yield* Effect.flip(bus.publish("orders", { sku: "a", qty: 1.5 }))
        assert.strictEqual(error._tag, "PublishError")
        assert.match(error.message, /does not match the topic's schema.*qty/s)
        yield* bus.defineTopic("state", { compaction: true })
        const keyless = yield* Effect.flip(bus.publish("state", { up: true }))
        assert.match(keyless.message, /compacted, so every event needs a key/)
        assert.strictEqual((yield* bus.read("orders", 0, 10)).length, 2)
        assert.strictEqual((yield* bus.read("state", 0, 10)).length, 0)
      })
    ))

  it.effect("defineTopic refuses bad names and options", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        assert.match((yield* Effect.flip(bus.defineTopic("no/slash"))).message, /may contain only/)
        assert.match((yield* Effect.flip(bus.defineTopic("t", { partitions: 0 }))).message, /partitions must be an integer from 1 to 65536, got 0/)
        assert.match((yield* Effect.flip(bus.defineTopic("t", { retention: { maxAgeMs: -1 } }))).message, /maxAgeMs/)
        assert.match((yield* Effect.flip(bus.defineTopic("t", { retain: 1 } as never))).message, /unknown option "retain"/)
      })
    ))

  it.effect("a topic's partition count is fixed once it has events, also when they came without a definition", () =>
    withBus((bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("p1", { partitions: 1 })
        yield* bus.publish("p1", 1, { key: "k" })
        assert.match((yield* Effect.flip(bus.defineTopic("p1", { partitions: 4, redefine: true }))).message, /its partitions cannot change once it has events \(stored 1, defined 4\)/)
        yield* bus.publish("q", 1, { key: "k" })
        assert.match((yield* Effect.flip(bus.defineTopic("q", { partitions: 4 }))).message, /its partitions cannot change once it has events \(stored none: its events were published without a definition, defined 4\)/)
        assert.isUndefined((yield* bus.publish("q", 2, { key: "k" })).partition)
        // Without events, or keeping one partition, it may be defined.
        yield* bus.defineTopic("fresh", { partitions: 4 })
        yield* bus.defineTopic("q", { retention: { maxAgeMs: 60_000 } })
      })
    ))
})
