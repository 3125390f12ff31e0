/**
 * Child process for the scale row: with `stored` events already in the database, the rate of
 * publishing `n` more (64 publishers) and of one group consuming exactly those `n`.
 * Prints { publish, consume } in events/s.
 */
import { Deferred, Effect } from "effect"
import { Bus } from "../src/facade/Bus.ts"
import { freshDb, payload, removeDb } from "./common.ts"
import { rawInsert } from "./raw.ts"

const stored = Number(process.argv[2])
const n = Number(process.argv[3])
const file = await freshDb()
rawInsert(file, stored, 1000, 100)

const result = await Effect.runPromise(Effect.gen(function*() {
  const bus = yield* Bus
  const t0 = performance.now()
  const per = Math.ceil(n / 64)
  yield* Effect.forEach(Array.from({ length: 64 }, (_, p) => p), (p) =>
    Effect.gen(function*() {
      for (let i = p * per; i < Math.min(n, (p + 1) * per); i++) yield* bus.publish("bench", payload(i), { key: `k${i % 100}` })
    }), { concurrency: "unbounded", discard: true })
  const publish = n / ((performance.now() - t0) / 1000)
  const done = yield* Deferred.make<void>()
  let handled = 0
  const t1 = performance.now()
  yield* bus.subscribe("bench", "scale", () =>
    Effect.sync(() => {
      if (++handled === n) Deferred.doneUnsafe(done, Effect.void)
    }), { from: { seq: stored + 1 }, ordering: "none", batchSize: 1000 })
  yield* Deferred.await(done)
  const consume = n / ((performance.now() - t1) / 1000)
  return { publish, consume }
}).pipe(Effect.provide(Bus.sqlite({ filename: file }))))
removeDb(file)
console.log(JSON.stringify(result))
