/**
 * `Testing.settle` and `Testing.advance` (src/testing.ts) under TestClock: a settle lets the bus
 * finish what it can do now however long a chain of handlers is, says so when the bus never stops,
 * and an in-memory bus does not poll for other processes' commits (none can reach it), so moving
 * the clock by days costs no more than the timers that fire.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Bus } from "../../src/index.ts"
import { Store } from "../../src/store/Store.ts"
import * as Testing from "../../src/testing.ts"

const memoryBus = Bus.sqlite({ filename: ":memory:" })

describe("Testing.settle and Testing.advance", () => {
  it.effect("a settle lets a chain of 12,000 handler publishes run to its end (it stopped at ~8,000, silently)", () =>
    Effect.gen(function*() {
      const bus = yield* Bus
      let last = -1
      yield* bus.subscribe("ping", "pp", (e, ctx) =>
        Effect.gen(function*() {
          const n = (e.payload as { n: number }).n
          last = n
          if (n < 12_000) yield* ctx.publish("ping", { n: n + 1 })
        }), { from: "earliest" })
      yield* bus.publish("ping", { n: 0 })
      yield* Testing.settle
      assert.strictEqual(last, 12_000)
    }).pipe(Effect.provide(memoryBus)), 120_000)

  it.effect("a settle on a bus whose handlers publish to each other without end dies, saying so", () =>
    Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.subscribe("ping", "pp", (e, ctx) => ctx.publish("ping", { n: (e.payload as { n: number }).n + 1 }), { from: "earliest" })
      yield* bus.publish("ping", { n: 0 })
      // Testing.settle gives it 60 s of real time; the same settle with 2 s here.
      const exit = yield* Effect.exit(Testing.settleWithin(2_000))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) assert.match(String(Cause.squash(exit.cause)), /Testing\.settle: the bus was still working after 2 s of real time .*handlers publishing to each other without end/)
    }).pipe(Effect.provide(memoryBus)), 120_000)

  it.effect("an in-memory bus does not poll for other processes' commits: advancing it by a week costs only its timers (a day took minutes)", () =>
    Effect.gen(function*() {
      const store = yield* Store
      assert.isUndefined(store.capabilities.changeToken, "no other connection can commit to an in-memory database")
      const bus = yield* Bus
      let handled = 0
      yield* bus.subscribe("t", "g", () => Effect.sync(() => handled++), { from: "earliest", leaseMs: 3_600_000 })
      yield* bus.publish("t", { n: 1 })
      yield* Testing.advance("7 days")
      yield* bus.publish("t", { n: 2 })
      yield* Testing.settle
      assert.strictEqual(handled, 2)
    }).pipe(Effect.provide(memoryBus)), 60_000)
})
