/**
 * Retention and compaction on the Effect API, under TestClock, on a shared database of every store
 * factory (a real file on SQLite): the scheduled maintenance fiber (age, count, tombstones), slow
 * groups holding expired events back (`retainUntilConsumed`, the default) or losing them (counted
 * and logged), dead letters' events never deleted, seqs never reused, and refused input that
 * changes nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Layer, Logger } from "effect"
import type { BusOptions, BusShape } from "../../src/runtime/Bus.ts"
import { Bus } from "../../src/facade/Bus.ts"
import { type BusClosedError, BusOptionsError, type MaintenanceError } from "../../src/runtime/busErrors.ts"
import type { StoreError } from "../../src/store/storeErrors.ts"
import type { Event } from "../../src/store/records.ts"
import { advance, settle } from "../helpers/recorder.ts"
import { sharedDb, type StoreFactory, storeFactories } from "../helpers/stores.ts"
import { Store } from "../../src/store/Store.ts"

/** Runs `f` on a bus over a new shared database of `factory`, with the log lines collected in `logs`. */
const busOn = (factory: StoreFactory) => <A, E>(options: BusOptions, f: (bus: BusShape, logs: Array<string>) => Effect.Effect<A, E, Store>) =>
  Effect.gen(function*() {
    const location = yield* sharedDb(factory)
    const logs: Array<string> = []
    const logger = Logger.make((o) => {
      logs.push((Array.isArray(o.message) ? o.message : [o.message]).map(String).join(" "))
    })
    return yield* Effect.flatMap(Effect.service(Bus), (bus) => f(bus, logs)).pipe(
      Effect.provide(Bus.open(location, options).pipe(Layer.provideMerge(Logger.layer([logger]))), { local: true })
    )
  })

const payloads = (events: ReadonlyArray<Event>) => events.map((e) => e.payload)

