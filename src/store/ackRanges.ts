/**
 * A cursor's done set as the store keeps it: a floor (everything at or below it is done) and
 * ascending, disjoint ranges of done seqs above it. `addDone` merges more done seqs in and raises
 * the floor over a range that starts right above it. Seqs are global across topics, so a gap
 * between two ranges may hold only other topics' events; it stays a gap until the in-memory floor
 * (which knows what it fetched) writes the cursor again.
 */
import type { SeqRanges } from "./records.ts"

/** `ranges` above `floor` (cut to start above it), ascending, with overlapping and touching ones joined. */
const mergeRanges = (ranges: Array<readonly [number, number]>, floor: number): Array<readonly [number, number]> => {
  ranges.sort((a, b) => a[0] - b[0])
  const merged: Array<readonly [number, number]> = []
  for (const [from, to] of ranges) {
    if (to <= floor) continue
    const last = merged[merged.length - 1]
    if (last !== undefined && from <= last[1] + 1) {
      if (to > last[1]) merged[merged.length - 1] = [last[0], to]
    } else {
      merged.push([Math.max(from, floor + 1), to])
    }
  }
  return merged
}

export const addDone = (
  floor: number,
  acked: SeqRanges,
  seqs: ReadonlyArray<number>
): { readonly floor: number; readonly acked: SeqRanges } => {
  const ranges: Array<readonly [number, number]> = [...acked]
  for (const seq of seqs) ranges.push([seq, seq])
  const merged = mergeRanges(ranges, floor)
  let newFloor = floor
  while (merged.length > 0 && merged[0]![0] <= newFloor + 1) newFloor = Math.max(newFloor, merged.shift()![1])
  return { floor: newFloor, acked: merged }
}

/**
 * The union of two done sets (`floor`/`acked` and `other`): what either holds is done. A progress
 * write merges what it brings from memory into what is stored this way, so it can never take back
 * an ack stored meanwhile (a handler transaction whose commit landed though its answer was lost).
 * The floor is the higher of the two, not raised further: what is written is what memory holds
 * whenever the stored set adds nothing to it.
 */
export const unionDone = (
  floor: number,
  acked: SeqRanges,
  other: { readonly floor: number; readonly acked: SeqRanges }
): { readonly floor: number; readonly acked: SeqRanges } => {
  const top = Math.max(floor, other.floor)
  return { floor: top, acked: mergeRanges([...acked, ...other.acked], top) }
}
