/**
 * Topic definitions every process obeys (issue 11, items 4 and 5): a payload schema is stored with
 * the topic and checked by every publisher; a definition that differs from the stored settings is
 * refused with the differences unless it says `redefine`; a program whose start is refused writes
 * nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import { loadProgram } from "../../src/program/load.ts"
import { startProgram } from "../../src/program/start.ts"
import type { BusShape } from "../../src/runtime/Bus.ts"
import { Inspect } from "../../src/runtime/Inspect.ts"
import { storeFactories } from "../helpers/stores.ts"

const failure = <A, E>(exit: Exit.Exit<A, E>) => (Exit.isFailure(exit) ? String(exit.cause) : "succeeded")

describe.each(storeFactories)("topic definitions across processes ($name)", (factory) => {
  /** Runs `f` with two buses on one database, as two processes would have. */
  const twoProcesses = <A, E>(f: (a: BusShape, b: BusShape) => Effect.Effect<A, E, Inspect>) =>
    Effect.gen(function*() {
      const location = factory.shared()
      const open = <X, Y, R>(g: (bus: BusShape) => Effect.Effect<X, Y, R>) =>
        Effect.flatMap(Effect.service(Bus), g).pipe(Effect.provide(Bus.open(location, { maintenance: false }), { local: true }))
      return yield* open((a) => open((b) => f(a, b).pipe(Effect.provide(Inspect.layer))))
    })

  it.live("a declared schema is stored and checked by a process that did not define the topic; optional fields accept nil", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      const onBus = <X, Y>(g: (bus: BusShape) => Effect.Effect<X, Y, Inspect>) =>
        Effect.flatMap(Effect.service(Bus), g).pipe(Effect.provide(Inspect.layer), Effect.provide(Bus.open(location, { maintenance: false }), { local: true }))
      yield* onBus((a) => a.defineTopic("orders", { payloadSchema: { id: "int", "note?": "string", lines: [{ sku: "string" }] } }))
      yield* onBus((c) =>
        Effect.gen(function*() {
          const stored = (yield* (yield* Inspect).topics).find((t) => t.name === "orders")
          assert.deepStrictEqual(stored?.settings.schema, { id: "int", "note?": "string", lines: [{ sku: "string" }] })
          assert.match(failure(yield* Effect.exit(c.publish("orders", { id: 1.5, lines: [] }))), /payload does not match the topic's schema: id must be an integer, got number/)
          assert.match(failure(yield* Effect.exit(c.publish("orders", { id: 1, lines: [{ sku: 7 }] }))), /lines\[0\]\.sku must be a string, got number/)
          assert.match(failure(yield* Effect.exit(c.publish("orders", { id: null, lines: [] }))), /id must not be nil/)
          yield* c.publish("orders", { id: 1, note: null, lines: [{ sku: "a" }] })
          yield* c.publish("orders", { id: 2, lines: [] })
          assert.strictEqual((yield* c.read("orders", 0, 10)).length, 2, "the refused publishes wrote nothing")
        }))
    }))

  it.live("an Effect Schema is stored as its description, or as opaque when it says nothing describable", () =>
    twoProcesses((a) =>
      Effect.gen(function*() {
        yield* a.defineTopic("users", { schema: Schema.Struct({ id: Schema.Int, name: Schema.String, email: Schema.optional(Schema.String) }) })
        yield* a.defineTopic("blobs", { schema: Schema.Union([Schema.String, Schema.Number]) })
        yield* a.defineTopic("checked", { validate: (p) => (p === 1 ? undefined : "must be 1") })
        // One too large to store (every publish in every process checks all of it) is opaque too.
        yield* a.defineTopic("wide", { schema: Schema.Struct(Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`f${i}`, Schema.String]))) })
        const byName = new Map((yield* (yield* Inspect).topics).map((t) => [t.name, t.settings.schema]))
        assert.strictEqual(byName.get("wide"), "opaque")
        assert.deepStrictEqual(byName.get("users"), { id: "int", name: "string", "email?": "string" })
        assert.strictEqual(byName.get("blobs"), "opaque")
        assert.strictEqual(byName.get("checked"), "opaque")
      })))

  it.live("a declared schema holds at most 1,000 types and nests at most 32 deep", () =>
    twoProcesses((a) =>
      Effect.gen(function*() {
        const wide = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`f${i}?`, "string"]))
        assert.match(failure(yield* Effect.exit(a.defineTopic("wide", { payloadSchema: wide }))), /a schema holds at most 1000 types \(fields and item types together\): every publish checks them all/)
        let deep: unknown = "int"
        for (let i = 0; i < 40; i++) deep = [deep]
        assert.match(failure(yield* Effect.exit(a.defineTopic("deep", { payloadSchema: deep as never }))), /a schema nests at most 32 maps and vectors deep/)
        yield* a.defineTopic("fine", { payloadSchema: Object.fromEntries(Array.from({ length: 999 }, (_, i) => [`f${i}?`, "string"])) })
        // The work of one check is bounded too: a payload's vectors multiply with its items' fields.
        const item = Object.fromEntries(Array.from({ length: 990 }, (_, i) => [`f${i}?`, "string"]))
        yield* a.defineTopic("costly", { payloadSchema: { x: [item] } })
        yield* a.publish("costly", { x: Array.from({ length: 500 }, () => ({})) })
        const started = Date.now()
        assert.match(failure(yield* Effect.exit(a.publish("costly", { x: Array.from({ length: 150_000 }, () => ({})) }))), /checking the payload against the topic's schema takes more than 1,000,000 steps/)
        assert.isBelow(Date.now() - started, 2000)
        assert.match(failure(yield* Effect.exit(a.publish("costly", { x: [{}, { f3: 7 }] }))), /x\[1\]\.f3 must be a string, got number/)
      })))

  it.live("every publisher checks the stored schema: a second bus opened on the database refuses what the definer refuses", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      const onBus = <X, Y>(g: (bus: BusShape) => Effect.Effect<X, Y>) =>
        Effect.flatMap(Effect.service(Bus), g).pipe(Effect.provide(Bus.open(location, { maintenance: false }), { local: true }))
      yield* onBus((a) => a.defineTopic("orders", { payloadSchema: { id: "int" } }))
      yield* onBus((b) =>
        Effect.gen(function*() {
          assert.match(failure(yield* Effect.exit(b.publish("orders", { id: "x" }))), /id must be an integer, got string/)
          assert.match(failure(yield* Effect.exit(b.publishAll([{ topic: "orders", payload: { id: 1 } }, { topic: "orders", payload: {} }]))), /item 1 of 2: .*id is missing/)
          assert.deepStrictEqual(yield* b.read("orders", 0, 10), [])
        }))
    }))

  it.live("a bus that was already open learns a definition made elsewhere within its poll interval", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        yield* b.publish("orders", { id: "before" })
        yield* a.defineTopic("orders", { payloadSchema: { id: "int" } })
        yield* Effect.sleep(200)
        assert.match(failure(yield* Effect.exit(b.publish("orders", { id: "after" }))), /id must be an integer, got string/)
      })))

  it.live("a definition that differs from the stored settings is refused with the differences, unless it says redefine", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        yield* a.defineTopic("jobs", { retention: { maxCount: 100 }, payloadSchema: { id: "int" } })
        yield* b.defineTopic("jobs", { retention: { maxCount: 100 }, payloadSchema: { id: "int" } })
        const refused = yield* Effect.exit(b.defineTopic("jobs", { retention: { maxCount: 50 }, compaction: true, keyField: "id", payloadSchema: { id: "string" } }))
        assert.match(failure(refused), /cannot define topic "jobs": its stored settings differ \(compaction: stored false, defined true; keyField: stored none, defined "id"; retention.maxCount: stored 100, defined 50; schema: stored \{id: int\}, defined \{id: string\}\): define it as stored, or redefine it \(redefine: true; in \.sib :redefine true\) to replace them/)
        const inspect = yield* Inspect
        assert.strictEqual((yield* inspect.topics).find((t) => t.name === "jobs")?.settings.retention?.maxCount, 100, "nothing changed")
        yield* b.defineTopic("jobs", { retention: { maxCount: 50 }, redefine: true })
        const after = (yield* inspect.topics).find((t) => t.name === "jobs")!.settings
        assert.deepStrictEqual([after.retention?.maxCount, after.schema], [50, undefined])
      })))

  it.live("a program whose start is refused after loading writes nothing: no topic settings, no cursor, no event", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        // Another process made "orders" compacted: a publish needs a key.
        yield* a.defineTopic("orders", { compaction: true })
        const program = yield* loadProgram([{
          file: "p.sib",
          text: `(define-topic "audit" {:retention {:maxCount 10}})\n(subscribe! "audit" "auditor" (fn [e] nil) :from "earliest")\n(publish! "orders" {:id 1})\n`
        }])
        const exit = yield* Effect.exit(Effect.scoped(startProgram(program, b)))
        // Shown where the program wrote it.
        assert.match(failure(exit), /cannot publish to "orders": p\.sib:3:1: the topic is compacted/)
        const inspect = yield* Inspect
        assert.deepStrictEqual((yield* inspect.topics).map((t) => t.name), ["orders"])
        assert.deepStrictEqual(yield* inspect.groups, [])
        assert.deepStrictEqual(b.groups(), [])
        assert.deepStrictEqual(yield* b.read("orders", 0, 10), [])
      })))

  it.live("a program's definition that differs from the stored settings is refused where the program wrote it, before anything starts", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        yield* a.defineTopic("jobs", { retention: { maxCount: 100 } })
        const program = yield* loadProgram([{
          file: "jobs.sib",
          text: `(subscribe! "jobs" "worker" (fn [e] nil) :from "earliest")\n;; the producer's settings, misremembered\n(define-topic "jobs" {:maxCount 50})\n`
        }])
        const exit = yield* Effect.exit(Effect.scoped(startProgram(program, b)))
        assert.match(failure(exit), /cannot define topic "jobs": jobs\.sib:3:1: its stored settings differ \(retention\.maxCount: stored 100, defined 50\)/)
        assert.deepStrictEqual(yield* (yield* Inspect).groups, [], "no cursor of worker")
        assert.deepStrictEqual(b.groups(), [])
      })))

  it.live("a start position naming an event that does not exist refuses the start before anything is written", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        yield* a.publish("other", {})
        const program = yield* loadProgram([{
          file: "f.sib",
          text: `(define-topic "newt" {:retentionDays 1})\n(subscribe! "newt" "g1" (fn [e] nil) :from "earliest")\n(publish! "newt" {:a 1})\n(subscribe! "other" "g2" (fn [e] nil) :from "id:does-not-exist")\n`
        }])
        const exit = yield* Effect.exit(Effect.scoped(startProgram(program, b)))
        assert.match(failure(exit), /cannot subscribe group "g2": f\.sib:4:1: from: no event has the id "does-not-exist"/)
        const inspect = yield* Inspect
        assert.deepStrictEqual((yield* inspect.topics).map((t) => t.name), ["other"], "no settings of newt")
        assert.deepStrictEqual(yield* inspect.groups, [], "no cursor of g1")
        assert.deepStrictEqual(yield* b.read("newt", 0, 10), [])
      })))

  it.live("a definition without settings names the topic as stored; defaults and descriptions are not differences", () =>
    twoProcesses((a, b) =>
      Effect.gen(function*() {
        yield* a.defineTopic("jobs", { retention: { maxCount: 100 }, compaction: true, payloadSchema: { id: "string" }, description: "the jobs" })
        // A consumer names the topic only: it gets the stored settings, and they stay stored.
        yield* b.defineTopic("jobs")
        yield* b.defineTopic("jobs", { description: "jobs, as the consumer sees them" })
        assert.match(failure(yield* Effect.exit(b.publish("jobs", { id: 7 }, { key: "k" }))), /id must be a string/)
        assert.match(failure(yield* Effect.exit(b.publish("jobs", { id: "a" }))), /compacted/)
        const settings = (yield* (yield* Inspect).topics).find((t) => t.name === "jobs")!.settings
        assert.deepStrictEqual([settings.retention?.maxCount, settings.compaction, settings.description], [100, true, "the jobs"])
        // retainUntilConsumed true is the default: writing it is no difference.
        yield* b.defineTopic("jobs", { retention: { maxCount: 100, retainUntilConsumed: true }, compaction: true, payloadSchema: { id: "string" }, description: "other words" })
      })))
})
