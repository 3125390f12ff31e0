/**
 * A cursor's done set (src/store/ackRanges.ts): `unionDone`, with which a progress write merges
 * what memory holds into what is stored, holds everything either holds and nothing else, and
 * writes memory as it is when the stored set adds nothing to it.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { unionDone } from "../../src/store/ackRanges.ts"
import type { SeqRanges } from "../../src/store/records.ts"

/** A done set as a floor and disjoint, non-adjacent ascending ranges above it. */
const doneSet = fc.record({ floor: fc.integer({ min: 0, max: 30 }), seqs: fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 20 }) }).map(({ floor, seqs }) => {
  const above = seqs.filter((s) => s > floor + 1).sort((a, b) => a - b)
  const acked: Array<readonly [number, number]> = []
  for (const s of above) {
    const last = acked[acked.length - 1]
    if (last !== undefined && s === last[1] + 1) acked[acked.length - 1] = [last[0], s]
    else acked.push([s, s])
  }
  return { floor, acked: acked as SeqRanges }
})

const has = (d: { readonly floor: number; readonly acked: SeqRanges }, seq: number) => seq <= d.floor || d.acked.some(([a, b]) => seq >= a && seq <= b)

describe("unionDone", () => {
  it("holds exactly what either set holds, never lowers a floor, and keeps its ranges above the floor, ascending and apart", () => {
    fc.assert(fc.property(doneSet, doneSet, (memory, stored) => {
      const u = unionDone(memory.floor, memory.acked, stored)
      for (let seq = 1; seq <= 70; seq++) expect(has(u, seq), `seq ${seq}`).toBe(has(memory, seq) || has(stored, seq))
      expect(u.floor).toBe(Math.max(memory.floor, stored.floor))
      for (let i = 0; i < u.acked.length; i++) {
        const [a, b] = u.acked[i]!
        expect(a).toBeGreaterThan(u.floor)
        expect(b).toBeGreaterThanOrEqual(a)
        if (i > 0) expect(a).toBeGreaterThan(u.acked[i - 1]![1] + 1)
      }
    }))
  })

  it("gives memory back as it is when the stored set is within it", () => {
    expect(unionDone(5, [[8, 9]], { floor: 3, acked: [[5, 5]] })).toEqual({ floor: 5, acked: [[8, 9]] })
    // A handler transaction's ack stored meanwhile (seq 6) is kept.
    expect(unionDone(5, [[8, 9]], { floor: 3, acked: [[6, 6]] })).toEqual({ floor: 5, acked: [[6, 6], [8, 9]] })
  })
})
