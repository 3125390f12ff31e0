/**
 * A property test of delivery against a simple model. Random scenarios publish batches, let the
 * consumer run, restart it gracefully, or crash it (its database handle is closed under it, so it
 * can never write again; its successor must treat it as dead). Handlers fail according to a random
 * plan. At the end, against the model:
 * - nothing is lost or skipped: every event was handled successfully or is a dead letter;
 * - only failures and crash charges dead-letter an event; an event failing every run ends dead;
 * - per key, first successes follow publish order (dead letters are skipped over);
 * - after a graceful restart, an event already handled is not delivered again;
 * - the stored cursor reaches the head.
 */
import SqliteDatabase from "better-sqlite3"
import { Effect, Layer, ManagedRuntime, References } from "effect"
import fc from "fast-check"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { Bus } from "../../src/facade/Bus.ts"
import type { HostInfo } from "../../src/runtime/HostInfo.ts"
import * as Sqlite from "../../src/store/sqlite/SqliteStore.ts"
import { Store } from "../../src/store/Store.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const slow = process.env.SIB_SLOW === "1"
const maxAttempts = 4

type Step =
  | { readonly _tag: "publish"; readonly count: number }
  | { readonly _tag: "run"; readonly ms: number }
  | { readonly _tag: "restart" }
  | { readonly _tag: "crash" }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("publish" as const), count: fc.integer({ min: 1, max: 25 }) }) },
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("run" as const), ms: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "restart" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "crash" as const }) }
)

const scenario = fc.record({
  steps: fc.array(step, { minLength: 2, maxLength: 8 }),
  keys: fc.integer({ min: 1, max: 4 }),
  failPlan: fc.array(fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 2 }) }, { weight: 1, arbitrary: fc.constant(9) }), { maxLength: 200 }),
  maxInFlight: fc.integer({ min: 1, max: 8 }),
  batchSize: fc.integer({ min: 1, max: 20 }),
  commitIntervalMs: fc.integer({ min: 1, max: 20 })
})

interface HandlerRun {
  readonly n: number
  readonly ok: boolean
  readonly generation: number
}

const quiet = Layer.succeed(References.MinimumLogLevel, process.env.SIB_LOG === "1" ? "Debug" : "None")

