/**
 * Compaction against a model (fast-check), under TestClock, on a shared database of every store
 * factory (a real file on SQLite). Random steps publish values and tombstones on a compacted
 * topic, compact on demand, or let time pass (the scheduled maintenance fiber compacts too, in
 * small batches); meanwhile groups consume at different speeds (their handlers sleep on the
 * clock) and dead-letter poison values. After every step: `latestByKey` equals the model, every
 * dead letter's event is still stored, and seqs only grow. At the end, once the groups have caught
 * up: each group handled or dead-lettered every event ever published (compaction never made one
 * skip an event), and the topic holds exactly the latest event of each live key, plus what dead
 * letters pin. The `.sib` test at the end runs on the test runner's own in-memory bus.
 */
import { Effect, Layer, References } from "effect"
import { TestClock } from "effect/testing"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { loadProgram } from "../../src/program/load.ts"
import { runTests } from "../../src/program/testRunner.ts"
import { Bus } from "../../src/facade/Bus.ts"
import type { Event } from "../../src/store/records.ts"
import { advance } from "../helpers/recorder.ts"
import { storeFactories } from "../helpers/stores.ts"
import { Store } from "../../src/store/Store.ts"

const slow = process.env.SIB_SLOW === "1"
const keys = ["k0", "k1", "k2", "k3", "k4"]
/** Values the handlers always fail on: their events end as dead letters. */
const poison = (v: number | null) => v !== null && v % 7 === 3

type Step =
  | { readonly _tag: "publish"; readonly items: ReadonlyArray<{ readonly key: number; readonly value: number | null }> }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "compact" }

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      _tag: fc.constant("publish" as const),
      items: fc.array(
        fc.record({ key: fc.integer({ min: 0, max: keys.length - 1 }), value: fc.option(fc.integer({ min: 0, max: 99 }), { freq: 4, nil: null }) }),
        { minLength: 1, maxLength: 6 }
      )
    })
  },
  { weight: 3, arbitrary: fc.record({ _tag: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 60 }) }) },
  { weight: 2, arbitrary: fc.constant({ _tag: "compact" as const }) }
)

const scenario = fc.record({
  steps: fc.array(step, { minLength: 1, maxLength: 25 }),
  /** One group per entry: how long (ms of TestClock) its handler takes. */
  groupDelays: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 3 }),
  deleteRetentionMs: fc.integer({ min: 0, max: 50 }),
  batchSize: fc.integer({ min: 1, max: 5 }),
  intervalMs: fc.integer({ min: 5, max: 40 })
})
type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never

const quiet = Layer.succeed(References.MinimumLogLevel, process.env.SIB_LOG === "1" ? "Debug" : "None")