describe.each(storeFactories)("retention ($name)", (factory) => {
  const withBus = busOn(factory)

  it.effect("the scheduled pruner deletes events older than maxAgeMs on its Clock interval; seqs are never reused", () =>
    withBus({ maintenance: { intervalMs: 1000 } }, (bus, logs) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("t", { retention: { maxAgeMs: 5000 } })
        for (const n of [1, 2, 3]) yield* bus.publish("t", n)
        yield* advance(3000)
        const last = yield* bus.publish("t", 4)
        yield* bus.publish("t", 5)
        yield* advance(2999)
        assert.deepStrictEqual(payloads(yield* bus.read("t", 0, 100)), [1, 2, 3, 4, 5], "nothing is older than 5 s yet")
        yield* advance(1)
        assert.deepStrictEqual(payloads(yield* bus.read("t", 0, 100)), [4, 5])
        assert.match(logs.join("\n"), /retention on t: deleted 3 expired event\(s\)/)
        yield* advance(3000)
        assert.deepStrictEqual(payloads(yield* bus.read("t", 0, 100)), [])
        const next = yield* bus.publish("t", 6)
        assert.isAbove(next.seq, last.seq + 1)
      })
    ))

  it.effect("by count: a slow group holds expired events back (retainUntilConsumed by default), then catches up skipping nothing", () =>
    withBus({ maintenance: false }, (bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("t", { retention: { maxCount: 3 } })
        const gate = yield* Deferred.make<void>()
        const handled: Array<unknown> = []
        yield* bus.subscribe("t", "g", (e) =>
          Effect.gen(function*() {
            if ((e.payload as number) >= 5) yield* Deferred.await(gate)
            handled.push(e.payload)
          }), { from: "earliest", maxInFlight: 1, ordering: "strict" })
        for (let n = 1; n <= 10; n++) yield* bus.publish("t", n)
        yield* advance(100)
        assert.deepStrictEqual(handled, [1, 2, 3, 4])

        const [held] = yield* bus.prune("t")
        assert.deepStrictEqual([held!.deleted, held!.waitingFor, held!.skipped], [4, "g", []])
        assert.deepStrictEqual(payloads(yield* bus.read("t", 0, 100)), [5, 6, 7, 8, 9, 10])

        yield* Deferred.succeed(gate, undefined)
        yield* advance(100)
        assert.deepStrictEqual(handled, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        const [done] = yield* bus.prune()
        assert.deepStrictEqual([done!.topic, done!.deleted, done!.waitingFor], ["t", 3, null])
        assert.deepStrictEqual(payloads(yield* bus.read("t", 0, 100)), [8, 9, 10])
        assert.deepStrictEqual((yield* (yield* Store).admin.groupPositions).map((p) => p.skipped), [0])
      })
    ))

  it.effect("retainUntilConsumed false: deleted anyway, the group goes on from the oldest remaining event, the skip is logged and counted", () =>
    withBus({ maintenance: false }, (bus, logs) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("t", { retention: { maxCount: 3, retainUntilConsumed: false } })
        const gate = yield* Deferred.make<void>()
        const handled: Array<number> = []
        yield* bus.subscribe("t", "g", (e) =>
          Effect.andThen(Deferred.await(gate), Effect.sync(() => handled.push(e.payload as number))), {
          from: "earliest", maxInFlight: 1, batchSize: 1, ordering: "strict"
        })
        for (let n = 1; n <= 10; n++) yield* bus.publish("t", n)
        yield* advance(100)

        const [r] = yield* bus.prune("t")
        assert.deepStrictEqual([r!.deleted, r!.skipped, r!.waitingFor], [7, [{ group: "g", events: 7 }], null])
        assert.match(logs.join("\n"), /retention on t deleted 7 event\(s\) group g had not processed \(retainUntilConsumed: false\); it goes on from the oldest remaining event/)
        assert.deepStrictEqual((yield* (yield* Store).admin.groupPositions).map((p) => [p.cursor.group, p.skipped]), [["g", 7]])

        yield* Deferred.succeed(gate, undefined)
        yield* advance(100)
        // What it had fetched before the deletion it still handles; then it reads on from what remains.
        assert.deepStrictEqual(handled.slice(-3), [8, 9, 10])
        assert.deepStrictEqual(handled, [...handled].sort((a, b) => a - b))
        assert.isAtMost(handled.length, 10 - 7 + 2)
        const head = yield* (yield* Store).runtime.headSeq("t")
        assert.strictEqual(yield* bus.getCursor("t", "g"), head)
      })
    ))

  it.effect("dead letters' events survive retention and compaction; requeued, they are delivered again intact", () =>
    withBus({ maintenance: false }, (bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("log", { retention: { maxCount: 1, retainUntilConsumed: false } })
        yield* bus.defineTopic("state", { compaction: true, deleteRetentionMs: 0 })
        const seen: Array<string> = []
        let failing = true
        const handler = (e: Event) =>
          Effect.suspend(() => {
            seen.push(`${e.topic}:${JSON.stringify(e.payload)}`)
            return failing && (e.payload === "bad" || (e.payload as { v?: number } | null)?.v === 1) ? Effect.fail(new Error("poison")) : Effect.void
          })
        yield* bus.subscribe(["log", "state"], "g", handler, { from: "earliest", maxAttempts: 1 })
        yield* bus.publishAll([
          { topic: "log", payload: "bad" }, { topic: "log", payload: "ok-1" }, { topic: "log", payload: "ok-2" },
          { topic: "state", payload: { v: 1 }, key: "a" }, { topic: "state", payload: { v: 2 }, key: "a" },
          { topic: "state", payload: { v: 3 }, key: "a" }, { topic: "state", payload: null, key: "b" }
        ])
        yield* advance(100)
        assert.deepStrictEqual((yield* bus.deadLetters()).map((d) => d.topic).sort(), ["log", "state"])

        const [pruned] = yield* bus.prune("log")
        assert.deepStrictEqual([pruned!.deleted, pruned!.kept], [1, 1])
        assert.deepStrictEqual(payloads(yield* bus.read("log", 0, 10)), ["bad", "ok-2"])
        const [compacted] = yield* bus.compact("state")
        assert.deepStrictEqual([compacted!.superseded, compacted!.tombstones, compacted!.kept], [1, 1, 1])
        assert.deepStrictEqual(payloads(yield* bus.read("state", 0, 10)), [{ v: 1 }, { v: 3 }])
        assert.deepStrictEqual([...(yield* (yield* Store).runtime.latestByKey("state", ["a", "b"])).entries()].map(([k, e]) => [k, e.payload]), [["a", { v: 3 }]])

        failing = false
        seen.length = 0
        assert.strictEqual(yield* bus.requeue("g", "all"), 2)
        yield* advance(100)
        assert.deepStrictEqual(seen.sort(), ["log:\"bad\"", "state:{\"v\":1}"])
        assert.deepStrictEqual(yield* bus.deadLetters(), [])
      })
    ))
})

