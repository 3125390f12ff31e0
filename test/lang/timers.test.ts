/**
 * Timers of a program that several processes run on one database fire in one of them: a standby's
 * timers wait, and take over when the active process stops (issue 11, item 10).
 */
import { afterEach, describe, expect, it } from "vitest"
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
