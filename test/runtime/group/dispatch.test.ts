/**
 * Dispatch as a class: lanes, parking, backpressure, holds and the worker gate, driven the way a
 * session drives it (fetch -> park or buffer and admit; take; finish -> the key's next), checked
 * by examples and, as a fast-check property, against a model of per-key dispatch.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import fc from "fast-check"
import { AckFloor } from "../../../src/runtime/AckFloor.ts"
import type { Ordering } from "../../../src/runtime/Lanes.ts"
import { Dispatcher, type Gate, parkAfter, parkedPerCapacity } from "../../../src/runtime/group/dispatch.ts"
import { isParked, newWork, type Parked, type Slot, type Work } from "../../../src/runtime/group/work.ts"
import type { Event } from "../../../src/store/records.ts"

const floor = new AckFloor({ floor: 0, acked: [], leasedUpto: 0 })

const eventOf = (seq: number, key: string | undefined): Event => ({
  seq, id: `e${seq}`, ts: 0, topic: "t", key, partition: undefined, headers: undefined, payload: seq, causedBy: undefined, tags: undefined, sid: "s"
} as unknown as Event)

const workOf = (seq: number, key?: string): Work => newWork(eventOf(seq, key), floor, undefined, false)

const stubOf = (seq: number, key?: string): Parked => ({ parked: true, seq, topic: "t", key, floor, filterPending: false })

const make = (options: { ordering?: Ordering; limit?: number; capacity?: number; batchSize?: number } = {}) => {
  const gate = { accepting: true, limit: options.limit ?? 16, isolating: false }
  const dispatcher = new Dispatcher({
    ordering: options.ordering ?? "key", gate: gate satisfies Gate, capacity: options.capacity ?? 100, batchSize: options.batchSize ?? 10,
    maxBytes: 64 * 1024 * 1024
  })
  return { gate, dispatcher }
}

/** As the fetcher does: parked, or buffered and admitted (pushed when its key is free). */
const fetch = (d: Dispatcher, seq: number, key?: string): "parked" | "runs" | "waits" => {
  if (d.park(stubOf(seq, key))) return "parked"
  d.buffer()
  const work = workOf(seq, key)
  if (!d.admit(work)) return "waits"
  d.push(work)
  return "runs"
}

/** As a worker does after a run that finished for good: frees its slot, makes the key's next runnable. */
const finish = (d: Dispatcher, work: Work): Slot | undefined => {
  d.release()
  const next = d.finish(work)
  if (next !== undefined) {
    if (isParked(next)) {
      d.unparked()
      d.buffer()
      d.push(workOf(next.seq, next.key))
    } else {
      d.push(next)
    }
  }
  d.ended()
  return next
}

const take = (d: Dispatcher): Work => Effect.runSync(d.take)!

