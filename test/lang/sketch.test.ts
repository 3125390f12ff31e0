/** The original design sketch reads, expands and runs as written, on a real SQLite file. */
import { expect, it } from "vitest"
import * as Effect from "effect/Effect"
import { join } from "node:path"
import { loadProgram } from "../../src/program/load.ts"
import { startProgram } from "../../src/program/start.ts"
import { Bus } from "../../src/facade/Bus.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const sketch = join(import.meta.dirname, "..", "fixtures", "sketch", "sketch.sib")

it("the design sketch subscribes, publishes and handles on a real bus", async () => {
  const handled: Array<unknown> = []
  const filename = join(makeTmpDir(), "sketch.db")
  const { program, events, cursor } = await Effect.runPromise(Effect.gen(function*() {
    const program = yield* loadProgram([sketch], { host: { "do-something": (payload) => void handled.push(payload) } })
    const bus = yield* Bus
    const running = yield* startProgram(program, bus)
    while (handled.length < 2) yield* Effect.sleep(5)
    yield* running.stop
    const events = yield* bus.read("heartbeat.received", 0, 10)
    const cursor = yield* bus.getCursor("heartbeat.received", "ops")
    return { program, events, cursor }
  }).pipe(Effect.scoped, Effect.provide(Bus.sqlite({ filename }))))

  // The user's define-topic macro replaced the built-in: it defines no topic, it returns a map.
  expect(program.topics).toEqual([])
  expect(program.subscriptions.map((s) => [s.topics, s.group, s.options])).toEqual([
    [["heartbeat.received"], "ops", { from: "earliest", batchSize: 100 }]
  ])
  expect(handled).toEqual([{ pid: 42, name: "stt" }, { pid: 43, name: "tts" }])
  expect(events.map((e) => [e.key ?? null, e.payload])).toEqual([[null, { pid: 42, name: "stt" }], ["43", { pid: 43, name: "tts" }]])
  expect(cursor).toBe(events[1]!.seq)
}, 30_000)
