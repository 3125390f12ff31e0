/**
 * Recovery as a function: `recover` reads a seeded store (SQLite `:memory:`) and returns what the
 * session must do, checked field by field and, as a property, against a model of the rules
 * (uncertain region, suspects and their charges, passed-over and filtered events, orphan rows).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { gapsOf, openCursors, recover } from "../../../src/runtime/group/recovery.ts"
import type { Ordering } from "../../../src/runtime/Lanes.ts"
import { resolveOptions } from "../../../src/runtime/subscribeOptions.ts"
import type { Delivery, Event } from "../../../src/store/records.ts"
import { isParked, type Slot, type Work } from "../../../src/runtime/group/work.ts"
import * as Sqlite from "../../../src/store/sqlite/SqliteStore.ts"
import type { DeliveryWrite, StoreShape } from "../../../src/store/Store.ts"

const group = "g"
const topic = "t"

interface Seed {
  /** Events 1..count on the topic (seq = n). */
  readonly count: number
  readonly floor: number
  readonly acked: ReadonlyArray<readonly [number, number]>
  readonly leasedUpto: number
  readonly dead: ReadonlyArray<number>
  readonly requeued: ReadonlyArray<number>
  readonly rows: ReadonlyArray<{ readonly seq: number; readonly state: "retry" | "suspect" | "running"; readonly attempts: number }>
  /** Event n's key (none: keyless). */
  readonly keys?: ReadonlyArray<string | null>
}

const emptyBatch = { now: 1, appends: [], progress: [], deliveries: [], deadLetters: [] }

const row = (seq: number, state: Delivery["state"], attempts: number): Delivery => ({
  group, topic, seq, eventId: `e${seq}`, attempts, state, nextAttemptAt: null, lastError: `failed ${seq}`,
  lastErrorStack: null, firstFailedAt: 1, lastFailedAt: 1
})

/** A store as an owner `old` left it: events, cursor, rows, dead letters and requeued ones. */
const seeded = (seed: Seed) =>
  Effect.gen(function*() {
    const store = yield* Sqlite.make({ filename: ":memory:" })
    yield* store.runtime.commit({
      ...emptyBatch,
      appends: Array.from({ length: seed.count }, (_, i) => ({
        id: `e${i + 1}`, ts: 1000, topic, key: seed.keys?.[i] ?? null, partition: null, headers: null, payload: String(i + 1),
        causedBy: null, tags: null, sid: "old"
      }))
    })
    assert.isTrue(yield* store.runtime.claimLease({ group, expectedOwner: null, owner: "old", pid: null, host: null, expiresAt: 10, now: 1 }))
    yield* store.runtime.initCursor(group, topic, 0, 1)
    const deadLetter = (seq: number) => ({
      owner: "old",
      deadLetter: {
        group, topic, seq, eventId: `e${seq}`, key: null, attempts: 5, errorMessage: "boom", errorStack: null,
        firstFailedAt: 1, lastFailedAt: 1, deadAt: 1, holdsKey: false
      }
    })
    yield* store.runtime.commit({
      ...emptyBatch,
      progress: [{ group, owner: "old", topic, floor: seed.floor, acked: seed.acked, leasedUpto: seed.leasedUpto }],
      deliveries: seed.rows.map((r) => ({ _tag: "upsert" as const, owner: "old", delivery: row(r.seq, r.state, r.attempts) })),
      deadLetters: [...seed.dead, ...seed.requeued].map(deadLetter)
    })
    if (seed.requeued.length > 0) yield* store.admin.requeue(group, seed.requeued)
    return store
  })

const configWith = (filter?: (event: Event) => boolean, ordering: Ordering = "key") => {
  const config = resolveOptions(group, topic, { from: "earliest", ordering, ...(filter === undefined ? {} : { filter }) })
  if (!("capacity" in config)) throw config
  return config
}

const recoverFrom = (store: StoreShape, crashed: boolean, filter?: (event: Event) => boolean, ordering: Ordering = "key") =>
  Effect.gen(function*() {
    const config = configWith(filter, ordering)
    return yield* recover(store.runtime, config, "new", yield* openCursors(store.runtime, config), crashed)
  })

/** The recovered work (stubs left out, each with its event). */
const worksOf = (slots: ReadonlyArray<Slot>): Array<Work> => slots.filter((s): s is Work => !isParked(s))

const seqsOfWrites = (writes: ReadonlyArray<DeliveryWrite>, tag: DeliveryWrite["_tag"]) =>
  writes.flatMap((w) => (w._tag !== tag ? [] : [w._tag === "upsert" ? w.delivery.seq : w.seq]))

