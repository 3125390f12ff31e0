/** Event ids: UUIDv7 from the fiber's `Clock` and `Random`, increasing, the same for the same seed. */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Random } from "effect"
import { makeIdGenerator } from "../../src/runtime/ids.ts"

describe("ids", () => {
  it.effect("UUIDv7: version and variant bits, time prefix, strictly increasing within a millisecond", () =>
    Effect.gen(function*() {
      const clock = yield* Clock.Clock
      const random = yield* Random.Random
      const gen = makeIdGenerator()
      const ids = Array.from({ length: 1000 }, () => gen.next(clock, random))
      for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.deepStrictEqual([...ids].sort(), ids)
      assert.strictEqual(new Set(ids).size, ids.length)
      assert.strictEqual(ids[0]!.slice(0, 13), "00000000-0000", "TestClock starts at 0 ms")
    }).pipe(Random.withSeed("ids")))

  it.effect("the same seed gives the same ids", () =>
    Effect.gen(function*() {
      const run = Effect.gen(function*() {
        const gen = makeIdGenerator()
        const clock = yield* Clock.Clock
        const random = yield* Random.Random
        return Array.from({ length: 5 }, () => gen.next(clock, random))
      })
      assert.deepStrictEqual(yield* run.pipe(Random.withSeed(7)), yield* run.pipe(Random.withSeed(7)))
      assert.notDeepEqual(yield* run.pipe(Random.withSeed(7)), yield* run.pipe(Random.withSeed(8)))
    }))
})
