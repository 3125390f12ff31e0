/**
 * Testing handlers under Effect's `TestClock`. `TestClock.adjust` runs the fibers whose sleeps come
 * due, but not fibers that are ready and have not run yet: a publish's delivery, a handler's retry
 * that was just scheduled. `settle` lets them run first (and, on a store whose calls are
 * asynchronous I/O, Postgres, lets real time pass until none is under way); `advance` settles,
 * moves the clock and settles again, so what a test asserts after it has happened.
 *
 * ```ts
 * yield* bus.publish("jobs", { n: 1 })
 * yield* Testing.settle                      // the first run happened (and failed)
 * yield* Testing.advance("500 millis")       // the retry, 500 ms later, happened
 * ```
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
import { Store } from "./store/Store.ts"

const yields = Effect.forEach(Array.from({ length: 50 }), () => Effect.yieldNow, { discard: true })

/**
 * Lets every ready fiber run. On a store whose calls are asynchronous I/O (Postgres, which reports
 * them), also lets real time pass until none is under way; on SQLite, whose calls complete at
 * once, only fibers run.
 */
export const settle: Effect.Effect<void> = Effect.gen(function*() {
  const store = yield* Effect.serviceOption(Store)
  const inFlight = Option.isSome(store) ? store.value.capabilities.inFlight : undefined
  yield* yields
  if (inFlight === undefined) return
  // Quiet twice in a row, a turn of the event loop apart: a fiber that was between two
  // operations has started its next one by then.
  for (let i = 0, quiet = 0; i < 10_000 && quiet < 2; i++) {
    quiet = inFlight() === 0 ? quiet + 1 : 0
    yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
    yield* yields
  }
})

/**
 * Settles, moves the `TestClock` by `duration`, and settles again. On a store with asynchronous
 * I/O the clock moves a millisecond at a time (at most 10,000 steps, coarser past 10 s), settling
 * after each: a fiber woken by the clock reads the database before it sleeps again or reads the
 * time, and one long adjustment would move the clock past its next sleep meanwhile.
 */
export const advance = (duration: Duration.Input): Effect.Effect<void> =>
  Effect.gen(function*() {
    const ms = Duration.toMillis(Duration.fromInputUnsafe(duration))
    yield* settle
    const store = yield* Effect.serviceOption(Store)
    if (Option.isNone(store) || store.value.capabilities.inFlight === undefined) {
      yield* TestClock.adjust(ms)
      return yield* settle
    }
    const step = Math.max(1, Math.ceil(ms / 10_000))
    for (let left = ms; left > 0; left -= step) {
      yield* TestClock.adjust(Math.min(step, left))
      yield* settle
    }
  })
