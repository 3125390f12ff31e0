/**
 * Deleting consumer groups, purging and deleting topics (issue 11, item 6); operations on a group
 * refusing a name that has no state at all; on every dialect.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import { GroupError } from "../../src/runtime/busErrors.ts"
import type { BusShape } from "../../src/runtime/Bus.ts"
import * as InspectModule from "../../src/runtime/Inspect.ts"
import { Inspect } from "../../src/runtime/Inspect.ts"
import { Store } from "../../src/store/Store.ts"
import { storeFactories } from "../helpers/stores.ts"

/** A group "g" on "t" that handled every event and dead-lettered the one with payload "bad". */
const consumed = (bus: BusShape) =>
  Effect.gen(function*() {
    yield* bus.publishAll([1, "bad", 3].map((payload) => ({ topic: "t", payload })))
    const done = yield* Deferred.make<void>()
    let seen = 0
    const sub = yield* bus.subscribe("t", "g", (e) =>
      Effect.suspend(() => (++seen >= 3 ? Deferred.succeed(done, undefined) : Effect.void)).pipe(
        Effect.andThen(e.payload === "bad" ? Effect.fail("bad payload") : Effect.void)
      ), { from: "earliest", maxAttempts: 1 })
    yield* Deferred.await(done)
    while ((yield* bus.deadLetters({ group: "g" })).length === 0) yield* Effect.sleep(1)
    yield* sub.unsubscribe
  })

const failureText = <A, E>(exit: Exit.Exit<A, E>) => (Exit.isFailure(exit) ? String(exit.cause) : "succeeded")

