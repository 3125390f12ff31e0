/** A handler that records what it was given, for tests to await and inspect. */
import { Clock, Effect, Queue } from "effect"
import type { DeliveryContext } from "../../src/runtime/ConsumerGroup.ts"
import type { Event } from "../../src/store/records.ts"
import * as Testing from "../../src/testing.ts"

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

/** Lets every ready fiber run (src/testing.ts, public as `Testing.settle`). */
export const settle = Testing.settle

/** Settles, moves the TestClock by `ms`, settles again (src/testing.ts, public as `Testing.advance`). */
export const advance = (ms: number) => Testing.advance(ms)
