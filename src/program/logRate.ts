/**
 * How much `.sib` programs may write to the runtime's log: a process-wide budget of characters,
 * refilled at `ratePerSecond` up to `burst` (a token bucket on the runtime's `Clock`). A line that
 * does not fit is dropped and counted; the next line that fits is preceded by one line saying how
 * many were dropped. A program logging in a loop cannot fill the disk at the speed it computes
 * (a timer logging 16 KB lines wrote 640 MB in 10 s); ordinary logging never comes near it.
 */
import type * as Clock from "effect/Clock"
import { TokenBucket } from "../runtime/tokenBucket.ts"

/** Characters per second the log takes from programs once the burst is spent. */
export const logRatePerSecond = 1024 * 1024
/** Characters a quiet process may write at once. */
export const logBurst = 8 * 1024 * 1024
/** What a line costs beyond its text (the logger's time and level). */
const lineOverhead = 32

/**
 * A budget of log characters: `admit(text, clock)` gives the lines to write for a program's line
 * `text` at the Clock's time (none when it is dropped; after drops, a line saying how many first).
 */
export const makeLogBudget = (ratePerSecond = logRatePerSecond, burst = logBurst) => {
  const bucket = new TokenBucket(ratePerSecond, burst)
  let droppedLines = 0
  let droppedChars = 0
  /** When the last note about dropped lines was written: at most one a second. */
  let notedAt = Number.NEGATIVE_INFINITY
  return (text: string, clock: Clock.Clock): ReadonlyArray<string> => {
    const now = clock.currentTimeMillisUnsafe()
    // A written line also carries its time and level: an empty one is not free.
    if (!bucket.tryTake(text.length + lineOverhead, now)) {
      droppedLines++
      droppedChars += text.length
      return []
    }
    if (droppedLines === 0) return [text]
    if (now - notedAt < 1000) {
      // Lines were dropped since the last note, which was less than a second ago: this one is
      // written, the count goes on until the next note.
      return [text]
    }
    notedAt = now
    const note = `(${droppedLines.toLocaleString("en-US")} log line(s) of .sib programs, ${droppedChars.toLocaleString("en-US")} characters, were dropped: programs may log ${(ratePerSecond / 1024 / 1024).toLocaleString("en-US")} MiB a second)`
    droppedLines = 0
    droppedChars = 0
    return [note, text]
  }
}

/** The process's budget, shared by every program it runs. */
export const admitLogLine = makeLogBudget()
