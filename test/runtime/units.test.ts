/** The runtime's pure parts: ack floors, key lanes, ids, JSON checks, retry delays. */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Random } from "effect"
import fc from "fast-check"
import { AckFloor } from "../../src/runtime/AckFloor.ts"
import { makeIdGenerator } from "../../src/runtime/ids.ts"
import { jsonProblem } from "../../src/runtime/json.ts"
import { Lanes } from "../../src/runtime/Lanes.ts"
import { defaultBackoff, retryDelay } from "../../src/runtime/RetryPolicy.ts"

describe("AckFloor", () => {
  it("the floor stops below the first pending event and ranges keep out-of-order acks", () => {
    const f = new AckFloor({ floor: 10, acked: [], leasedUpto: 10 })
    for (const s of [11, 12, 14, 15, 17]) f.fetched(s)
    f.passed(18)
    assert.strictEqual(f.floor, 10)
    f.done(12)
    f.done(15)
    assert.deepStrictEqual(f.progress(), { floor: 10, acked: [[12, 13], [15, 16], [18, 18]], leasedUpto: 10 })
    f.done(11)
    assert.strictEqual(f.floor, 13)
    f.done(14)
    f.done(17)
    assert.deepStrictEqual(f.progress(), { floor: 18, acked: [], leasedUpto: 18 })
  })

  it("carries stored ranges until the read position passes them", () => {
    const f = new AckFloor({ floor: 5, acked: [[7, 8], [12, 20]], leasedUpto: 20 })
    assert.isFalse(f.wasDone(6))
    assert.isTrue(f.wasDone(7))
    f.fetched(6)
    f.passed(7)
    f.passed(8)
    f.fetched(9)
    assert.deepStrictEqual(f.acked(), [[7, 8], [12, 20]])
    assert.isTrue(f.wasDoneBefore(15))
    assert.isFalse(f.wasDoneBefore(10))
  })

  it("property: the floor is exactly the highest seq below which every fetched event is done", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ gap: fc.integer({ min: 1, max: 3 }), done: fc.boolean() }), { maxLength: 60 }), fc.integer({ min: 0, max: 1000 }), (steps, seed) => {
        const f = new AckFloor({ floor: 0, acked: [], leasedUpto: 0 })
        let seq = 0
        const states: Array<[number, boolean]> = []
        for (const { gap, done } of steps) {
          seq += gap
          f.fetched(seq)
          states.push([seq, done])
        }
        const order = [...states].sort((a, b) => ((a[0] * 7919 + seed) % 101) - ((b[0] * 7919 + seed) % 101))
        for (const [s, done] of order) if (done) f.done(s)
        const firstPending = states.find(([, done]) => !done)
        const expected = firstPending === undefined ? seq : firstPending[0] - 1
        assert.strictEqual(f.floor, expected)
        for (const [a, b] of f.acked()) {
          for (const [s, done] of states) if (s >= a && s <= b) assert.isTrue(done, `seq ${s} inside acked range [${a}, ${b}]`)
        }
      })
    )
  })
})

