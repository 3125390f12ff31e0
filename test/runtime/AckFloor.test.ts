/** `AckFloor`: a group's ack floor on one topic, with out-of-order acks kept as ranges. */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import { AckFloor } from "../../src/runtime/AckFloor.ts"

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
