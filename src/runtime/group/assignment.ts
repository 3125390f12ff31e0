/**
 * Which member consumes which partition of a partitioned group: a pure function of the partition
 * count and the set of live members, so every member computes the same answer from the same view
 * and nobody coordinates. Even: each member gets floor(P/M) or ceil(P/M) partitions. Stable: each
 * partition goes to the member that ranks highest for it (rendezvous hashing) among those with
 * room left, so a member joining or leaving moves few partitions besides its own share.
 */

/** A well-mixed 32-bit hash of a string (FNV-1a, then murmur3's finalizer). */
const hash = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The partitions of each member (every member is a key; one with none gets an empty list). The
 * order of `members` does not matter; duplicates count once.
 */
export const assign = (partitions: number, members: ReadonlyArray<string>): ReadonlyMap<string, ReadonlyArray<number>> => {
  const ids = [...new Set(members)].sort()
  const out = new Map<string, Array<number>>(ids.map((m) => [m, []]))
  if (ids.length === 0) return out
  const base = Math.floor(partitions / ids.length)
  /** Members that may take one more than `base`. */
  let extra = partitions % ids.length
  for (let p = 0; p < partitions; p++) {
    const ranked = ids.map((m) => ({ m, rank: hash(`${m}\u0000${p}`) })).sort((a, b) => b.rank - a.rank || (a.m < b.m ? -1 : 1))
    for (const { m } of ranked) {
      const mine = out.get(m)!
      if (mine.length < base || (mine.length === base && extra > 0)) {
        if (mine.length === base) extra--
        mine.push(p)
        break
      }
    }
  }
  return out
}
