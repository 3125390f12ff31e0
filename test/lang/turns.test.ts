/**
 * Runs of different owners take turns (src/lang/turns.ts), on the real clock: a share whose runs
 * keep the process busy cannot hold back another share's run until its backlog is done (runs are
 * let in round robin once a turn is busy), and a share whose run held the process for long rests
 * before its next one, so work that needs a few turns of the event loop before its run gets done.
 * The same end to end, on the `sib` binary: test/lang/hostile.test.ts ("slow-backlog").
 */
import { describe, expect, it } from "vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { paced, Share, turnElapsed } from "../../src/lang/turns.ts"

const clock = Effect.runSync(Clock.clockWith(Effect.succeed))

/** Computes for `ms` without pausing, as a run does: opening the turn first, telling its share after. */
const run = (share: Share, ms: number, done: () => void) =>
  paced(clock, share, Effect.sync(() => {
    turnElapsed(clock)
    const began = clock.monotonicTimeNanosUnsafe()
    const end = performance.now() + ms
    while (performance.now() < end) {
      // computing
    }
    share.computed(clock, began)
    done()
  }))

/** Three turns of the event loop (timers), as a commit, a read and a wake-up between two runs take. */
const hops = Effect.sleep(1).pipe(Effect.andThen(Effect.sleep(1)), Effect.andThen(Effect.sleep(1)))

describe("turns between the runs of different owners", () => {
  it("a share with a backlog of runs that keep each turn busy lets another share's runs in between (round robin)", async () => {
    const hog = new Share("hog")
    const other = new Share("other")
    let hogRuns = 0
    const hogRunsWhenOtherRan: Array<number> = []
    // Four workers of 20 runs of 30 ms: each below the rest threshold, so only the queue orders them.
    const worker = Effect.forEach(Array.from({ length: 20 }), () => run(hog, 30, () => hogRuns++), { discard: true })
    const others = Effect.forEach(Array.from({ length: 5 }), () => Effect.andThen(hops, run(other, 1, () => hogRunsWhenOtherRan.push(hogRuns))), { discard: true })
    await Effect.runPromise(Effect.all([worker, worker, worker, worker, Effect.andThen(Effect.sleep(20), others)], { concurrency: "unbounded", discard: true }))
    expect(hogRuns).toBe(80)
    expect(hogRunsWhenOtherRan).toHaveLength(5)
    // Without turns the other share ran only once the hog's 80 runs were done (each wake-up of its
    // fiber found the turn busy, and the hog's next run always started first). With them, each of
    // its runs waits for its three timers (one per turn of the event loop, a turn holding ~50 ms
    // of the hog's runs) and at most one more turn: about 8 hog runs apart.
    expect(hogRunsWhenOtherRan[4], `hog runs before each of the other's: ${hogRunsWhenOtherRan.join(", ")}`).toBeLessThan(70)
  }, 30_000)

  it("a share whose run held the process for long rests before its next run, so another's run that needs a few turns first comes before it", async () => {
    const hog = new Share("hog")
    const other = new Share("other")
    const order: Array<string> = []
    const hogTwice = Effect.andThen(run(hog, 400, () => order.push("hog")), run(hog, 10, () => order.push("hog again")))
    // The other's run is ready only after three turns of the event loop once the hog's first run ended.
    const otherAfterHops = Effect.andThen(Effect.sleep(5), Effect.andThen(hops, run(other, 1, () => order.push("other"))))
    await Effect.runPromise(Effect.all([hogTwice, otherAfterHops], { concurrency: "unbounded", discard: true }))
    expect(order).toEqual(["hog", "other", "hog again"])
    expect(hog.restUntil).toBeGreaterThan(0n)
  }, 30_000)

  it("a run shorter than a turn never makes its share rest", async () => {
    const share = new Share("short")
    await Effect.runPromise(run(share, 5, () => {}))
    expect(share.restUntil).toBe(0n)
  })
})
