/** `retryDelay`: exponential retry delays, capped, spread by jitter from the fiber's `Random`. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Random } from "effect"
import { defaultBackoff, retryDelay } from "../../src/runtime/retryDelay.ts"

describe("retryDelay", () => {
  it.effect("exponential, capped, and jitter stays within its fraction", () =>
    Effect.gen(function*() {
      const random = yield* Random.Random
      const exact = { initialMs: 100, factor: 2, maxMs: 1000, jitter: 0 }
      assert.deepStrictEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelay(exact, n, random)), [100, 200, 400, 800, 1000, 1000])
      for (let n = 1; n < 10; n++) {
        const d = retryDelay(defaultBackoff, n, random)
        const base = Math.min(30_000, 500 * 2 ** (n - 1))
        assert.isTrue(d >= Math.floor(base * 0.8) && d <= Math.min(30_000, Math.ceil(base * 1.2)), `attempt ${n}: ${d}`)
      }
    }).pipe(Random.withSeed("jitter")))
})
