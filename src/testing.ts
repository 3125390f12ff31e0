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
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { TestClock } from "effect/testing"
import { Store } from "./store/Store.ts"

const yields = Effect.forEach(Array.from({ length: 50 }), () => Effect.yieldNow, { discard: true })

/** A turn of the event loop: I/O callbacks that are due run. */
const eventLoopTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** The time on the live clock, under a TestClock too (a settle bounds the real time it takes). */
const liveMillis: Effect.Effect<number> = Effect.withFiber((fiber) => {
  const clock = fiber.getRef(Clock.Clock) as Clock.Clock & { readonly withLive?: TestClock.TestClock["withLive"] }
  return clock.withLive === undefined ? Clock.currentTimeMillis : clock.withLive(Clock.currentTimeMillis)
})

/**
 * `settle`, dying once the bus has kept working for `maxMs` of real time (exported for its test).
 * @internal
 */
export const settleWithin = (maxMs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const store = yield* Effect.serviceOption(Store)
    const capabilities = Option.isSome(store) ? store.value.capabilities : undefined
    const operations = capabilities?.operations ?? (() => 0)
    const inFlight = capabilities?.inFlight
    const started = yield* liveMillis
    let seen = operations()
    for (let quiet = 0; quiet < 2;) {
      yield* yields
      // A fiber between two operations has started its next one by the next turn.
      if (inFlight !== undefined) yield* eventLoopTurn
      const now = operations()
      quiet = now === seen && (inFlight === undefined || inFlight() === 0) ? quiet + 1 : 0
      seen = now
      if (quiet === 0 && (yield* liveMillis) - started > maxMs) {
        return yield* Effect.die(new Error(`Testing.settle: the bus was still working after ${(maxMs / 1000).toLocaleString("en-US")} s of real time (${now.toLocaleString("en-US")} store operations in all): handlers publishing to each other without end?`))
      }
    }
  })

/**
 * Lets every ready fiber run, until the bus has nothing left to do now: fibers get rounds of turns
 * until the store's operation count stays the same over two rounds in a row (a bus doing anything
 * reads or writes: a publish's commit, a group's fetch, a handler's ack), however long a chain of
 * handlers is. On a store whose calls are asynchronous I/O (Postgres, which reports them), real
 * time passes too, until none is under way. A bus that never stops (handlers publishing to each
 * other without end) makes it die after 60 s of real time, saying so, rather than return early.
 */
export const settle: Effect.Effect<void> = settleWithin(60_000)

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
