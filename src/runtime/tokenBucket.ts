/**
 * A token bucket on a caller's clock (milliseconds): `ratePerSecond` tokens come back each second
 * up to `burst`. A clock that goes back (a test's, after a real one) refills nothing. What the
 * tokens are (log characters, published bytes, lines) is the caller's.
 */
export class TokenBucket {
  private readonly ratePerSecond: number
  private readonly burst: number
  private tokens: number
  private at: number | undefined = undefined

  constructor(ratePerSecond: number, burst: number) {
    this.ratePerSecond = ratePerSecond
    this.burst = burst
    this.tokens = burst
  }

  private refill(nowMs: number): void {
    if (this.at !== undefined && nowMs > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.at) * this.ratePerSecond) / 1000)
    }
    this.at = nowMs
  }

  /** Takes `n` tokens if there are that many (true), else takes nothing (false). */
  tryTake(n: number, nowMs: number): boolean {
    this.refill(nowMs)
    if (n > this.tokens) return false
    this.tokens -= n
    return true
  }

  /** Takes `n` tokens, into debt if need be; the milliseconds until the debt is paid (0: none). */
  takeOrOwe(n: number, nowMs: number): number {
    this.refill(nowMs)
    this.tokens -= n
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSecond)
  }
}
