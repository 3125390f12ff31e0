/** Programs' publishing is paced: a burst, then publishBytesPerSecond; a publish past it waits. */
import { describe, expect, it } from "vitest"
import type * as Clock from "effect/Clock"
import { makePublishBudget } from "../../src/program/publishRate.ts"

const clockAt = (time: { ms: number }) => ({ currentTimeMillisUnsafe: () => time.ms }) as unknown as Clock.Clock

describe("the publish budget of programs", () => {
  it("takes a burst at once, then waits in proportion to the bytes over the rate; waits queue", () => {
    const time = { ms: 1000 }
    const delay = makePublishBudget(1000, 10_000)
    expect(delay(9000, clockAt(time))).toBe(0)
    // 9,256 of 10,000 taken (256 per event beside its payload): the next 1,000 bytes are 512 over.
    expect(delay(1000, clockAt(time))).toBe(512)
    // Later publishes queue behind it: 1,256 more over the rate.
    expect(delay(1000, clockAt(time))).toBe(1768)
    // Time refills it, up to the burst.
    time.ms += 60_000
    expect(delay(9000, clockAt(time))).toBe(0)
  })

  it("a clock that goes back (a test's) does not refill it", () => {
    const time = { ms: 5000 }
    const delay = makePublishBudget(1000, 1000)
    expect(delay(744, clockAt(time))).toBe(0)
    time.ms = 0
    expect(delay(744, clockAt(time))).toBe(1000)
  })
})
