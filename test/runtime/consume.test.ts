/**
 * Consumer groups on the Effect API, under TestClock: delivery, order, options, retries, dead
 * letters. On every store factory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Latch, Random } from "effect"
import { TestClock } from "effect/testing"
import { Bus } from "../../src/facade/Bus.ts"
import { AckError, SubscribeError } from "../../src/runtime/busErrors.ts"
import { Store } from "../../src/store/Store.ts"
import type { Event } from "../../src/store/records.ts"
import { advance, makeRecorder, settle } from "../helpers/recorder.ts"
import { type StoreFactory, storeFactories } from "../helpers/stores.ts"

/** Runs an effect on a bus over a fresh database of `factory`. */
const busOn = (factory: StoreFactory) => <A, E>(effect: Effect.Effect<A, E, Bus | Store>) =>
  effect.pipe(Effect.provide(Bus.open(factory.fresh()), { local: true }))

const payloads = (ds: ReadonlyArray<{ event: { payload: unknown } }>) => ds.map((d) => d.event.payload)

describe.each(storeFactories)("consumer groups ($name)", (factory) => {
  const provideBus = busOn(factory)

  it.effect("earliest delivers every stored event in order and advances the cursor", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      for (let i = 1; i <= 5; i++) yield* bus.publish("t", i)
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe("t", "g", rec.handler(), { from: "earliest" })
      assert.deepStrictEqual(payloads(yield* rec.take(5)), [1, 2, 3, 4, 5])
      yield* bus.publish("t", 6)
      assert.deepStrictEqual(payloads(yield* rec.take(1)), [6])
      yield* sub.unsubscribe
      assert.strictEqual(yield* bus.getCursor("t", "g"), 6)
    })))

  it.effect("the cursor counts redeliveries over the group's life (sib groups' REDELIVERED), across sessions", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const store = yield* Store
      yield* bus.publish("t", "x")
      const rec = yield* makeRecorder
      const failing = (times: number) => {
        let calls = 0
        return rec.handler(() => (++calls <= times ? Effect.fail(new Error(`fail ${calls}`)) : Effect.void))
      }
      const options = { from: "earliest" as const, backoff: { initialMs: 10, jitter: 0 } }
      const first = yield* bus.subscribe("t", "g", failing(2), options)
      yield* advance(100)
      yield* rec.take(3)
      yield* first.unsubscribe
      assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.redelivered, 2, "runs 2 and 3 of the event")
      // A later session adds to the stored count.
      yield* bus.publish("t", "y")
      yield* bus.subscribe("t", "g", failing(1), options)
      yield* advance(100)
      yield* rec.take(2)
      yield* advance(100)
      yield* settle
      assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.redelivered, 3)
      const [info] = (yield* bus.describeGroup("g")).positions
      assert.strictEqual(info!.cursor.redelivered, 3)
    })))

  it.effect("a requeued dead letter's retries count as redeliveries in the stored figure, as in the metric", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const store = yield* Store
      const event = yield* bus.publish("t", "x")
      const rec = yield* makeRecorder
      // Fails its first three runs: twice before it is dead-lettered, once after the requeue.
      let runs = 0
      yield* bus.subscribe("t", "g", rec.handler(() => (++runs <= 3 ? Effect.fail(new Error("down")) : Effect.void)), {
        from: "earliest", maxAttempts: 2, backoff: { initialMs: 10, jitter: 0 }
      })
      yield* advance(100)
      yield* rec.take(2)
      yield* settle
      assert.strictEqual((yield* bus.deadLetters({ group: "g" })).length, 1)
      assert.strictEqual(yield* bus.requeue("g", event.id), 1)
      yield* advance(100)
      yield* rec.take(2)
      yield* advance(100)
      yield* settle
      assert.strictEqual((yield* bus.deadLetters({ group: "g" })).length, 0)
      // The second attempt before the dead letter, and the second after the requeue (a requeue
      // gives fresh attempts: its first run is attempt 1 again, as the metric counts it too).
      assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.redelivered, 2)
    })))

  it.effect("a failing handler is retried after its backoff, then succeeds", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("t", "x")
      const rec = yield* makeRecorder
      let calls = 0
      yield* bus.subscribe("t", "g", rec.handler(() => (++calls < 3 ? Effect.fail(new Error(`fail ${calls}`)) : Effect.void)), {
        from: "earliest",
        backoff: { initialMs: 1000, factor: 3, jitter: 0 }
      })
      const [first] = yield* rec.take(1)
      assert.strictEqual(first!.at, 0)
      yield* advance(999)
      yield* settle
      assert.strictEqual(rec.all.length, 1, "no retry before the backoff elapses")
      yield* advance(1)
      const [second] = yield* rec.take(1)
      assert.deepStrictEqual([second!.at, second!.attempt], [1000, 2])
      yield* advance(3000)
      const [third] = yield* rec.take(1)
      assert.deepStrictEqual([third!.at, third!.attempt], [4000, 3])
      yield* settle
      assert.deepStrictEqual(yield* bus.deadLetters(), [])
    })))

  it.effect("from: latest (default), earliest, seq, ts, id (with that event), afterId (after it)", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const events = []
      for (let i = 1; i <= 4; i++) {
        events.push(yield* bus.publish("t", i))
        yield* advance(10)
      }
      const cases = [
        ["latest", undefined, [9]],
        ["earliest", "earliest", [1, 2, 3, 4, 9]],
        ["seq", { seq: events[2]!.seq }, [3, 4, 9]],
        ["seq string", "seq:2", [2, 3, 4, 9]],
        ["ts", { ts: 20 }, [3, 4, 9]],
        ["ts string", "ts:1970-01-01T00:00:00.010Z", [2, 3, 4, 9]],
        ["afterId", { afterId: events[0]!.id }, [2, 3, 4, 9]],
        ["afterId string", `afterId:${events[0]!.id}`, [2, 3, 4, 9]],
        ["id", { id: events[1]!.id }, [2, 3, 4, 9]],
        ["id string", `id:${events[1]!.id}`, [2, 3, 4, 9]]
      ] as const
      const recs = []
      for (const [name, from] of cases) {
        const rec = yield* makeRecorder
        yield* bus.subscribe("t", `g-${name.replace(" ", "-")}`, rec.handler(), from === undefined ? {} : { from })
        recs.push(rec)
      }
      yield* bus.publish("t", 9)
      for (let i = 0; i < cases.length; i++) {
        const [name, , expected] = cases[i]!
        assert.deepStrictEqual(payloads(yield* recs[i]!.take(expected.length)), [...expected], name)
      }
      const bad = yield* Effect.flip(bus.subscribe("t", "g-bad", () => Effect.void, { from: "yesterday" }))
      assert.match(bad.message, /from must be "earliest", "latest", "seq:N", "ts:ISO-8601", "id:EVENT-ID", "afterId:EVENT-ID", \{ seq: N \}, \{ ts: date \}, \{ id \} or \{ afterId \}, got "yesterday"/)
    })))

  it.effect("from applies only to a new group; an existing cursor wins", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("t", 1)
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe("t", "g", rec.handler(), { from: "earliest" })
      yield* rec.take(1)
      yield* sub.unsubscribe
      yield* bus.publish("t", 2)
      const rec2 = yield* makeRecorder
      yield* bus.subscribe("t", "g", rec2.handler(), { from: "earliest" })
      assert.deepStrictEqual(payloads(yield* rec2.take(1)), [2])
      yield* settle
      assert.strictEqual(rec2.all.length, 1)
    })))

  it.effect("fan-in: one group over several topics, in seq order, with a cursor per topic", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publishAll([
        { topic: "a", payload: "a1" }, { topic: "b", payload: "b1" }, { topic: "a", payload: "a2" },
        { topic: "c", payload: "c1" }, { topic: "b", payload: "b2" }
      ])
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe(["a", "b"], "g", rec.handler(), { from: "earliest", topics: ["c"], ordering: "strict", batchSize: 2 })
      assert.deepStrictEqual(payloads(yield* rec.take(5)), ["a1", "b1", "a2", "c1", "b2"])
      yield* sub.unsubscribe
      assert.deepStrictEqual(
        [yield* bus.getCursor("a", "g"), yield* bus.getCursor("b", "g"), yield* bus.getCursor("c", "g")],
        [3, 5, 4]
      )
    })))

  it.effect("ordering key: in order within a key, concurrent across keys", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const items = Array.from({ length: 60 }, (_, i) => ({ topic: "t", payload: i, key: `k${i % 3}` }))
      yield* bus.publishAll(items)
      const rec = yield* makeRecorder
      let running = 0
      let peak = 0
      const perKeyRunning = new Map<string, number>()
      yield* bus.subscribe("t", "g", rec.handler((e) =>
        Effect.gen(function*() {
          running++
          peak = Math.max(peak, running)
          const k = e.key!
          perKeyRunning.set(k, (perKeyRunning.get(k) ?? 0) + 1)
          assert.strictEqual(perKeyRunning.get(k), 1, "one event per key at a time")
          yield* Effect.sleep((e.payload as number) % 7)
          perKeyRunning.set(k, perKeyRunning.get(k)! - 1)
          running--
        })), { from: "earliest", maxInFlight: 8 })
      const fiber = yield* Effect.forkChild(rec.take(60))
      for (let i = 0; i < 100; i++) yield* advance(1)
      const seen = yield* Fiber.join(fiber)
      for (const k of ["k0", "k1", "k2"]) {
        const order = seen.filter((d) => d.event.key === k).map((d) => d.event.payload as number)
        assert.deepStrictEqual(order, [...order].sort((a, b) => a - b), `key ${k} in order`)
      }
      assert.strictEqual(peak, 3, "three keys ran concurrently")
    })))

  it.effect("ordering none bounds concurrency by maxInFlight; strict runs one at a time", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publishAll(Array.from({ length: 20 }, (_, i) => ({ topic: "t", payload: i, key: "same" })))
      const peaks: Record<string, number> = {}
      for (const [group, options] of [["none", { ordering: "none", maxInFlight: 4 }], ["strict", { ordering: "strict" }]] as const) {
        let running = 0
        peaks[group] = 0
        const rec = yield* makeRecorder
        yield* bus.subscribe("t", group, rec.handler(() =>
          Effect.gen(function*() {
            running++
            peaks[group] = Math.max(peaks[group]!, running)
            yield* Effect.sleep(5)
            running--
          })), { from: "earliest", ...options })
        const fiber = yield* Effect.forkChild(rec.take(20))
        for (let i = 0; i < 120; i++) yield* advance(1)
        yield* Fiber.join(fiber)
      }
      assert.deepStrictEqual(peaks, { none: 4, strict: 1 })
    })))

  it.effect("a filter skips events without stalling the group, and the cursor passes them", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publishAll(Array.from({ length: 500 }, (_, i) => ({ topic: "t", payload: i })))
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe("t", "g", rec.handler(), {
        from: "earliest",
        filter: (e) => (e.payload as number) % 100 === 99,
        batchSize: 10
      })
      assert.deepStrictEqual(payloads(yield* rec.take(5)), [99, 199, 299, 399, 499])
      yield* bus.publishAll(Array.from({ length: 50 }, () => ({ topic: "t", payload: 0 })))
      yield* settle
      yield* sub.unsubscribe
      assert.strictEqual(yield* bus.getCursor("t", "g"), 550)
    })))

  it.effect("after exactly maxAttempts failures the event is a dead letter with its error, and the group moves on", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("t", "poison", { key: "k" })
      yield* bus.publish("t", "next", { key: "k" })
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe("t", "g", rec.handler((e) =>
        e.payload === "poison"
          ? Effect.fail(new TypeError("cannot read property 'x' of poison", { cause: new Error("upstream said 503", { cause: "socket hang up" }) }))
          : Effect.void
      ), { from: "earliest", maxAttempts: 3, backoff: { initialMs: 100, jitter: 0 } })
      const fiber = yield* Effect.forkChild(rec.take(4))
      yield* settle
      yield* advance(100)
      yield* settle
      yield* advance(200)
      const seen = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen.map((d) => [d.event.payload, d.attempt, d.at]), [
        ["poison", 1, 0], ["poison", 2, 100], ["poison", 3, 300], ["next", 1, 300]
      ])
      const [dl] = yield* bus.deadLetters({ group: "g" })
      assert.strictEqual(dl!.attempts, 3)
      assert.strictEqual(dl!.errorMessage, "cannot read property 'x' of poison")
      assert.match(dl!.errorStack ?? "", /TypeError: cannot read property/)
      // Its causes are kept, after its own stack, as Node prints them.
      assert.match(dl!.errorStack ?? "", /\nCaused by: Error: upstream said 503\n\s+at [^]*\nCaused by: socket hang up$/)
      assert.deepStrictEqual([dl!.firstFailedAt, dl!.lastFailedAt, dl!.deadAt, dl!.holdsKey], [0, 300, 300, false])
      assert.strictEqual(dl!.eventId, seen[0]!.event.id)
      yield* sub.unsubscribe
      assert.strictEqual(yield* bus.getCursor("t", "g"), 2)
    })))

  it.effect("requeue sends a dead letter back; it is delivered again with fresh attempts", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const poison = yield* bus.publish("t", "p")
      const rec = yield* makeRecorder
      let healthy = false
      yield* bus.subscribe("t", "g", rec.handler(() => (healthy ? Effect.void : Effect.fail("down"))), {
        from: "earliest", maxAttempts: 1
      })
      yield* rec.take(1)
      yield* settle
      assert.strictEqual((yield* bus.deadLetters()).length, 1)
      healthy = true
      assert.strictEqual(yield* bus.requeue("g", poison.id), 1)
      const [again] = yield* rec.take(1)
      assert.deepStrictEqual([again!.event.id, again!.attempt], [poison.id, 1])
      yield* settle
      assert.deepStrictEqual(yield* bus.deadLetters(), [])
      assert.strictEqual(yield* bus.requeue("g", "all"), 0)
    })))

  it.effect("onPoison hold keeps the key's later events until the dead letter is dropped", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const poison = yield* bus.publish("t", "p", { key: "a" })
      yield* bus.publish("t", "a2", { key: "a" })
      yield* bus.publish("t", "b1", { key: "b" })
      const rec = yield* makeRecorder
      yield* bus.subscribe("t", "g", rec.handler((e) => (e.payload === "p" ? Effect.fail("bad") : Effect.void)), {
        from: "earliest", maxAttempts: 1, onPoison: "hold"
      })
      assert.deepStrictEqual(payloads(yield* rec.take(2)), ["p", "b1"])
      yield* settle
      assert.deepStrictEqual(bus.groupStats("g")?.heldKeys, ["a"])
      assert.isTrue((yield* bus.deadLetters())[0]!.holdsKey)
      assert.isTrue(yield* bus.dropDeadLetter("g", poison.id))
      assert.deepStrictEqual(payloads(yield* rec.take(1)), ["a2"])
    })))

  it.effect("a handler running past ackTimeoutMs is interrupted and counted as a failed attempt", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("t", "slow")
      const rec = yield* makeRecorder
      let interrupted = 0
      yield* bus.subscribe("t", "g", rec.handler((_, ctx) =>
        ctx.attempt === 1
          ? Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++)))
          : Effect.void
      ), { from: "earliest", ackTimeoutMs: 5000, backoff: { initialMs: 10, jitter: 0 } })
      yield* rec.take(1)
      yield* advance(4999)
      yield* settle
      assert.strictEqual(interrupted, 0)
      yield* advance(1)
      yield* settle
      assert.strictEqual(interrupted, 1)
      yield* advance(10)
      const [retry] = yield* rec.take(1)
      assert.deepStrictEqual([retry!.attempt, retry!.at], [2, 5010])
    })))

  it.effect("manual ack: the event stays outstanding until acked; a late ack after the timeout is refused", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const e1 = yield* bus.publish("t", 1)
      const e2 = yield* bus.publish("t", 2)
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe("t", "g", rec.handler(), {
        from: "earliest", ackMode: "manual", ordering: "strict", ackTimeoutMs: 1000, backoff: { initialMs: 5, jitter: 0 }
      })
      yield* rec.take(1)
      yield* settle
      assert.strictEqual(rec.all.length, 1, "strict: event 2 waits for event 1's ack")
      yield* bus.ack("g", e1.id)
      assert.deepStrictEqual(payloads(yield* rec.take(1)), [2])
      yield* advance(1000)
      yield* settle
      const late = yield* Effect.flip(bus.ack("g", e2.id))
      assert.instanceOf(late, AckError)
      assert.match(late.message, /no delivery of it is outstanding/)
      yield* advance(5)
      const [again] = yield* rec.take(1)
      assert.deepStrictEqual([again!.event.id, again!.attempt], [e2.id, 2])
      yield* bus.nack("g", e2.id, 50)
      yield* advance(50)
      const [third] = yield* rec.take(1)
      assert.deepStrictEqual([third!.attempt, third!.at], [3, 1055])
      yield* bus.ack("g", e2.id)
      yield* sub.unsubscribe
      assert.strictEqual(yield* bus.getCursor("t", "g"), e2.seq)
    })))

  it.effect("ctx.ack and ctx.nack decide in auto mode too; ctx.publish sets causedBy", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const source = yield* bus.publish("in", "x")
      const done = yield* Deferred.make<Event>()
      yield* bus.subscribe("in", "g", (e, ctx) =>
        Effect.gen(function*() {
          const nacked = yield* ctx.publish("out", { from: e.id, attempt: ctx.attempt })
          assert.strictEqual((nacked as Partial<Event>).seq, undefined)
          if (ctx.attempt === 1) return yield* ctx.nack(0)
          yield* ctx.publish("out", { from: e.id, attempt: ctx.attempt, second: true })
        }), { from: "earliest" })
      yield* bus.subscribe("out", "watch", (e) => Deferred.succeed(done, e), { from: "earliest" })
      const out = yield* Deferred.await(done)
      assert.deepStrictEqual([out.payload, out.causedBy], [{ from: source.id, attempt: 2 }, [source.id]])
      // The nacked run's publish was never written; the acked run's two were, with the ack.
      assert.deepStrictEqual((yield* bus.read("out", 0, 10)).map((e) => e.payload), [
        { from: source.id, attempt: 2 },
        { from: source.id, attempt: 2, second: true }
      ])
    })))

  it.effect("backpressure: a blocked consumer never holds more than its capacity over a large backlog", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      for (let i = 0; i < 20; i++) yield* bus.publishAll(Array.from({ length: 1000 }, (_, j) => ({ topic: "t", payload: i * 1000 + j })))
      const gate = yield* Latch.make(false)
      const all = yield* Deferred.make<void>()
      let handled = 0
      yield* bus.subscribe("t", "g", () => gate.whenOpen(Effect.sync(() => {
        if (++handled === 20_000) Deferred.doneUnsafe(all, Effect.void)
      })), {
        from: "earliest", batchSize: 50, ordering: "none", maxInFlight: 10
      })
      yield* settle
      const stats = bus.groupStats("g")!
      assert.strictEqual(stats.running, 10)
      assert.strictEqual(stats.buffered, 100, "capacity = max(2 x batchSize, 2 x maxInFlight)")
      yield* gate.open
      yield* Deferred.await(all)
      assert.isAtMost(bus.groupStats("g")!.buffered, 100)
    })))

  it.effect("backpressure in bytes: a group of large events holds about maxBufferedBytes of them, not its capacity", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const big = "x".repeat(100_000)
      for (let i = 0; i < 10; i++) yield* bus.publishAll(Array.from({ length: 20 }, (_, j) => ({ topic: "t", payload: { i, j, big } })))
      const gate = yield* Latch.make(false)
      const all = yield* Deferred.make<void>()
      let handled = 0
      yield* bus.subscribe("t", "g", () => gate.whenOpen(Effect.sync(() => {
        if (++handled === 200) Deferred.doneUnsafe(all, Effect.void)
      })), { from: "earliest", batchSize: 1000, ordering: "none", maxInFlight: 5, maxBufferedBytes: 1024 * 1024 })
      yield* settle
      // 1 MiB holds 10 of these; a page stops at what is left (always at least one event).
      assert.isAtMost(bus.groupStats("g")!.buffered, 12)
      yield* gate.open
      yield* Deferred.await(all)
    })))

  it.effect("unsubscribe lets in-flight handlers finish, commits the cursor, and delivers nothing after", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publishAll(Array.from({ length: 3 }, (_, i) => ({ topic: "t", payload: i })))
      const finished: Array<number> = []
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe("t", "g", rec.handler((e) =>
        Effect.sleep(1000).pipe(Effect.andThen(Effect.sync(() => finished.push(e.payload as number))))
      ), { from: "earliest", ordering: "none" })
      yield* rec.take(3)
      const stopping = yield* Effect.forkChild(sub.unsubscribe)
      yield* settle
      yield* bus.publish("t", 99)
      yield* advance(1000)
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(finished.sort(), [0, 1, 2])
      assert.strictEqual(yield* bus.getCursor("t", "g"), 3)
      yield* settle
      assert.strictEqual(rec.all.length, 3)
    })))

  it.effect("drain timeout: handlers still running are interrupted, not counted as failures", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publish("t", 1)
      const rec = yield* makeRecorder
      const sub = yield* bus.subscribe("t", "g", rec.handler(() => Effect.never), { from: "earliest", drainTimeoutMs: 100 })
      yield* rec.take(1)
      const stopping = yield* Effect.forkChild(sub.unsubscribe)
      yield* advance(100)
      yield* Fiber.join(stopping)
      assert.strictEqual(yield* bus.getCursor("t", "g"), 0)
      const store = yield* Store
      assert.deepStrictEqual((yield* store.runtime.loadGroup("g", ["t"])).deliveries, [])
      const rec2 = yield* makeRecorder
      yield* bus.subscribe("t", "g", rec2.handler())
      const [again] = yield* rec2.take(1)
      assert.strictEqual(again!.attempt, 1, "the interrupted run was not an attempt")
    })))

  it.effect("refuses bad subscribe options with the valid names, and a second subscription of a running group", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      const cases: Array<[unknown, RegExp]> = [
        [{ batchsize: 10 }, /unknown option "batchsize"; valid options: from, batchSize/],
        [{ batchSize: 0 }, /batchSize must be an integer from 1 to 10000, got 0/],
        [{ ordering: "fifo" }, /ordering must be "key", "strict" or "none"/],
        [{ onPoison: "hold", ordering: "none" }, /onPoison "hold" needs ordering "key" or "strict"/],
        [{ backoff: { initial: 1 } }, /unknown option "initial" in backoff; valid options: initialMs, factor, maxMs, jitter/],
        [{ backoff: { initialMs: 500, maxMs: 100 } }, /backoff.maxMs \(100\) must be at least backoff.initialMs \(500\)/],
        [{ backoff: { jitter: 1.5 } }, /backoff.jitter must be a number in \[0, 1\], got 1.5/],
        [{ filter: "x" }, /filter must be a function/],
        [{ maxAttempts: 1.5 }, /maxAttempts must be a positive integer/]
      ]
      for (const [options, pattern] of cases) {
        const error = yield* Effect.flip(bus.subscribe("t", "g", () => Effect.void, options as never))
        assert.instanceOf(error, SubscribeError)
        assert.match(error.message, pattern)
      }
      assert.match((yield* Effect.flip(bus.subscribe("t", "bad group", () => Effect.void))).message, /group name/)
      assert.match((yield* Effect.flip(bus.subscribe("bad topic", "g", () => Effect.void))).message, /topic "bad topic"/)
      yield* bus.subscribe("t", "g", () => Effect.void)
      assert.match((yield* Effect.flip(bus.subscribe("t", "g", () => Effect.void))).message, /already subscribed/)
      assert.deepStrictEqual(bus.groups(), ["g"])
    })))

  it.effect("setCursor on a running group replays from the new position", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publishAll([1, 2, 3].map((payload) => ({ topic: "t", payload })))
      const rec = yield* makeRecorder
      yield* bus.subscribe("t", "g", rec.handler(), { from: "earliest" })
      yield* rec.take(3)
      yield* bus.setCursor("t", "g", { seq: 2 })
      assert.deepStrictEqual(payloads(yield* rec.take(2)), [2, 3])
    })))

  it.effect("two runs with the same seed publish the same ids and deliver in the same order", () =>
    Effect.gen(function*() {
      // Each run on a new database (a location of its own: a Postgres schema, unlike `:memory:`,
      // is the same database when opened again).
      const run = TestClock.setTime(0).pipe(Effect.andThen(Effect.suspend(() => provideBus(Effect.gen(function*() {
        const bus = yield* Bus
        const rec = yield* makeRecorder
        yield* bus.subscribe("t", "g", rec.handler((_, ctx) => (ctx.attempt === 1 && Math.random() < 2 ? Effect.fail("x") : Effect.void)), {
          from: "earliest", maxInFlight: 4
        })
        yield* Effect.forEach(Array.from({ length: 30 }, (_, i) => i), (i) => bus.publish("t", i, { key: `k${i % 5}` }), { concurrency: 8 })
        const fiber = yield* Effect.forkChild(rec.take(60))
        for (let i = 0; i < 50; i++) yield* advance(100)
        return (yield* Fiber.join(fiber)).map((d) => `${d.event.id}@${d.at}#${d.attempt}`)
      })))), Random.withSeed("same-seed"))
      const a = yield* run
      const b = yield* run
      assert.strictEqual(a.length, 60)
      assert.deepStrictEqual(a, b)
    }))
})