describe("Dispatcher", () => {
  it("key ordering: one event per key runs at a time, in seq order; other keys and keyless events run", () => {
    const { dispatcher: d } = make()
    assert.deepStrictEqual([fetch(d, 1, "a"), fetch(d, 2, "a"), fetch(d, 3, "b"), fetch(d, 4)], ["runs", "waits", "runs", "runs"])
    assert.deepStrictEqual([take(d).event.seq, take(d).event.seq, take(d).event.seq], [1, 3, 4])
    assert.strictEqual(d.running, 3)
    const next = finish(d, workOf(1, "a"))
    assert.isTrue(next !== undefined && !isParked(next) && next.event.seq === 2, "the key's next, now runnable")
    assert.strictEqual(take(d).event.seq, 2)
  })

  it("parks an event behind parkAfter waiting events of its key; parked events do not count as buffered", () => {
    const { dispatcher: d } = make()
    for (let seq = 1; seq <= parkAfter + 1; seq++) fetch(d, seq, "a")
    assert.strictEqual(fetch(d, 10, "a"), "parked")
    assert.strictEqual(fetch(d, 11, "b"), "runs")
    assert.deepStrictEqual([d.buffered, d.parked], [parkAfter + 2, 1])
  })

  it("backpressure: parked events are bounded (capacity x parkedPerCapacity); room comes back as they are read back", () =>
    Effect.gen(function*() {
      const { dispatcher: d } = make({ capacity: 10, batchSize: 2 })
      // One key's backlog: one runs, parkAfter wait, the rest park until the bound.
      let seq = 0
      while (d.hasRoom) fetch(d, ++seq, "hot")
      assert.strictEqual(d.parked, 10 * parkedPerCapacity)
      assert.strictEqual(d.buffered, parkAfter + 1, "the buffer itself has room: parking is what is full")
      d.unparked()
      assert.isTrue(d.hasRoom)
      yield* d.room.wait
    }).pipe(Effect.runSync))

  it("backpressure: room while a whole batch fits; idleNow when the buffer empties", () =>
    Effect.gen(function*() {
      const { dispatcher: d } = make({ capacity: 4, batchSize: 2 })
      for (let seq = 1; seq <= 3; seq++) fetch(d, seq)
      assert.isFalse(d.hasRoom)
      const works = [take(d), take(d), take(d)]
      finish(d, works[0]!)
      assert.isTrue(d.hasRoom)
      yield* d.room.wait
      finish(d, works[1]!)
      finish(d, works[2]!)
      assert.strictEqual(d.buffered, 0)
      yield* d.idleNow.wait
    }).pipe(Effect.runSync))

  it("the gate: at most limit run; nothing starts, and pushed work is dropped, once it stops accepting", () =>
    Effect.gen(function*() {
      const { gate, dispatcher: d } = make({ limit: 1 })
      fetch(d, 1)
      fetch(d, 2)
      assert.strictEqual(take(d).event.seq, 1)
      const waiting = yield* Effect.forkChild(d.take, { startImmediately: true })
      assert.strictEqual(waiting.pollUnsafe(), undefined, "the limit is reached: the second worker waits")
      d.ended()
      d.wakeIdle()
      assert.strictEqual((yield* Fiber.join(waiting))?.event.seq, 2)
      gate.accepting = false
      fetch(d, 3)
      d.ended()
      assert.isTrue(d.quiet, "the work pushed while not accepting was dropped")
      assert.strictEqual(yield* d.take, undefined)
    }).pipe(Effect.runSync))

  it("isolation: only suspects run; other work waits apart (not counted as ready) until isolation ends", () =>
    Effect.gen(function*() {
      const { gate, dispatcher: d } = make({ limit: 1 })
      gate.isolating = true
      const suspect = workOf(1, "a")
      suspect.suspect = true
      d.push(workOf(2, "b"))
      d.push(suspect)
      assert.strictEqual(take(d).event.seq, 1)
      d.ended()
      assert.isTrue(d.quiet, "the deferred work does not keep the isolation going")
      gate.isolating = false
      d.wakeIdle()
      assert.strictEqual(take(d).event.seq, 2)
    }).pipe(Effect.runSync))

  it("a waiting worker gets pushed work at once; dismissIdle sends waiting workers away", () =>
    Effect.gen(function*() {
      const { dispatcher: d } = make()
      const first = yield* Effect.forkChild(d.take, { startImmediately: true })
      const second = yield* Effect.forkChild(d.take, { startImmediately: true })
      fetch(d, 1)
      assert.strictEqual((yield* Fiber.join(first))?.event.seq, 1)
      d.dismissIdle()
      assert.strictEqual(yield* Fiber.join(second), undefined)
    }).pipe(Effect.runPromise))

  it("holds: a dead letter's key stays blocked (later events park) until released, or until its requeued event runs ahead", () => {
    const { dispatcher: d } = make()
    d.restoreHold("a", 7)
    d.restoreHold("b", 8)
    assert.deepStrictEqual(d.heldKeys().sort(), ["a", "b"])
    assert.strictEqual(fetch(d, 10, "a"), "parked", "a held key parks at once")
    assert.strictEqual(fetch(d, 11, "b"), "parked")
    const requeued = newWork(eventOf(7, "a"), undefined, undefined, true)
    assert.isTrue(d.admitRequeued(requeued), "the requeued dead letter holding its key runs ahead, releasing the hold")
    assert.deepStrictEqual(d.heldKeys(), ["b"])
    const next = d.finish(requeued)
    assert.isTrue(next !== undefined && isParked(next) && next.seq === 10)
    assert.deepStrictEqual(d.releaseHolds((seq) => seq === 8), [], "b still held")
    const released = d.releaseHolds(() => false)
    assert.deepStrictEqual(released.map((s) => (isParked(s) ? s.seq : s.event.seq)), [11])
    assert.deepStrictEqual(d.heldKeys(), [])
  })

  it("hold after a dead letter blocks its key's queue; unordered events are never held", () => {
    const { dispatcher: d } = make()
    fetch(d, 1, "a")
    fetch(d, 2, "a")
    const first = take(d)
    d.hold(first)
    assert.strictEqual(d.finish(first), undefined, "held: the key's next waits")
    d.hold(workOf(3))
    assert.deepStrictEqual(d.heldKeys(), ["a"])
    const [next] = d.releaseHolds(() => false)
    assert.strictEqual(next !== undefined && !isParked(next) ? next.event.seq : undefined, 2)
  })

  it("property: per-key order, one run per lane, parking by queue length, exact buffer counts; everything runs once", () => {
    const op = fc.oneof(
      fc.record({ op: fc.constant("fetch" as const), key: fc.constantFrom("a", "b", "c", undefined) }),
      fc.record({ op: fc.constant("take" as const) }),
      fc.record({ op: fc.constant("finish" as const), pick: fc.nat() })
    )
    fc.assert(fc.property(
      fc.constantFrom<Ordering>("key", "strict", "none"),
      fc.integer({ min: 1, max: 4 }),
      fc.array(op, { maxLength: 120 }),
      (ordering, limit, ops) => {
        const { dispatcher: d } = make({ ordering, limit })
        const laneOf = (key: string | undefined) => (ordering === "none" ? undefined : ordering === "strict" ? "" : key)
        /** Per lane, the seqs fetched and not finished, in order: the head is ready or running. */
        const lanes = new Map<string, Array<number>>()
        const keys = new Map<number, string | undefined>()
        const ready: Array<number> = []
        const running: Array<number> = []
        const started: Array<number> = []
        const parked = new Set<number>()
        let buffered = 0
        let seq = 0
        const check = () => {
          assert.strictEqual(d.running, running.length)
          assert.isAtMost(d.running, limit)
          assert.strictEqual(d.buffered, buffered)
          assert.strictEqual(d.parked, parked.size)
          for (const [, pending] of lanes) {
            const inProgress = pending.filter((s) => ready.includes(s) || running.includes(s))
            assert.isAtMost(inProgress.length, 1, "one event per lane at a time")
            if (inProgress.length === 1) assert.strictEqual(inProgress[0], pending[0], "the lane's oldest event")
          }
        }
        const runNext = () => {
          const s = ready.shift()!
          assert.strictEqual(take(d).event.seq, s)
          running.push(s)
          started.push(s)
        }
        const finishAt = (i: number) => {
          const [s] = running.splice(i, 1)
          buffered--
          const lane = laneOf(keys.get(s!))
          let expectedNext: number | undefined
          if (lane !== undefined) {
            const pending = lanes.get(lane)!
            assert.strictEqual(pending.shift(), s)
            if (pending.length === 0) lanes.delete(lane)
            else expectedNext = pending[0]
          }
          const next = finish(d, workOf(s!, keys.get(s!)))
          const nextSeq = next === undefined ? undefined : isParked(next) ? next.seq : next.event.seq
          assert.strictEqual(nextSeq, expectedNext)
          if (expectedNext !== undefined) {
            if (parked.delete(expectedNext)) buffered++
            ready.push(expectedNext)
          }
          while (ready.length > 0 && running.length < limit) runNext()
        }
        for (const o of ops) {
          if (o.op === "fetch") {
            seq++
            keys.set(seq, o.key)
            const lane = laneOf(o.key)
            const pending = lane === undefined ? undefined : lanes.get(lane)
            const result = fetch(d, seq, o.key)
            if (pending !== undefined && pending.length - 1 >= parkAfter) {
              assert.strictEqual(result, "parked")
              parked.add(seq)
            } else {
              assert.strictEqual(result, pending === undefined ? "runs" : "waits")
              buffered++
              if (pending === undefined) ready.push(seq)
            }
            if (lane !== undefined) lanes.set(lane, [...(pending ?? []), seq])
          } else if (o.op === "take") {
            if (ready.length > 0 && running.length < limit) runNext()
          } else if (running.length > 0) {
            finishAt(o.pick % running.length)
          }
          check()
        }
        // Drain: every event runs exactly once, each lane in seq order.
        while (ready.length > 0 || running.length > 0) {
          while (ready.length > 0 && running.length < limit) runNext()
          finishAt(0)
          check()
        }
        assert.deepStrictEqual([...started].sort((a, b) => a - b), Array.from({ length: seq }, (_, i) => i + 1))
        for (const key of ["a", "b", "c", undefined]) {
          const ofLane = started.filter((s) => laneOf(keys.get(s)) !== undefined && laneOf(keys.get(s)) === laneOf(key))
          assert.deepStrictEqual(ofLane, [...ofLane].sort((a, b) => a - b))
        }
        assert.deepStrictEqual([d.buffered, d.parked, d.running], [0, 0, 0])
        assert.isTrue(d.quiet)
      }
    ), { numRuns: 300 })
  })
})
