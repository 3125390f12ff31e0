/**
 * Child process for the memory row: opens a database that already holds a large backlog (built
 * by the parent, so building it does not count here) and runs a slow consumer on it (1 ms per
 * event, 16 at a time) for a few seconds; prints the process's peak RSS in MB.
 */
import { Effect } from "effect"
import { Bus } from "../src/facade/Bus.ts"

const file = process.argv[2]!
let handled = 0
await Effect.runPromise(Effect.gen(function*() {
  const bus = yield* Bus
  const sub = yield* bus.subscribe("bench", "slow", () => Effect.sleep(1).pipe(Effect.andThen(Effect.sync(() => handled++))), {
    from: "earliest", maxInFlight: 16
  })
  yield* Effect.sleep(5000)
  yield* sub.unsubscribe
}).pipe(Effect.provide(Bus.sqlite({ filename: file }))))
console.log(JSON.stringify({ peakMb: process.resourceUsage().maxRSS / 1024, handled }))