describe.each(storeFactories)("compaction on the schedule ($name)", (factory) => {
  const withBus = busOn(factory)

  it.effect("tombstones (null payloads, allowed past a schema) read as absent at once and disappear after deleteRetentionMs", () =>
    withBus({ maintenance: { intervalMs: 1000, batchSize: 2 } }, (bus, logs) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("state", {
          compaction: true, deleteRetentionMs: 10_000, keyField: "pid",
          validate: (p) => (typeof p === "object" && p !== null && typeof (p as { pid?: unknown }).pid === "number" ? undefined : "needs a pid")
        })
        const seen: Array<unknown> = []
        yield* bus.subscribe("state", "watcher", (e) => Effect.sync(() => seen.push(e.payload)), { from: "earliest" })
        for (let i = 0; i < 5; i++) yield* bus.publish("state", { pid: 1, n: i })
        yield* bus.publish("state", { pid: 2, n: 0 })
        yield* bus.publish("state", null, { key: "2" })
        assert.deepStrictEqual([...(yield* (yield* Store).runtime.latestByKey("state", ["1", "2"])).keys()], ["1"])
        yield* advance(1000)
        assert.strictEqual(seen.length, 7, "the group saw every event, the tombstone too")
        assert.deepStrictEqual(payloads(yield* bus.read("state", 0, 100)), [{ pid: 1, n: 4 }, null])
        assert.match(logs.join("\n"), /compacted state: deleted 5 superseded event\(s\) and 0 tombstone\(s\) in \d+ transaction\(s\)/)
        yield* advance(9000)
        assert.deepStrictEqual(payloads(yield* bus.read("state", 0, 100)), [{ pid: 1, n: 4 }], "the tombstone is gone, and with it key 2")
        assert.deepStrictEqual([...(yield* (yield* Store).runtime.latestByKey("state", ["1", "2"])).keys()], ["1"])
      })
    ))

  it.effect("a group that has not processed superseded events keeps them until it has", () =>
    withBus({ maintenance: { intervalMs: 500 } }, (bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("state", { compaction: true })
        const gate = yield* Deferred.make<void>()
        const seen: Array<unknown> = []
        yield* bus.subscribe("state", "slow", (e) => Effect.andThen(Deferred.await(gate), Effect.sync(() => seen.push(e.payload))), {
          from: "earliest", maxInFlight: 1
        })
        for (let i = 0; i < 6; i++) yield* bus.publish("state", i, { key: "k" })
        yield* advance(2000)
        assert.strictEqual((yield* bus.read("state", 0, 100)).length, 6)
        yield* Deferred.succeed(gate, undefined)
        yield* advance(500)
        assert.deepStrictEqual(seen, [0, 1, 2, 3, 4, 5])
        assert.deepStrictEqual(payloads(yield* bus.read("state", 0, 100)), [5])
      })
    ))
})

