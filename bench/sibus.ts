/**
 * The same workloads through sibus's Effect API: publishers awaiting each publish, batches,
 * consumer groups with a no-op handler or one that publishes a follow-up, and publish-to-handler
 * latency.
 */
import { Deferred, Effect, Fiber } from "effect"
import { Bus, type OpenOptions } from "../src/facade/Bus.ts"
import type { SubscribeOptions } from "../src/runtime/subscribeOptions.ts"
import { payload } from "./common.ts"

const withBus = <A, E>(file: string, f: (bus: Bus["Service"]) => Effect.Effect<A, E>, options: OpenOptions = {}): Promise<A> =>
  Effect.runPromise(Effect.flatMap(Effect.service(Bus), f).pipe(Effect.provide(Bus.open(file, options))))

/** `publishers` fibers, each publishing its share (keyless) one at a time and awaiting each; events/s. */
export const publishConcurrent = (file: string, n: number, publishers: number) =>
  withBus(file, (bus) =>
    Effect.gen(function*() {
      const per = Math.ceil(n / publishers)
      const t0 = performance.now()
      yield* Effect.forEach(
        Array.from({ length: publishers }, (_, p) => p),
        (p) =>
          Effect.gen(function*() {
            for (let i = p * per; i < Math.min(n, (p + 1) * per); i++) yield* bus.publish("bench", payload(i))
          }),
        { concurrency: "unbounded", discard: true }
      )
      return n / ((performance.now() - t0) / 1000)
    })
  )

/** `publishAll` of keyless events in batches of `batch`; events/s. */
export const publishBatches = (file: string, n: number, batch: number) =>
  withBus(file, (bus) =>
    Effect.gen(function*() {
      const t0 = performance.now()
      for (let i = 0; i < n; i += batch) {
        const items = []
        for (let j = i; j < Math.min(n, i + batch); j++) items.push({ topic: "bench", payload: payload(j) })
        yield* bus.publishAll(items)
      }
      return n / ((performance.now() - t0) / 1000)
    })
  )

/**
 * One group with a no-op handler consuming the `n` events already stored; events/s. `open`: the
 * bus's options (`metrics: false`); `group`: another group reads the same backlog again.
 */
export const consume = (file: string, n: number, options: SubscribeOptions, open: OpenOptions = {}, group = "bench-group") =>
  withBus(file, (bus) =>
    Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      let handled = 0
      const t0 = performance.now()
      const sub = yield* bus.subscribe("bench", group, () =>
        Effect.sync(() => {
          if (++handled === n) Deferred.doneUnsafe(done, Effect.void)
        }), { from: "earliest", ...options })
      yield* Deferred.await(done)
      const rate = n / ((performance.now() - t0) / 1000)
      yield* sub.unsubscribe
      return rate
    }), open
  )

/**
 * One group whose handler publishes one follow-up per event (written with its ack) over the `n`
 * events already stored, end to end: until every follow-up is committed; events/s.
 */
export const consumeAndPublish = (file: string, n: number, options: SubscribeOptions) =>
  withBus(file, (bus) =>
    Effect.gen(function*() {
      const head = (yield* bus.read("bench", n - 1, 1))[0]!.seq
      const t0 = performance.now()
      const sub = yield* bus.subscribe("bench", "bench-group", (event, ctx) =>
        ctx.publish("bench.out", event.payload, { key: event.key }), { from: "earliest", ...options })
      for (;;) {
        const stats = bus.groupStats("bench-group")
        if (stats !== undefined && stats.floors.bench === head && stats.buffered === 0) break
        yield* Effect.sleep(1)
      }
      const rate = n / ((performance.now() - t0) / 1000)
      yield* sub.unsubscribe
      const written = (yield* bus.read("bench.out", head, n + 1)).length
      if (written !== n) throw new Error(`expected ${n} follow-ups, found ${written}`)
      return rate
    })
  )

/** `samples` publishes to "lat", one at a time 1 ms apart, each timed until its handler's first line; milliseconds. */
const timeDeliveries = (bus: Bus["Service"], samples: number) =>
  Effect.gen(function*() {
    let arrived: Deferred.Deferred<number> | undefined
    yield* bus.subscribe("lat", "lat-group", () =>
      Effect.sync(() => {
        if (arrived !== undefined) Deferred.doneUnsafe(arrived, Effect.succeed(performance.now()))
      }))
    const out: Array<number> = []
    for (let i = 0; i < samples; i++) {
      arrived = Deferred.makeUnsafe<number>()
      const t0 = performance.now()
      yield* bus.publish("lat", payload(i))
      const t1 = yield* Deferred.await(arrived)
      out.push(t1 - t0)
      yield* Effect.sleep(1)
    }
    return out
  })

/** Publish-to-handler latency on an idle bus, one event at a time; milliseconds per event. */
export const latency = (file: string, samples: number) => withBus(file, (bus) => timeDeliveries(bus, samples))

/**
 * The idle latency row under a background publish load: another topic gains `rate` events/s
 * (keyless, published in small batches every millisecond to keep pace) while single events are
 * published and timed as in `latency`. Returns the latencies (ms) and the load achieved (events/s).
 */
export const latencyUnderLoad = (file: string, samples: number, rate: number) =>
  withBus(file, (bus) =>
    Effect.gen(function*() {
      let sent = 0
      const started = performance.now()
      const load = yield* Effect.forkChild(Effect.forever(Effect.gen(function*() {
        const due = Math.floor((rate * (performance.now() - started)) / 1000) - sent
        if (due > 0) {
          yield* bus.publishAll(Array.from({ length: due }, (_, i) => ({ topic: "load", payload: payload(sent + i) })))
          sent += due
        }
        yield* Effect.sleep(1)
      })))
      yield* Effect.sleep(200)
      const out = yield* timeDeliveries(bus, samples)
      yield* Fiber.interrupt(load)
      return { samples: out, load: sent / ((performance.now() - started) / 1000) }
    })
  )
