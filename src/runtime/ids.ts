/**
 * Event ids: UUIDv7 (RFC 9562) from the fiber's `Clock` and `Random`, so a run under `TestClock`
 * with a seeded `Random` produces the same ids every time. Ids from one generator are strictly
 * increasing: within a millisecond (or if the clock steps back) the 74 random bits are
 * incremented as a counter instead of redrawn ("monotonic random", RFC 9562 section 6.2).
 */
import type * as Clock from "effect/Clock"
import type * as Random from "effect/Random"

/** Two hex digits of each byte value: formatting an id by table is about 4 x faster than `toString(16)`. */
const byteHex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))
const hex16 = (n: number): string => byteHex[n >>> 8]! + byteHex[n & 0xff]!
const hex32 = (n: number): string => hex16(n >>> 16) + hex16(n & 0xffff)

export interface IdGenerator {
  readonly next: (clock: Clock.Clock, random: Random.Random) => string
}

const draw = (random: Random.Random, bits: number): number => Math.floor(random.nextDoubleUnsafe() * 2 ** bits)

export const makeIdGenerator = (): IdGenerator => {
  let lastMs = -1
  // 74 random bits: a (12) | b (30) | c (32)
  let a = 0
  let b = 0
  let c = 0
  return {
    next: (clock, random) => {
      const now = clock.currentTimeMillisUnsafe()
      if (now > lastMs) {
        lastMs = now
        a = draw(random, 12)
        b = draw(random, 30)
        c = draw(random, 32)
      } else if (++c > 0xffffffff) {
        c = 0
        if (++b > 0x3fffffff) {
          b = 0
          if (++a > 0xfff) {
            a = 0
            lastMs++
          }
        }
      }
      const msHi = Math.floor(lastMs / 0x10000)
      const msLo = lastMs % 0x10000
      const variantHi = 0x8000 | (b >>> 16) // 10 + top 14 bits of b
      const bLo = b & 0xffff
      return hex32(msHi) + "-" + hex16(msLo) + "-" + hex16(0x7000 | a) + "-" + hex16(variantHi) + "-" + hex16(bLo) + hex32(c)
    }
  }
}

/** A boot id for a runtime instance (`sid` on events it writes, owner of the leases it holds). */
export const bootId = (clock: Clock.Clock, random: Random.Random): string => makeIdGenerator().next(clock, random)
