/**
 * A bound on repeated log lines of one kind (a group's dead letters, say): at most `perSecond` a
 * second, with a burst of as many; the lines over it are counted, and the next line that passes
 * says how many were left out. Time comes from the caller (the session's Clock).
 */
import { TokenBucket } from "./tokenBucket.ts"

export class LineThrottle {
  private readonly bucket: TokenBucket
  private dropped = 0

  constructor(perSecond: number) {
    this.bucket = new TokenBucket(perSecond, perSecond)
  }

  /** The line to log at `nowMs` (with a note of the lines left out before it), or undefined: leave it out. */
  pass(line: string, nowMs: number): string | undefined {
    if (!this.bucket.tryTake(1, nowMs)) {
      this.dropped++
      return undefined
    }
    if (this.dropped === 0) return line
    const out = `${line} (and ${this.dropped} more like it not logged before it)`
    this.dropped = 0
    return out
  }
}

/** `text` cut to `max` characters for a log line, saying how much was left out. */
export const clipForLog = (text: string, max: number): string =>
  text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`
