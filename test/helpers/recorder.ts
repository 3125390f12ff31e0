/** A handler that records what it was given, for tests to await and inspect. */
import { Clock, Effect, Option, Queue } from "effect"
import { TestClock } from "effect/testing"
import type { DeliveryContext } from "../../src/runtime/ConsumerGroup.ts"
import type { Event } from "../../src/store/records.ts"
import { Store } from "../../src/store/Store.ts"

export interface Delivered {
  readonly event: Event
  readonly attempt: number
  readonly at: number
}

export const makeRecorder = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<Delivered>()
  const all: Array<Delivered> = []
  /** Wraps a handler body; every delivery is recorded before the body runs. */
  const handler = (body: (event: Event, ctx: DeliveryContext) => Effect.Effect<unknown, unknown> = () => Effect.void) =>
    (event: Event, ctx: DeliveryContext) =>
      Effect.gen(function*() {
        const d = { event, attempt: ctx.attempt, at: yield* Clock.currentTimeMillis }
        all.push(d)
        yield* Queue.offer(queue, d)
        return yield* body(event, ctx)
      })
  const take = (n: number) => Effect.forEach(Array.from({ length: n }), () => Queue.take(queue))
  return { handler, take, all, queue }
})

const yields = Effect.forEach(Array.from({ length: 50 }), () => Effect.yieldNow, { discard: true })

/**
 * Lets every ready fiber run (for asserting that nothing more happens). On a store whose calls
 * are asynchronous I/O (Postgres), also lets real time pass until none is under way (the store in
 * the context reports them); on SQLite, whose calls complete at once, only fibers run.
 */
export const settle = Effect.gen(function*() {
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
 * Lets ready fibers run (so their timers are registered), then moves the TestClock. On a store
 * with asynchronous I/O (see `settle`) the clock moves a millisecond at a time (coarser past 10 s),
 * settling after each step: a fiber woken by the clock reads the database before it sleeps again or reads the time,
 * and one long adjustment would move the clock past its next sleep (or its `now`) meanwhile.
 */
export const advance = (ms: number) =>
  Effect.gen(function*() {
    yield* settle
    const store = yield* Effect.serviceOption(Store)
    if (Option.isNone(store) || store.value.capabilities.inFlight === undefined) {
      yield* TestClock.adjust(ms)
      return yield* settle
    }
    // At most 10,000 steps (a few seconds of real time): a longer wait moves in coarser steps.
    const step = Math.max(1, Math.ceil(ms / 10_000))
    for (let left = ms; left > 0; left -= step) {
      yield* TestClock.adjust(Math.min(step, left))
      yield* settle
    }
  })