describe("AckFloor ranges", () => {
  it("a stored range between two events still pending after recovery stays in the progress", () => {
    // Recovery after a crash: floor 0, [5, 10] acked before; 1-4 and 11-20 fetched again.
    const f = new AckFloor({ floor: 0, acked: [[5, 10]], leasedUpto: 20 })
    for (const s of [1, 2, 3, 4, ...Array.from({ length: 10 }, (_, i) => 11 + i)]) f.fetched(s)
    f.passed(20)
    for (const s of [1, 2, 3, 12, 13, 14, 15, 16, 17, 18, 19, 20]) f.done(s)
    assert.deepStrictEqual(f.progress(), { floor: 3, acked: [[5, 10], [12, 20]], leasedUpto: 20 })
    f.done(4)
    assert.deepStrictEqual(f.progress(), { floor: 10, acked: [[12, 20]], leasedUpto: 20 })
  })

  it("stays dirty until a write of its progress is marked committed; changes after that mark keep it dirty", () => {
    const f = new AckFloor({ floor: 0, acked: [], leasedUpto: 0 })
    for (const s of [1, 2, 3]) f.fetched(s)
    f.done(1)
    assert.isTrue(f.dirty)
    const mark = f.mark
    f.progress()
    assert.isTrue(f.dirty, "taking the progress is not persisting it (its transaction may fail)")
    f.done(2)
    f.persisted(mark)
    assert.isTrue(f.dirty, "done(2) came after the committed write")
    f.persisted(f.mark)
    assert.isFalse(f.dirty)
  })

  it("property: every done or passed seq above the floor is in a range, no pending seq is, ranges ascend apart", () => {
    type Step = { readonly gap: number; readonly kind: "fetch" | "pass" }
    fc.assert(
      fc.property(
        fc.array(fc.record({ gap: fc.integer({ min: 1, max: 3 }), kind: fc.constantFrom("fetch" as const, "fetch" as const, "pass" as const) }), { maxLength: 80 }),
        fc.array(fc.nat(), { maxLength: 120 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.record({ gap: fc.integer({ min: 1, max: 8 }), length: fc.integer({ min: 1, max: 4 }) }), { maxLength: 4 }),
        (steps: ReadonlyArray<Step>, picks, checkEvery, storedRanges) => {
          // Ranges acked out of order before this session (a stored cursor), never fetched again.
          const carried: Array<readonly [number, number]> = []
          let end = 0
          for (const { gap, length } of storedRanges) {
            carried.push([end + gap, end + gap + length - 1])
            end += gap + length
          }
          const f = new AckFloor({ floor: 0, acked: carried, leasedUpto: 0 })
          let seq = 0
          const pending: Array<number> = []
          const done = new Set<number>(carried.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)))
          const check = () => {
            const floor = f.floor
            const ranges = f.acked()
            let last = floor
            for (const [a, b] of ranges) {
              assert.isTrue(a > last && b >= a, `ranges ascend apart above the floor: ${JSON.stringify(ranges)} floor ${floor}`)
              last = b
              for (const p of pending) assert.isFalse(p >= a && p <= b, `pending ${p} inside [${a}, ${b}]`)
            }
            for (const d of done) {
              if (d > floor) assert.isTrue(ranges.some(([a, b]) => d >= a && d <= b), `done ${d} above floor ${floor} missing from ${JSON.stringify(ranges)}`)
            }
          }
          let i = 0
          for (const step of steps) {
            seq += step.gap
            if (f.wasDone(seq)) {
              // The fetcher passes over a stored range's events without running them.
              f.passed(seq)
            } else if (step.kind === "fetch") {
              f.fetched(seq)
              pending.push(seq)
            } else {
              f.passed(seq)
              done.add(seq)
            }
            // Finish a pending event now and then, in any order.
            const pick = picks[i++]
            if (pick !== undefined && pending.length > 0 && pick % 3 !== 0) {
              const [s] = pending.splice(pick % pending.length, 1)
              f.done(s!)
              done.add(s!)
            }
            if (i % checkEvery === 0) check()
          }
          check()
        }
      ),
      { numRuns: 300 }
    )
  })
})

describe("Lanes", () => {
  const key = (w: { k?: string }) => w.k
  it("key: one at a time per key, others concurrent, keyless unordered", () => {
    const lanes = new Lanes<{ n: number; k?: string }>("key", key)
    const a1 = { n: 1, k: "a" }, a2 = { n: 2, k: "a" }, b1 = { n: 3, k: "b" }, x = { n: 4 }
    assert.isTrue(lanes.admit(a1))
    assert.isFalse(lanes.admit(a2))
    assert.isTrue(lanes.admit(b1))
    assert.isTrue(lanes.admit(x))
    assert.strictEqual(lanes.finish(a1), a2)
    assert.strictEqual(lanes.finish(a2), undefined)
    assert.isTrue(lanes.admit({ n: 5, k: "a" }))
  })

  it("strict: a single lane; none: no lanes", () => {
    const strict = new Lanes<{ k?: string }>("strict", key)
    assert.isTrue(strict.admit({ k: "a" }))
    assert.isFalse(strict.admit({ k: "b" }))
    const none = new Lanes<{ k?: string }>("none", key)
    assert.isTrue(none.admit({ k: "a" }))
    assert.isTrue(none.admit({ k: "a" }))
  })

  it("hold keeps later events of the key until release; admitting ahead resumes a held key", () => {
    const lanes = new Lanes<{ n: number; k?: string }>("key", key)
    const a1 = { n: 1, k: "a" }
    lanes.admit(a1)
    lanes.hold(a1)
    assert.isFalse(lanes.admit({ n: 2, k: "a" }))
    assert.deepStrictEqual(lanes.heldKeys(), ["a"])
    assert.isTrue(lanes.admit({ n: 9, k: "a" }, true), "a requeued dead letter runs at once and releases the hold")
    assert.deepStrictEqual(lanes.heldKeys(), [])
    assert.deepStrictEqual(lanes.finish({ n: 9, k: "a" }), { n: 2, k: "a" })
    lanes.holdKey("b")
    assert.isFalse(lanes.admit({ n: 3, k: "b" }))
    assert.deepStrictEqual(lanes.release("b"), { n: 3, k: "b" })
  })
})