describe("recovery", () => {
  it("gapsOf: the seqs of (from, to] outside the ranges, as maximal inclusive intervals", () => {
    assert.deepStrictEqual(gapsOf([[5, 6]], 2, 9), [[3, 4], [7, 9]])
    assert.deepStrictEqual(gapsOf([[1, 3], [8, 20]], 0, 10), [[4, 7]])
    assert.deepStrictEqual(gapsOf([], 4, 4), [])
    fc.assert(fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 40 })),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 45 }),
      (doneSeqs, from, to) => {
        // Ranges as stored: ascending, apart, built from a set of done seqs.
        const sorted = [...doneSeqs].sort((a, b) => a - b)
        const ranges: Array<[number, number]> = []
        for (const s of sorted) {
          const last = ranges[ranges.length - 1]
          if (last !== undefined && last[1] === s - 1) last[1] = s
          else ranges.push([s, s])
        }
        const expected = new Set<number>()
        for (let s = from + 1; s <= to; s++) if (!doneSeqs.includes(s)) expected.add(s)
        const got = new Set<number>()
        let previous = from
        for (const [a, b] of gapsOf(ranges, from, to)) {
          assert.isTrue(a > previous + (previous === from ? 0 : 1), "gaps ascend and are maximal")
          assert.isAtMost(a, b)
          for (let s = a; s <= b; s++) got.add(s)
          previous = b
        }
        assert.deepStrictEqual([...got].sort((x, y) => x - y), [...expected].sort((x, y) => x - y))
      }
    ))
  })

  it.effect("a crashed owner: each unsettled event up to the lease mark is a suspect charged once; dead, requeued, acked and filtered events are passed over", () =>
    Effect.gen(function*() {
      const store = yield* seeded({
        count: 10, floor: 2, acked: [[5, 6]], leasedUpto: 9, dead: [4], requeued: [7],
        rows: [
          { seq: 1, state: "retry", attempts: 1 }, // at or below the floor: an orphan
          { seq: 5, state: "retry", attempts: 1 }, // in an acked range: an orphan
          { seq: 3, state: "retry", attempts: 2 }, // charged: 3 attempts
          { seq: 8, state: "retry", attempts: 1 }, // filtered out now: done, row deleted
          { seq: 9, state: "running", attempts: 1 } // its start was recorded: already charged
        ]
      })
      const r = yield* recoverFrom(store, true, (e) => e.seq !== 8)
      assert.deepStrictEqual(worksOf(r.inFlight).map((w) => w.event.seq), [3, 9])
      // 9's row says it was running (a crash again): it runs alone; 3 is charged and runs concurrently.
      assert.deepStrictEqual([r.charged, r.suspects], [2, 1])
      assert.deepStrictEqual(worksOf(r.inFlight).map((w) => [w.attempts, w.precise, w.hasRow, w.lastError]), [[3, true, true, "failed 3"], [1, true, true, "failed 9"]])
      assert.deepStrictEqual(seqsOfWrites(r.writes, "upsert"), [3, 9])
      assert.deepStrictEqual(r.writes.flatMap((w) => (w._tag === "upsert" ? [[w.delivery.state, w.delivery.attempts]] : [])), [["suspect", 3], ["suspect", 1]])
      assert.deepStrictEqual(seqsOfWrites(r.writes, "delete"), [1, 5, 8])
      assert.deepStrictEqual(r.requeued.map((d) => d.seq), [7])
      const floor = r.ledger.floor(topic)
      assert.strictEqual(floor.floor, 2)
      assert.strictEqual(floor.position, 9)
      assert.strictEqual(floor.pendingCount, 2)
      assert.isTrue(r.ledger.settledApart(4) && r.ledger.settledApart(7))
    }).pipe(Effect.scoped))

  it.effect("keyed events: only a key's first event in the region is charged; the later ones wait as stubs, uncharged", () =>
    Effect.gen(function*() {
      // A backlog of two keys fetched far ahead (parked behind their keys), and a keyless event.
      const keys = ["a", "a", "b", "a", null, "b", "a", "a", "b"]
      const store = yield* seeded({
        count: 9, floor: 0, acked: [], leasedUpto: 9, dead: [1], requeued: [], keys,
        rows: [{ seq: 7, state: "running", attempts: 1 }] // its start was recorded: it was running
      })
      const r = yield* recoverFrom(store, true)
      assert.deepStrictEqual(r.inFlight.map((s) => (isParked(s) ? `stub ${s.seq}` : `${s.precise ? "suspect" : "work"} ${s.event.seq}`)), [
        "suspect 2", "suspect 3", "stub 4", "suspect 5", "stub 6", "suspect 7", "stub 8", "stub 9"
      ])
      assert.deepStrictEqual([r.charged, r.suspects], [4, 1], "7 was running (its start recorded): it runs alone")
      assert.deepStrictEqual(seqsOfWrites(r.writes, "upsert"), [2, 3, 5, 7])
      assert.deepStrictEqual(worksOf(r.inFlight).map((w) => w.attempts), [1, 1, 1, 1])
      assert.strictEqual(r.ledger.floor(topic).pendingCount, 8)
      // Under "strict" one lane holds every event: only the first is charged.
      const strict = yield* recoverFrom(yield* seeded({ count: 4, floor: 0, acked: [], leasedUpto: 4, dead: [], requeued: [], keys, rows: [] }), true, undefined, "strict")
      assert.deepStrictEqual(strict.inFlight.map((s) => (isParked(s) ? `stub ${s.seq}` : `suspect ${s.event.seq}`)), ["suspect 1", "stub 2", "stub 3", "stub 4"])
      // Without order every event may have been running.
      const none = yield* recoverFrom(yield* seeded({ count: 4, floor: 0, acked: [], leasedUpto: 4, dead: [], requeued: [], keys, rows: [] }), true, undefined, "none")
      assert.strictEqual(none.charged, 4)
    }).pipe(Effect.scoped))

  it.effect("a charged event with no error yet gets the crash's message", () =>
    Effect.gen(function*() {
      const store = yield* seeded({ count: 3, floor: 0, acked: [], leasedUpto: 2, dead: [], requeued: [], rows: [] })
      const r = yield* recoverFrom(store, true)
      assert.deepStrictEqual(worksOf(r.inFlight).map((w) => [w.event.seq, w.attempts, w.lastError]), [
        [1, 1, "the process stopped while the handler was running"],
        [2, 1, "the process stopped while the handler was running"]
      ])
      assert.strictEqual(r.ledger.floor(topic).position, 2, "event 3 was never leased: the fetcher reads it")
    }).pipe(Effect.scoped))

  it.effect("a clean handover: no region unless a suspect row is left; then only that row's event is a suspect", () =>
    Effect.gen(function*() {
      const clean = yield* recoverFrom(yield* seeded({ count: 6, floor: 1, acked: [], leasedUpto: 6, dead: [], requeued: [], rows: [{ seq: 4, state: "retry", attempts: 1 }] }), false)
      assert.deepStrictEqual([clean.inFlight.length, clean.suspects, clean.writes.length], [0, 0, 0])
      assert.strictEqual(clean.ledger.floor(topic).position, 1)
      assert.strictEqual(clean.ledger.takeRow(4)?.attempts, 1, "the retry row waits for its event to be fetched")

      const left = yield* recoverFrom(yield* seeded({ count: 6, floor: 1, acked: [], leasedUpto: 6, dead: [], requeued: [], rows: [{ seq: 4, state: "suspect", attempts: 2 }] }), false)
      assert.deepStrictEqual(worksOf(left.inFlight).map((w) => [w.event.seq, w.precise, w.attempts]), [[2, false, 0], [3, false, 0], [4, true, 2]])
      assert.deepStrictEqual([left.charged, left.suspects], [1, 1])
      assert.strictEqual(left.ledger.floor(topic).position, 4)
    }).pipe(Effect.scoped))

  it("property: suspects, charges, passed-over events and row deletes follow the rules", async () => {
    const seedArb = fc.integer({ min: 1, max: 14 }).chain((count) =>
      fc.record({
        count: fc.constant(count),
        floor: fc.integer({ min: 0, max: count }),
        leasedExtra: fc.integer({ min: 0, max: count }),
        ackedSeqs: fc.uniqueArray(fc.integer({ min: 1, max: count })),
        marks: fc.array(fc.constantFrom("none", "dead", "requeued", "retry", "suspect", "running"), { minLength: count, maxLength: count }),
        attempts: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: count, maxLength: count }),
        skipped: fc.uniqueArray(fc.integer({ min: 1, max: count })),
        crashed: fc.boolean(),
        keys: fc.array(fc.constantFrom(null, "a", "b", "c"), { minLength: count, maxLength: count }),
        ordering: fc.constantFrom<Ordering>("key", "strict", "none")
      })
    )
    await fc.assert(fc.asyncProperty(seedArb, (c) =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const acked = [...c.ackedSeqs].filter((s) => s > c.floor).sort((a, b) => a - b).map((s) => [s, s] as const)
        const isAcked = (s: number) => acked.some(([a]) => a === s)
        const leasedUpto = Math.min(c.count, c.floor + c.leasedExtra)
        const mark = (s: number) => c.marks[s - 1]!
        const rowSeqs = (states: ReadonlyArray<string>) => Array.from({ length: c.count }, (_, i) => i + 1).filter((s) => states.includes(mark(s)))
        const store = yield* seeded({
          count: c.count, floor: c.floor, acked, leasedUpto, keys: c.keys,
          dead: rowSeqs(["dead"]), requeued: rowSeqs(["requeued"]),
          rows: rowSeqs(["retry", "suspect", "running"]).map((seq) => ({ seq, state: mark(seq) as "retry", attempts: c.attempts[seq - 1]! }))
        })
        const r = yield* recoverFrom(store, c.crashed, (e) => !c.skipped.includes(e.seq), c.ordering)

        // The model.
        const hasRow = (s: number) => ["retry", "suspect", "running"].includes(mark(s))
        const orphan = (s: number) => hasRow(s) && (s <= c.floor || isAcked(s))
        const suspectRow = (s: number) => (mark(s) === "suspect" || mark(s) === "running") && !orphan(s)
        let end = c.crashed ? leasedUpto : c.floor
        for (let s = 1; s <= c.count; s++) if (suspectRow(s)) end = Math.max(end, s)
        const region = Array.from({ length: c.count }, (_, i) => i + 1).filter((s) => s > c.floor && s <= end && !isAcked(s))
        const candidates = region.filter((s) => !["dead", "requeued"].includes(mark(s)))
        const runs = candidates.filter((s) => !c.skipped.includes(s))
        // A key's later events in the region wait as stubs, uncharged (unless a row says they ran).
        const laneOf = (s: number) => (c.ordering === "none" ? undefined : c.ordering === "strict" ? "" : c.keys[s - 1] ?? undefined)
        const seen = new Set<string>()
        const stubs = runs.filter((s) => {
          const lane = laneOf(s)
          const later = lane !== undefined && seen.has(lane)
          if (lane !== undefined) seen.add(lane)
          return later && !suspectRow(s)
        })
        const works = runs.filter((s) => !stubs.includes(s))
        const suspects = works.filter((s) => c.crashed || suspectRow(s))
        const attemptsOf = (s: number) => (hasRow(s) ? c.attempts[s - 1]! : 0) + (suspectRow(s) ? 0 : 1)

        assert.deepStrictEqual(r.inFlight.map((s) => (isParked(s) ? s.seq : s.event.seq)), runs)
        assert.deepStrictEqual(worksOf(r.inFlight).map((w) => w.event.seq), works)
        assert.strictEqual(r.charged, suspects.length)
        // Those already suspect (a crash again) run alone first.
        assert.strictEqual(r.suspects, suspects.filter((s) => suspectRow(s)).length)
        assert.deepStrictEqual(worksOf(r.inFlight).filter((w) => w.precise).map((w) => w.event.seq), suspects)
        for (const w of worksOf(r.inFlight)) if (w.precise) assert.strictEqual(w.attempts, attemptsOf(w.event.seq))
        assert.deepStrictEqual(seqsOfWrites(r.writes, "upsert"), suspects)
        const deletes = [
          ...Array.from({ length: c.count }, (_, i) => i + 1).filter(orphan),
          ...candidates.filter((s) => c.skipped.includes(s) && hasRow(s))
        ]
        assert.deepStrictEqual(seqsOfWrites(r.writes, "delete"), deletes)
        assert.deepStrictEqual(r.requeued.map((d) => d.seq), rowSeqs(["requeued"]))
        const floor = r.ledger.floor(topic)
        assert.strictEqual(floor.pendingCount, runs.length)
        assert.strictEqual(floor.position, Math.max(c.floor, end))
        // Rows outside the region stay for the fetcher, and a stub's for its read back; those of
        // the region's work were taken by the scan.
        for (let s = c.floor + 1; s <= c.count; s++) {
          if (!hasRow(s) || orphan(s)) continue
          assert.strictEqual(r.ledger.takeRow(s) !== undefined, !region.includes(s) || stubs.includes(s), `row ${s}`)
        }
      })))
    ), { numRuns: 60 })
  })
})