describe.each(storeFactories)("deleting groups and topics ($name)", (factory) => {
  const onBus = <A, E>(location: string, f: (bus: BusShape) => Effect.Effect<A, E, Inspect>) =>
    Effect.flatMap(Effect.service(Bus), f).pipe(Effect.provide(Inspect.layer), Effect.provide(Bus.open(location, { maintenance: false }), { local: true }))

  it.live("deleteGroup removes the group's cursors, dead letters and lease; a second delete finds nothing", () =>
    onBus(factory.fresh(), (bus) =>
      Effect.gen(function*() {
        yield* consumed(bus)
        const inspect = yield* Inspect
        assert.deepStrictEqual((yield* inspect.groups).map((g) => g.cursor.group), ["g"])
        const deleted = yield* bus.deleteGroup("g")
        assert.deepStrictEqual(deleted, { cursors: 1, deliveries: 0, deadLetters: 1 })
        assert.deepStrictEqual(yield* inspect.groups, [])
        assert.deepStrictEqual(yield* bus.deadLetters({}), [])
        assert.strictEqual(yield* bus.getCursor("t", "g"), undefined)
        assert.match(failureText(yield* Effect.exit(bus.deleteGroup("g"))), /group "g": cannot delete it: there is no group of that name/)
        // The name is free again: a new group of that name starts where its options say.
        const sub = yield* bus.subscribe("t", "g", () => Effect.void, { from: "latest" })
        yield* sub.unsubscribe
        assert.strictEqual(yield* bus.getCursor("t", "g"), yield* inspect.headSeq("t"))
      })))

  it.live("deleteGroup is refused while the group runs here, or in another live process unless forced", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* onBus(location, (a) =>
        Effect.gen(function*() {
          const sub = yield* a.subscribe("t", "g", () => Effect.void, { from: "earliest" })
          assert.match(failureText(yield* Effect.exit(a.deleteGroup("g"))), /runs in this process; unsubscribe it first/)
          yield* onBus(location, (b) =>
            Effect.gen(function*() {
              assert.match(failureText(yield* Effect.exit(b.deleteGroup("g"))), /process \d+ on .* consumes it; stop it first, or force the deletion/)
              const forced = yield* b.deleteGroup("g", { force: true })
              assert.strictEqual(forced.cursors, 1)
            }))
          yield* sub.unsubscribe
        }))
    }))

  it.live("a deleted group no longer holds retention back", () =>
    onBus(factory.fresh(), (bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("t", { retention: { maxCount: 1 } })
        const sub = yield* bus.subscribe("t", "old", () => Effect.void, { from: "latest" })
        yield* sub.unsubscribe
        yield* bus.publishAll([1, 2, 3, 4].map((payload) => ({ topic: "t", payload })))
        const [held] = yield* bus.prune("t")
        assert.deepStrictEqual([held!.deleted, held!.waitingFor], [0, "old"])
        yield* bus.deleteGroup("old")
        const [freed] = yield* bus.prune("t")
        assert.deepStrictEqual([freed!.deleted, freed!.waitingFor], [3, null])
      })))

  it.live("purgeTopic deletes the events and the group's dead letters, keeps the settings, and moves cursors to the head", () =>
    onBus(factory.fresh(), (bus) =>
      Effect.gen(function*() {
        yield* bus.defineTopic("t", { description: "kept" })
        yield* consumed(bus)
        yield* bus.publishAll([4, 5].map((payload) => ({ topic: "t", payload })))
        yield* bus.publish("other", 1)
        const inspect = yield* Inspect
        const head = yield* inspect.headSeq("t")
        const purged = yield* bus.purgeTopic("t")
        assert.deepStrictEqual(purged, { topic: "t", events: 5, groups: ["g"] })
        assert.deepStrictEqual(yield* bus.read("t", 0, 100), [])
        assert.strictEqual((yield* bus.read("other", 0, 100)).length, 1, "other topics keep their events")
        assert.deepStrictEqual(yield* bus.deadLetters({}), [])
        const [group] = yield* inspect.groups
        assert.deepStrictEqual([group!.cursor.floor, group!.lag], [head, 0])
        assert.strictEqual((yield* inspect.topics).find((t) => t.name === "t")?.settings.description, "kept")
        // Events published after the purge reach the group.
        yield* bus.publish("t", 6)
        const got = yield* Deferred.make<unknown>()
        const sub = yield* bus.subscribe("t", "g", (e) => Deferred.succeed(got, e.payload))
        assert.strictEqual(yield* Deferred.await(got), 6)
        yield* sub.unsubscribe
      })))

  it.live("deleteTopic removes its events, settings and cursors; refused while consumed elsewhere unless forced; unknown topics are errors", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* onBus(location, (a) =>
        Effect.gen(function*() {
          yield* a.defineTopic("t", { retention: { maxCount: 10 } })
          yield* consumed(a)
          const sub = yield* a.subscribe(["t", "u"], "both", () => Effect.void, { from: "earliest" })
          assert.match(failureText(yield* Effect.exit(a.deleteTopic("t"))), /cannot delete topic "t": group both consumes it in this process/)
          yield* onBus(location, (b) =>
            Effect.gen(function*() {
              assert.match(failureText(yield* Effect.exit(b.deleteTopic("t"))), /cannot delete topic "t": it is consumed by both \(process \d+ on .*\); stop it first, or force it/)
              assert.match(failureText(yield* Effect.exit(b.purgeTopic("nope"))), /cannot purge topic "nope": there is no topic of that name/)
            }))
          yield* sub.unsubscribe
          const removed = yield* a.deleteTopic("t")
          assert.deepStrictEqual([removed.events, [...removed.groups].sort()], [3, ["both", "g"]])
          const inspect = yield* Inspect
          assert.isUndefined((yield* inspect.topics).find((t) => t.name === "t"))
          assert.deepStrictEqual((yield* inspect.groups).map((g) => [g.cursor.group, g.cursor.topic]), [["both", "u"]])
          assert.strictEqual(a.topic("t"), undefined)
        }))
    }))
})

