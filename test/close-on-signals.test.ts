/** rt.closeOnSignals: a Promise-API app stopped by SIGTERM drains, closes and exits 0 (subprocesses). */
import { rmSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createRuntime } from "../src/index.ts"
import { type Child, fixture, sleep, spawnNode } from "./helpers/child.ts"
import { makeTmpDir } from "./helpers/tmp.ts"

const start = (db: string, mode: string) => {
  const child = spawnNode(fixture("signals-child.ts"), [db, mode])
  let stdout = ""
  child.process.stdout!.on("data", (d) => (stdout += String(d)))
  return { child, stdout: () => stdout }
}

const waitFor = async (out: () => string, text: string, child: Child) => {
  let exited = false
  void child.exited.then(() => (exited = true))
  while (!out().includes(text)) {
    if (exited) throw new Error(`exited before printing ${JSON.stringify(text)}: ${out()}`)
    await sleep(10)
  }
}

describe("rt.closeOnSignals", () => {
  let dir: string
  beforeEach(() => {
    dir = makeTmpDir()
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it("SIGTERM runs onSignal, lets the running handler finish, closes and exits 0", async () => {
    const db = join(dir, "bus.db")
    const app = start(db, "drain")
    await waitFor(app.stdout, "handling", app.child)
    app.child.process.kill("SIGTERM")
    const exit = await app.child.exited
    expect(exit.code, exit.stderr).toBe(0)
    expect(app.stdout()).toBe("handling\nsignal SIGTERM\nhandled\n")
    // The handler's publish and ack committed before the process ended.
    const rt = await createRuntime({ db })
    try {
      expect((await rt.read("jobs.done", 0, 10)).length).toBe(1)
      expect(await rt.getCursor("jobs", "workers")).toBe(1)
    } finally {
      await rt.close()
    }
  }, 30_000)

  it("a second signal exits at once with 128 + its number", async () => {
    const app = start(join(dir, "bus.db"), "stuck")
    await waitFor(app.stdout, "handling", app.child)
    app.child.process.kill("SIGINT")
    await waitFor(app.stdout, "signal SIGINT", app.child)
    app.child.process.kill("SIGTERM")
    const exit = await app.child.exited
    expect(exit.code, exit.stderr).toBe(143)
  }, 30_000)

  it("the function it returns removes the listeners (Node's default applies again)", async () => {
    const app = start(join(dir, "bus.db"), "removed")
    await waitFor(app.stdout, "handling", app.child)
    app.child.process.kill("SIGTERM")
    const exit = await app.child.exited
    expect(exit.signal).toBe("SIGTERM")
    expect(app.stdout()).not.toContain("signal")
  }, 30_000)

  it("refuses options it does not know (a misspelt onSignal would skip the application's shutdown work), installing nothing", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    const before = process.listenerCount("SIGTERM")
    expect(() => rt.closeOnSignals({ onsignal: () => undefined } as never)).toThrow(`closeOnSignals: unknown option "onsignal"; valid options: signals, onSignal, exit`)
    expect(process.listenerCount("SIGTERM")).toBe(before)
    await rt.close()
  })
})
