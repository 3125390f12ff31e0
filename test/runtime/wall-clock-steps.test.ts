/**
 * Deadlines inside a process run on monotonic time (issue 13): with the wall clock stepped back an
 * hour while a handler hangs, its ackTimeoutMs still fires on time (retries already wait a relative
 * delay, computed when the run fails). On the TestClock, with the bus's wall clock stepped
 * by a Clock that wraps it (monotonic time untouched, as NTP or an operator stepping the clock
 * leaves CLOCK_MONOTONIC).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect } from "effect"
import { TestClock } from "effect/testing"
import { Bus } from "../../src/facade/Bus.ts"
import { makeRecorder, settle } from "../helpers/recorder.ts"

/** The TestClock with a wall time that can be stepped (`step.by`), its monotonic time unchanged. */
const steppable = Effect.map(Clock.clockWith(Effect.succeed), (base) => {
  const step = { by: 0 }
  const clock: Clock.Clock = {
    ...base,
    currentTimeMillisUnsafe: () => base.currentTimeMillisUnsafe() + step.by,
    currentTimeMillis: Effect.sync(() => base.currentTimeMillisUnsafe() + step.by),
    currentTimeNanosUnsafe: () => base.currentTimeNanosUnsafe() + BigInt(step.by) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => base.currentTimeNanosUnsafe() + BigInt(step.by) * 1_000_000n)
  }
  return { clock, step }
})

const hour = 3_600_000

describe("the wall clock stepped back an hour", () => {
  it.effect("a hanging handler's ackTimeoutMs fires on time", () =>
    Effect.gen(function*() {
      const { clock, step } = yield* steppable
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        const rec = yield* makeRecorder
        yield* bus.subscribe("t", "g", rec.handler((_e, ctx) => (ctx.attempt === 1 ? Effect.never : Effect.void)), {
          from: "earliest", ackTimeoutMs: 1000, backoff: { initialMs: 0, jitter: 0 }
        })
        yield* bus.publish("t", { n: 1 })
        yield* settle
        assert.strictEqual(rec.all.length, 1)
        step.by = -hour
        yield* TestClock.adjust(1100)
        yield* settle
        assert.deepStrictEqual(rec.all.map((d) => d.attempt), [1, 2], "the hung run timed out after ackTimeoutMs and ran again")
      }).pipe(Effect.provide(Bus.open(":memory:", { metrics: false })), Effect.provideService(Clock.Clock, clock))
    }))
})