describe("ids", () => {
  it.effect("UUIDv7: version and variant bits, time prefix, strictly increasing within a millisecond", () =>
    Effect.gen(function*() {
      const clock = yield* Clock.Clock
      const random = yield* Random.Random
      const gen = makeIdGenerator()
      const ids = Array.from({ length: 1000 }, () => gen.next(clock, random))
      for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.deepStrictEqual([...ids].sort(), ids)
      assert.strictEqual(new Set(ids).size, ids.length)
      assert.strictEqual(ids[0]!.slice(0, 13), "00000000-0000", "TestClock starts at 0 ms")
    }).pipe(Random.withSeed("ids")))

  it.effect("the same seed gives the same ids", () =>
    Effect.gen(function*() {
      const run = Effect.gen(function*() {
        const gen = makeIdGenerator()
        const clock = yield* Clock.Clock
        const random = yield* Random.Random
        return Array.from({ length: 5 }, () => gen.next(clock, random))
      })
      assert.deepStrictEqual(yield* run.pipe(Random.withSeed(7)), yield* run.pipe(Random.withSeed(7)))
      assert.notDeepEqual(yield* run.pipe(Random.withSeed(7)), yield* run.pipe(Random.withSeed(8)))
    }))
})

describe("jsonProblem", () => {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /payload is undefined/],
    [{ a: undefined }, /payload\.a is undefined/],
    [{ f: () => 1 }, /payload\.f is a function/],
    [[1, Symbol("s")], /payload\[1\] is a symbol/],
    [{ n: 10n }, /payload\.n is a BigInt/],
    [{ x: [NaN] }, /payload\.x\[0\] is NaN/],
    [{ "a b": Infinity }, /payload\["a b"\] is Infinity/],
    [cyclic, /payload\.self refers back to itself/],
    [{ when: new Date(0) }, /payload\.when is a Date, not a plain object.*ISO string/],
    [new Map(), /payload is a Map/],
    [[, 1], /hole in a sparse array/],
    [{ [Symbol("k")]: 1 }, /symbol keys/]
  ]
  for (const [value, pattern] of cases) {
    it(`rejects ${pattern.source}`, () => assert.match(jsonProblem(value, "payload") ?? "", pattern))
  }
  it("accepts JSON data, shared (non-cyclic) references, and null-prototype objects", () => {
    const shared = { x: 1 }
    assert.isUndefined(jsonProblem({ a: [1, "s", true, null, { b: -0.5 }], s1: shared, s2: shared, o: Object.create(null) }, "payload"))
  })
  it("refuses absurd nesting instead of overflowing the stack", () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    assert.match(jsonProblem(deep, "payload") ?? "", /nests deeper than 512 levels/)
  })
})

describe("retryDelay", () => {
  it.effect("exponential, capped, and jitter stays within its fraction", () =>
    Effect.gen(function*() {
      const random = yield* Random.Random
      const exact = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0 }
      assert.deepStrictEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelay(exact, n, random)), [100, 200, 400, 800, 1000, 1000])
      for (let n = 1; n < 10; n++) {
        const d = retryDelay(defaultBackoff, n, random)
        const base = Math.min(30_000, 500 * 2 ** (n - 1))
        assert.isTrue(d >= Math.floor(base * 0.8) && d <= Math.min(30_000, Math.ceil(base * 1.2)), `attempt ${n}: ${d}`)
      }
    }).pipe(Random.withSeed("jitter")))
})
