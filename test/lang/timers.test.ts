/**
 * Timers of a program that several processes run on one database fire in one of them: a standby's
 * timers wait, and take over when the active process stops (issue 11, item 10). A timer whose bus
 * closes under it (the process stopping) ends quietly: its tick is cut short, not a failure.
 */
import { afterEach, describe, expect, it } from "vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/testing/TestClock"
import { Bus } from "../../src/facade/Bus.ts"
import { loadProgram } from "../../src/program/load.ts"
import { startProgram } from "../../src/program/start.ts"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { createRuntime, type Event, type LoadedProgram, type Runtime } from "../../src/index.ts"
import { storeFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const waitFor = async (check: () => Promise<boolean> | boolean, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const heartbeat = `(every! "20ms" (fn [] (publish! "beat" {:n 1})))\n(after! "30ms" (fn [] (publish! "once" {:n 1})))\n`

describe.each(storeFactories)("timers across processes ($name)", (factory) => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })
  const runtime = async (db: string) => {
    const rt = await createRuntime({ db })
    open.push(rt)
    return rt
  }
  const sidsOf = (events: ReadonlyArray<Event>) => new Set(events.map((e) => e.sid))

  it("two runtimes running the same program: its timers fire in one; the other takes over when it stops", async () => {
    const db = factory.shared()
    const path = join(makeTmpDir(), "beats.sib")
    writeFileSync(path, heartbeat)
    const a = await runtime(db)
    const b = await runtime(db)
    const first: LoadedProgram = await a.load(path)
    await waitFor(async () => (await a.read("beat", 0, 1000)).length >= 3)
    await b.load(path)
    await waitFor(async () => (await b.read("beat", 0, 1000)).length >= 15)
    expect([...sidsOf(await b.read("beat", 0, 1000))]).toEqual([a.sid])
    expect((await b.read("once", 0, 10)).map((e) => e.sid)).toEqual([a.sid])

    await first.stop()
    await waitFor(async () => (await b.read("beat", 0, 10_000)).filter((e) => e.sid === b.sid).length >= 5, 5000)
    const beats = await b.read("beat", 0, 10_000)
    const takeover = beats.findIndex((e) => e.sid === b.sid)
    expect(beats.slice(takeover).every((e) => e.sid === b.sid), "once taken over, only the new holder fires").toBe(true)
    expect((await b.read("once", 0, 10)).map((e) => e.sid), "after! fires once per holder: the new holder runs it when it takes over").toEqual([a.sid, b.sid])
  })

  it("a changed timer is another timer: both programs' timers fire", async () => {
    const db = factory.shared()
    const dir = makeTmpDir()
    writeFileSync(join(dir, "one.sib"), `(every! "20ms" (fn [] (publish! "beat" {:from "one"})))\n`)
    writeFileSync(join(dir, "two.sib"), `(every! "20ms" (fn [] (publish! "beat" {:from "two"})))\n`)
    const a = await runtime(db)
    const b = await runtime(db)
    await a.load(join(dir, "one.sib"))
    await b.load(join(dir, "two.sib"))
    await waitFor(async () => {
      const froms = new Set((await a.read("beat", 0, 1000)).map((e) => (e.payload as { from: string }).from))
      return froms.has("one") && froms.has("two")
    })
  })

  it("two programs whose timers read the same, in files of the same name, are two programs: both fire", async () => {
    const db = factory.shared()
    const x = makeTmpDir()
    const y = makeTmpDir()
    writeFileSync(join(x, "app.sib"), `(defn tick [] (publish! "from-x" {:x 1}))\n(every! "20ms" tick)\n`)
    writeFileSync(join(y, "app.sib"), `(defn tick [] (publish! "from-y" {:y 1}))\n(every! "20ms" tick)\n`)
    const a = await runtime(db)
    const b = await runtime(db)
    await a.load(join(x, "app.sib"))
    await b.load(join(y, "app.sib"))
    await waitFor(async () => (await a.read("from-x", 0, 10)).length >= 2 && (await a.read("from-y", 0, 10)).length >= 2)
  })
})

describe("a timer whose bus closes under it", () => {
  it("has its tick cut short without a failure, and fires no more", async () => {
    let ticks = 0
    const program = await Effect.runPromise(loadProgram([{
      file: "rep.sib",
      text: `(declare-host counted)\n(defn tick [] (counted) (publish! "beat" {:n 1}))\n(every! "1s" tick)\n`
    }], { host: { counted: () => void ticks++ } }))
    const failures: Array<string> = []
    await Effect.runPromise(Effect.gen(function*() {
      const busScope = yield* Scope.make()
      const bus = Context.get(yield* Layer.buildWithScope(Bus.sqlite({ filename: ":memory:" }), busScope), Bus)
      const running = yield* startProgram(program, bus, { onTimerError: (e) => void failures.push(e.message) })
      /** Moves the test clock by `ms`, then lets the tick that fired finish (its publish commits on the live loop). */
      const fire = (ms: number) =>
        Effect.gen(function*() {
          yield* TestClock.adjust(ms)
          for (let i = 0; i < 20; i++) yield* TestClock.withLive(Effect.sleep(5))
        })
      yield* fire(1000)
      expect(ticks).toBe(1)
      expect((yield* bus.read("beat", 0, 10)).length).toBe(1)
      // The bus closes before the program stops (sib run's scopes closed in this order on a signal).
      yield* Scope.close(busScope, Exit.void)
      yield* fire(1000)
      expect(ticks).toBe(2)
      yield* fire(3000)
      expect(failures).toEqual([])
      expect(ticks, "the timer ended with the tick the closed bus cut short").toBe(2)
      yield* running.stop
    }).pipe(Effect.scoped, Effect.provide(TestClock.layer())))
  })
})
