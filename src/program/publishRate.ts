/**
 * How fast `.sib` programs may publish: a process-wide budget of payload bytes (estimated, as the
 * run's memory budget counts them), refilled at `publishBytesPerSecond` up to `publishBurst` (a
 * token bucket on the runtime's `Clock`). A publish that does not fit waits for its bytes: the
 * program slows to the rate instead of failing. A timer publishing 400 KB every 10 ms grew its
 * database by 100 MB a second, and a handler publishing two events per event it handles doubles
 * its backlog without end; paced, neither outruns what retention and an operator can deal with.
 * Ordinary programs never come near it (the language bench's handler publishes ~5 MB a second).
 */
import type * as Clock from "effect/Clock"
import { TokenBucket } from "../runtime/tokenBucket.ts"

/** Estimated payload bytes per second programs may publish once the burst is spent. */
export const publishBytesPerSecond = 8 * 1024 * 1024
/** Estimated payload bytes a quiet process may publish at once. */
export const publishBurst = 64 * 1024 * 1024
/** What an event costs beyond its payload (its row, indexes and delivery). */
const eventOverhead = 256

/**
 * A budget of publish bytes: `delayFor(bytes, clock)` takes an event's bytes and says how many
 * milliseconds its publish must wait (0: at once). The bytes are taken either way, so waits queue.
 */
export const makePublishBudget = (ratePerSecond = publishBytesPerSecond, burst = publishBurst) => {
  const bucket = new TokenBucket(ratePerSecond, burst)
  return (bytes: number, clock: Clock.Clock): number => bucket.takeOrOwe(bytes + eventOverhead, clock.currentTimeMillisUnsafe())
}

/** The process's budget, shared by every program it runs. */
export const publishDelay = makePublishBudget()