describe.each(storeFactories)("inspecting members ($name)", (factory) => {
  it.effect("a member that is a dead process on this host is not listed; one alive here or on another host is", () =>
    Effect.gen(function*() {
      const store = yield* Store
      const host = { pid: 100, hostname: "here", isAlive: (pid: number) => pid !== 200 }
      for (const [member, pid, hostname] of [["alive", 300, "here"], ["dead", 200, "here"], ["elsewhere", 200, "there"], ["self", 100, "here"]] as const) {
        yield* store.runtime.beatMember({ group: "g", member, pid, host: hostname, now: 1 })
      }
      const listed = (yield* InspectModule.make(store, host).members).map((m) => m.member).sort()
      assert.deepStrictEqual(listed, ["alive", "elsewhere", "self"])
    }).pipe(Effect.provide(Bus.open(factory.fresh(), { maintenance: false }), { local: true }), Effect.scoped))
})

describe.each(storeFactories)("operations on a group that does not exist ($name)", (factory) => {
  const onBus = <A, E>(f: (bus: BusShape) => Effect.Effect<A, E>) =>
    Effect.flatMap(Effect.service(Bus), f).pipe(Effect.provide(Bus.open(factory.fresh(), { maintenance: false }), { local: true }))
  /** "workers" has consumed "t" (a cursor, nothing dead-lettered); "orders" is a partitioned group's unit only. */
  const known = (bus: BusShape) =>
    Effect.gen(function*() {
      const sub = yield* bus.subscribe("t", "workers", () => Effect.void, { from: "earliest" })
      yield* sub.unsubscribe
      yield* bus.defineTopic("p", { partitions: 2 })
      const parts = yield* bus.subscribe("p", "orders", () => Effect.void, { from: "earliest" })
      yield* parts.unsubscribe
    })

  it.live("requeue and dropDeadLetter refuse a typo with GroupError and the closest name; a known group's answer is unchanged", () =>
    onBus((bus) =>
      Effect.gen(function*() {
        yield* known(bus)
        const requeued = yield* Effect.flip(bus.requeue("workrs", "all"))
        assert.instanceOf(requeued, GroupError)
        assert.strictEqual(requeued.message, `group "workrs": cannot requeue: there is no group of that name (did you mean workers?)`)
        assert.strictEqual((yield* Effect.flip(bus.dropDeadLetter("workrs", "nope"))).message,
          `group "workrs": cannot drop a dead letter: there is no group of that name (did you mean workers?)`)
        assert.strictEqual((yield* Effect.flip(bus.requeue("zzzzzz", ["x"]))).message, `group "zzzzzz": cannot requeue: there is no group of that name`)
        // A partitioned group's state is stored under its units: it exists, and is suggested by its own name.
        assert.strictEqual(yield* bus.requeue("orders", "all"), 0)
        assert.strictEqual((yield* Effect.flip(bus.requeue("ordres", "all"))).message, `group "ordres": cannot requeue: there is no group of that name (did you mean orders?)`)
        assert.strictEqual(yield* bus.requeue("workers", "all"), 0)
        assert.strictEqual(yield* bus.dropDeadLetter("workers", "nope"), false)
        // A group running here exists before it has stored anything; queries keep answering [].
        const running = yield* bus.subscribe("t", "fresh", () => Effect.void)
        assert.strictEqual(yield* bus.requeue("fresh", "all"), 0)
        yield* running.unsubscribe
        assert.deepStrictEqual(yield* bus.deadLetters({ group: "workrs" }), [])
        assert.deepStrictEqual(yield* bus.deliveries({ group: "workrs" }), [])
      })))

  it.live("describeGroup refuses a typo with GroupError and the closest name", () =>
    onBus((bus) =>
      Effect.gen(function*() {
        yield* known(bus)
        assert.deepStrictEqual((yield* bus.describeGroup("workers")).positions.map((p) => p.cursor.topic), ["t"])
        const refused = yield* Effect.flip(bus.describeGroup("workrs") as Effect.Effect<unknown, unknown>)
        assert.instanceOf(refused, GroupError)
        assert.strictEqual((refused as GroupError).message, `group "workrs": cannot describe it: there is no group of that name (did you mean workers?)`)
      })))
})