describe.each(storeFactories)("refused input changes nothing ($name)", (factory) => {
  const withBus = busOn(factory)

  it.effect("compact and prune of an unknown topic, or one without the setting, fail with MaintenanceError", () =>
    withBus({ maintenance: false }, (bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("plain")
        yield* bus.defineTopic("state", { compaction: true })
        yield* bus.publish("plain", 1)
        yield* bus.publish("undefined", 1)
        yield* bus.publish("state", 1, { key: "k" })
        yield* bus.publish("state", 2, { key: "k" })
        const messages = []
        const runs: ReadonlyArray<Effect.Effect<unknown, MaintenanceError | StoreError | BusClosedError>> = [
          bus.compact("nope"), bus.compact("plain"), bus.prune("state"), bus.prune("undefined")
        ]
        for (const run of runs) {
          const e = yield* Effect.flip(run)
          assert.strictEqual(e._tag, "MaintenanceError")
          messages.push(e.message)
        }
        assert.deepStrictEqual(messages, [
          "cannot compact \"nope\": there is no topic of that name (see sib topics)",
          "cannot compact \"plain\": the topic is not compacted: define it with compaction: true",
          "cannot prune \"state\": the topic is not under retention: define it with retention: { maxAgeMs, maxCount }",
          "cannot prune \"undefined\": the topic is not under retention: define it with retention: { maxAgeMs, maxCount }"
        ])
        assert.strictEqual((yield* bus.read("state", 0, 10)).length, 2)
        assert.deepStrictEqual(yield* bus.prune(), [])
      })
    ))

  it.effect("bad retention and tombstone settings are refused with a TopicError and store nothing", () =>
    withBus({ maintenance: false }, (bus) =>
      Effect.gen(function*() {
        const cases: Array<[unknown, RegExp]> = [
          [{ retention: { maxAgeMs: 0 } }, /retention\.maxAgeMs must be a positive integer \(milliseconds\), got 0/],
          [{ retention: { maxCount: 1.5 } }, /retention\.maxCount must be a positive integer, got 1\.5/],
          [{ retention: { maxCount: 3, retainUntilConsumed: "no" } }, /retention\.retainUntilConsumed must be true or false, got "no"/],
          [{ retention: { maxCount: 3, maxAge: 5 } }, /unknown option "maxAge" in retention; valid options: maxAgeMs, maxCount, retainUntilConsumed/],
          [{ retention: { retainUntilConsumed: false } }, /retention needs maxAgeMs or maxCount/],
          [{ compaction: true, deleteRetentionMs: -1 }, /deleteRetentionMs must be an integer >= 0 \(milliseconds\), got -1/],
          [{ deleteRetentionMs: 1000 }, /deleteRetentionMs applies to tombstones on a compacted topic: set compaction: true/]
        ]
        for (const [options, message] of cases) {
          const e = yield* Effect.flip(bus.defineTopic("t", options as never))
          assert.strictEqual(e._tag, "TopicError")
          assert.match(e.message, message)
        }
        assert.deepStrictEqual(yield* (yield* Store).runtime.topics, [])
        const ok = yield* bus.defineTopic("t", { compaction: true, deleteRetentionMs: 0, retention: { maxAgeMs: 10, retainUntilConsumed: false } })
        assert.strictEqual(ok.name, "t")
        assert.deepStrictEqual((yield* (yield* Store).runtime.topics)[0]!.config, {
          compaction: true, deleteRetentionMs: 0, retention: { maxAgeMs: 10, retainUntilConsumed: false }
        })
      })
    ))

  it.effect("invalid maintenance (or other bus) options stop the bus from starting, with a typed error", () =>
    Effect.gen(function*() {
      const cases = [
        [{ maintenance: { batchSize: 0 } }, /^invalid bus options: maintenance\.batchSize must be an integer from 1 to 100000, got 0$/],
        [{ pollIntervalMs: -5 }, /^invalid bus options: pollIntervalMs must be a positive integer \(milliseconds\), got -5$/]
      ] as const
      for (const [options, message] of cases) {
        const exit = yield* Effect.exit(Effect.service(Bus).pipe(Effect.provide(Bus.open(factory.fresh(), options), { local: true })))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = Cause.squash(exit.cause)
          assert.instanceOf(error, BusOptionsError)
          assert.match((error as Error).message, message)
        }
      }
      yield* settle
    }))
})
