/**
 * Testing a handler under Effect's TestClock: a retry after its backoff, with no real waiting.
 * The README shows this file (importing "sibus"); vitest runs it with the project's tests.
 */
import { expect, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { Bus, Testing } from "../../src/index.ts"

it.effect("a failed run is retried after its backoff", () =>
  Effect.gen(function*() {
    const bus = yield* Bus
    const runs: Array<number> = []
    yield* bus.subscribe("jobs", "workers", () =>
      Effect.gen(function*() {
        runs.push(yield* Clock.currentTimeMillis)
        if (runs.length === 1) return yield* Effect.fail(new Error("not yet"))
      }), { from: "earliest", backoff: { initialMs: 500, jitter: 0 } }) // jitter 0: an exact time
    yield* bus.publish("jobs", { n: 1 })
    yield* Testing.settle                    // the first run happened, and failed
    expect(runs).toEqual([0])
    yield* Testing.advance("499 millis")
    expect(runs).toEqual([0])
    yield* Testing.advance("1 millis")       // the retry runs now
    expect(runs).toEqual([0, 500])
  }).pipe(Effect.provide(Bus.sqlite({ filename: ":memory:" }))))