type Scenario = typeof scenario extends fc.Arbitrary<infer S> ? S : never
const runScenario = async (s: Scenario) => {
  const dir = makeTmpDir()
  const file = join(dir, "bus.db")
  const runs: Array<HandlerRun> = []
  const failuresSoFar = new Map<number, number>()
  const dead = new Set<number>()
  const endings: Array<"graceful" | "crash"> = []
  let published = 0
  let generation = 0

  const open = () => {
    const handle = new SqliteDatabase(file)
    const pid = 1_000_000 + generation
    const host: HostInfo = { pid, hostname: "model-host", isAlive: (p) => p === pid }
    const layer = Bus.layer({ host }).pipe(Layer.provideMerge(Sqlite.layer({ filename: file, database: handle })), Layer.provideMerge(quiet))
    const rt = ManagedRuntime.make(layer)
    const gen = generation
    return {
      handle,
      rt,
      start: async () => {
        const bus = await rt.runPromise(Effect.service(Bus))
        await rt.runPromise(bus.subscribe("t", "g", (event) =>
          Effect.suspend(() => {
            const n = (event.payload as { n: number }).n
            const failedBefore = failuresSoFar.get(n) ?? 0
            const fail = failedBefore < (s.failPlan[n] ?? 0)
            runs.push({ n, ok: !fail, generation: gen })
            if (fail) {
              failuresSoFar.set(n, failedBefore + 1)
              return Effect.fail(new Error(`planned failure ${failedBefore + 1} of event ${n}`))
            }
            return Effect.void
          }), {
          from: "earliest", maxAttempts, maxInFlight: s.maxInFlight, batchSize: s.batchSize,
          commitIntervalMs: s.commitIntervalMs, backoff: { initialMs: 1, factor: 1, maxMs: 1, jitter: 0 }
        }))
        return bus
      }
    }
  }

  try {
    let current = open()
    let bus = await current.start()
    for (const st of s.steps) {
      switch (st._tag) {
        case "publish": {
          const items = Array.from({ length: st.count }, (_, i) => ({ topic: "t", payload: { n: published + i }, key: `k${(published + i) % s.keys}` }))
          published += st.count
          await current.rt.runPromise(bus.publishAll(items))
          break
        }
        case "run":
          await new Promise((resolve) => setTimeout(resolve, st.ms))
          break
        case "restart":
        case "crash": {
          if (st._tag === "crash") current.handle.close()
          await current.rt.dispose()
          if (st._tag === "restart") current.handle.close()
          endings.push(st._tag === "crash" ? "crash" : "graceful")
          generation++
          current = open()
          bus = await current.start()
          break
        }
      }
    }
    // Let the last generation catch up.
    const deadline = Date.now() + 15_000
    for (;;) {
      const stats = bus.groupStats("g")
      const head = await current.rt.runPromise(Effect.flatMap(Effect.service(Store), (store) => store.runtime.headSeq("t")))
      if (stats !== undefined && (stats.floors.t ?? 0) >= head && stats.buffered === 0) break
      if (Date.now() > deadline) throw new Error(`did not catch up: ${JSON.stringify(stats)} head ${head}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    for (const dl of await current.rt.runPromise(bus.deadLetters({ group: "g" }))) {
      const [event] = await current.rt.runPromise(Effect.flatMap(Effect.service(Store), (store) => store.runtime.readSeqs([dl.seq])))
      dead.add((event!.payload as { n: number }).n)
    }
    const head = await current.rt.runPromise(Effect.flatMap(Effect.service(Store), (store) => store.runtime.headSeq("t")))
    await current.rt.dispose()
    current.handle.close()
    endings.push("graceful")

    const cursorDb = new SqliteDatabase(file, { readonly: true })
    const cursor = cursorDb.prepare("select floor from cursors where grp = 'g' and topic = 't'").get() as { floor: number } | undefined
    cursorDb.close()
    if ((cursor?.floor ?? 0) !== head) { const d = new SqliteDatabase(file, { readonly: true }); console.log("CURSOR", d.prepare("select * from cursors").all(), d.prepare("select * from consumer_groups").all(), d.prepare("select grp, seq, state, attempts from deliveries").all()); d.close() }
    expect(cursor?.floor ?? 0).toBe(head)

    const crashes = endings.filter((e) => e === "crash").length
    const firstSuccess = new Map<number, number>()
    runs.forEach((r, i) => {
      if (r.ok && !firstSuccess.has(r.n)) firstSuccess.set(r.n, i)
    })
    for (let n = 0; n < published; n++) {
      const plan = s.failPlan[n] ?? 0
      expect(firstSuccess.has(n) || dead.has(n), `event ${n} was neither handled nor dead-lettered`).toBe(true)
      if (dead.has(n)) {
        expect(plan + crashes, `event ${n} dead-lettered with plan ${plan} and ${crashes} crash(es)`).toBeGreaterThanOrEqual(maxAttempts)
      }
      if (plan >= maxAttempts) expect(dead.has(n), `event ${n} fails every run, so it must end dead`).toBe(true)
    }
    for (let k = 0; k < s.keys; k++) {
      const order = [...firstSuccess].filter(([n]) => n % s.keys === k).sort((a, b) => a[1] - b[1]).map(([n]) => n)
      expect(order, `key k${k}: first successes in publish order`).toEqual([...order].sort((a, b) => a - b))
    }
    for (const [n, at] of firstSuccess) {
      const succeededIn = runs[at]!.generation
      for (const later of runs.filter((r) => r.n === n && r.generation > succeededIn)) {
        const between = endings.slice(succeededIn, later.generation)
        expect(between.includes("crash"), `event ${n} redelivered after graceful restart(s) only`).toBe(true)
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("delivery model", () => {
  it("random publish / failure / restart / crash sequences keep the delivery guarantees", async () => {
    if (process.env.SIB_CASE) { await runScenario(JSON.parse(process.env.SIB_CASE)); return }
    await fc.assert(fc.asyncProperty(scenario, runScenario), { numRuns: slow ? 150 : 25, verbose: true })
  }, 300_000)
})