const runScenario = (s: Scenario, location: string) =>
  Effect.gen(function*() {
    const bus = yield* Effect.service(Bus)
    const topic = "state"
    yield* bus.defineTopic(topic, { compaction: true, deleteRetentionMs: s.deleteRetentionMs })
    const groups = s.groupDelays.map((_, g) => `g${g}`)
    const handled = groups.map(() => new Set<string>())
    for (const [g, delay] of s.groupDelays.entries()) {
      yield* bus.subscribe(topic, groups[g]!, (e) =>
        Effect.gen(function*() {
          if (delay > 0) yield* Effect.sleep(delay)
          if (poison(e.payload as number | null)) return yield* Effect.fail(new Error("poison"))
          handled[g]!.add(e.id)
        }), { from: "earliest", maxAttempts: 2, backoff: { initialMs: 1, factor: 1, maxMs: 1, jitter: 0 } })
    }

    const published: Array<Event> = []
    const latest = new Map<string, Event>()
    let maxSeq = 0

    const check = (where: string) =>
      Effect.gen(function*() {
        const stored = yield* bus.latestByKey(topic, keys)
        const expected = [...latest].filter(([, e]) => e.payload !== null).map(([k, e]) => [k, e.id])
        expect([...stored].map(([k, e]) => [k, e.id]).sort(), `latestByKey after ${where}`).toEqual(expected.sort())
        for (const dl of yield* bus.deadLetters()) {
          expect((yield* (yield* Store).runtime.readSeqs([dl.seq])).length, `dead letter ${dl.seq} of ${dl.group} after ${where}`).toBe(1)
        }
      })

    for (const [i, st] of s.steps.entries()) {
      if (st._tag === "publish") {
        const events = yield* bus.publishAll(st.items.map((it) => ({ topic, payload: it.value, key: keys[it.key]! })))
        for (const e of events) {
          expect(e.seq).toBeGreaterThan(maxSeq)
          maxSeq = e.seq
          published.push(e)
          latest.set(e.key!, e)
        }
      } else if (st._tag === "advance") {
        yield* advance(st.ms)
      } else {
        yield* bus.compact(topic)
      }
      yield* check(`step ${i} (${st._tag})`)
    }

    // Let every group catch up (handlers sleep, poison events retry once, then dead-letter).
    const caughtUp = (g: number, dead: ReadonlySet<string>) => published.every((e) => handled[g]!.has(e.id) || dead.has(e.id))
    for (let round = 0; ; round++) {
      const dls = yield* bus.deadLetters()
      const done = groups.every((name, g) => caughtUp(g, new Set(dls.filter((d) => d.group === name).map((d) => d.eventId))))
      if (done) break
      if (round === 300) {
        const missing = groups.map((name, g) => [name, published.filter((e) => !handled[g]!.has(e.id) && !dls.some((d) => d.group === name && d.eventId === e.id)).map((e) => e.seq)])
        expect.fail(`groups did not catch up (database ${location}): ${JSON.stringify(missing)}`)
      }
      yield* advance(50)
    }
    for (const [g, name] of groups.entries()) {
      const dead = (yield* bus.deadLetters({ group: name })).map((d) => d.eventId)
      for (const e of published) {
        expect(handled[g]!.has(e.id) || dead.includes(e.id), `${name} handled or dead-lettered seq ${e.seq}`).toBe(true)
        expect(poison(e.payload as number | null), `${name}: seq ${e.seq} dead only if poison`).toBe(!handled[g]!.has(e.id))
      }
    }

    // Everyone is done and the tombstones are old enough: one more pass leaves only current state.
    yield* advance(s.deleteRetentionMs + 1)
    yield* bus.compact(topic)
    yield* check("the final compaction")
    const pinned = new Set((yield* bus.deadLetters()).map((d) => d.seq))
    const remaining = yield* bus.read(topic, 0, 10_000)
    const remainingSeqs = new Set(remaining.map((e) => e.seq))
    for (const e of remaining) {
      const isLatest = latest.get(e.key!)?.id === e.id
      const olderPinned = [...pinned].some((seq) => seq < e.seq && remainingSeqs.has(seq) && published.find((p) => p.seq === seq)?.key === e.key)
      const allowed = pinned.has(e.seq) || (isLatest && (e.payload !== null || olderPinned))
      expect(allowed, `seq ${e.seq} (key ${e.key}, ${JSON.stringify(e.payload)}) is neither current state nor pinned`).toBe(true)
    }
    for (const e of latest.values()) {
      if (e.payload !== null) expect(remainingSeqs.has(e.seq), `the latest event of ${e.key} is kept`).toBe(true)
    }
  })

describe.each(storeFactories)("compaction against a model ($name)", (factory) => {
  it("random publishes, tombstones and compactions with groups consuming: current state always right, no group skips", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const location = factory.shared()
        try {
          const layer = Bus.open(location, { maintenance: { intervalMs: s.intervalMs, batchSize: s.batchSize } })
          await Effect.runPromise(runScenario(s, location).pipe(
            Effect.provide(layer),
            Effect.provide(Layer.mergeAll(TestClock.layer(), quiet)),
            Effect.scoped
          ))
        } finally {
          factory.drop(location)
        }
      }),
      { numRuns: slow ? 300 : 30 }
    )
  }, slow ? 600_000 : 60_000)
})

describe("compaction in .sib", () => {
  it("latest reads current state, a nil payload deletes its key, and the bus's scheduled compactor keeps one event per key", async () => {
    const text = `
(define-topic "state" {:compaction true :key :pid :deleteRetention "5m"})

(deftest "state per key"
  (publish! "state" {:pid 1 :up true})
  (publish! "state" {:pid 1 :up false})
  (publish! "state" {:pid 2 :up true})
  (publish! "state" nil :key "2")
  (expect= false (:up (latest "state" "1")))
  (expect= nil (latest "state" "2"))
  (expect= 4 (count (published "state")))
  (advance! "1m")
  (expect= [{:pid 1 :up false} nil] (map :payload (published "state")))
  (advance! "5m")
  (expect= [{:pid 1 :up false}] (map :payload (published "state")))
  (expect= nil (latest "state" "2")))
`
    const report = await Effect.runPromise(Effect.flatMap(loadProgram([{ file: "state.sib", text }]), (program) => runTests(program)))
    expect(report.results.flatMap((r) => r.failures.map((f) => f.message))).toEqual([])
    expect(report.passed).toBe(1)
  })
})
