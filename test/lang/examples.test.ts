/** The dsl-examples program: it loads, its own deftests pass, and it runs for real on a file. */
import { describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import { loadProgram } from "../../src/program/load.ts"
import { startProgram } from "../../src/program/start.ts"
import { runTests } from "../../src/program/testRunner.ts"
import { Bus } from "../../src/facade/Bus.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const main = join(import.meta.dirname, "..", "..", "dsl-examples", "main.sib")

describe("dsl-examples", () => {
  it("every deftest of the example program passes", async () => {
    const report = await Effect.runPromise(Effect.flatMap(loadProgram([main]), (program) => runTests(program)))
    for (const r of report.results) expect(r.failures.map((f) => `${r.name}: ${f.message}`)).toEqual([])
    expect(report.results.length).toBeGreaterThanOrEqual(6)
    expect(report.failed).toBe(0)
  }, 60_000)

  it("runs on a SQLite file: heartbeats flow into process.state", async () => {
    const filename = join(makeTmpDir(), "sib.db")
    const states = await Effect.runPromise(Effect.gen(function*() {
      const program = yield* loadProgram([main])
      const bus = yield* Bus
      const running = yield* startProgram(program, bus)
      yield* Effect.sleep(2300)
      yield* running.stop
      return yield* bus.read("process.state", 0, 1000)
    }).pipe(Effect.scoped, Effect.provide(Bus.sqlite({ filename }))))
    expect(states.length).toBeGreaterThanOrEqual(4)
    // The planner (103) stalls 6 s in every 20 s of wall-clock time, so it may be silent in this window.
    const keys = new Set(states.map((s) => s.key))
    expect(keys.has("101") && keys.has("102")).toBe(true)
    expect([...keys].every((k) => ["101", "102", "103"].includes(k!))).toBe(true)
    expect(states.every((s) => (s.payload as { beats: number }).beats >= 1)).toBe(true)
  }, 30_000)
})
