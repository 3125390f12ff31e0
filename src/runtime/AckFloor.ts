/**
 * The ack floor of one group on one topic, in memory. Events are fetched in seq order; each is
 * pending until it is done (acked, filtered out or dead-lettered). The floor is the highest seq
 * at or below which everything fetched is done; out-of-order completions above it are kept as
 * ranges, so the persisted state stays small however far the floor lags.
 *
 * Seqs are global across topics, so a range may span seqs of other topics; it still means "every
 * event of this topic in the range is done", which is all recovery needs.
 */
import type { Cursor, SeqRanges } from "../store/records.ts"
import { Fifo } from "./Fifo.ts"

export interface Progress {
  readonly floor: number
  readonly acked: SeqRanges
  readonly leasedUpto: number
}

export class AckFloor {
  /** The highest seq fetched (or known done without fetching). */
  private readPos: number
  /** Done ranges carried over from the stored cursor that lie above `readPos`. */
  private carried: Array<readonly [number, number]>
  private readonly pending = new Set<number>()
  /** Every fetched seq not yet below the floor, ascending. */
  private readonly order = new Fifo<number>()
  /**
   * Seqs that may lie above the floor and are done: done or passed since the last `acked()`, and
   * the first seq of each carried range (never fetched, but a done stretch once read past).
   * Unsorted between calls.
   */
  private doneSeqs: Array<number> = []
  /** Persisted bound of events that may be running (see `Cursor.leasedUpto`). */
  leasedUpto: number
  /** Changes so far, and how many of them a committed write holds (see `dirty`). */
  private changes = 0
  private persistedChanges = 0

  /** Runs that were redeliveries, over the group's life (the stored count, then this session's). */
  private redeliveries: number

  constructor(cursor: Pick<Cursor, "floor" | "acked" | "leasedUpto"> & Partial<Pick<Cursor, "redelivered">>) {
    this.redeliveries = cursor.redelivered ?? 0
    this.readPos = cursor.floor
    this.carried = cursor.acked.filter(([, to]) => to > cursor.floor).map(([from, to]) => [Math.max(from, cursor.floor + 1), to] as const)
    for (const [from] of this.carried) this.doneSeqs.push(from)
    this.leasedUpto = Math.max(cursor.leasedUpto, cursor.floor)
  }

  /** True when the state changed since the last progress a committed write holds. */
  get dirty(): boolean {
    return this.changes !== this.persistedChanges
  }

  /** A mark of the current state: `persisted(mark)` once a write of `progress()` taken now commits. */
  get mark(): number {
    return this.changes
  }

  persisted(mark: number): void {
    if (mark > this.persistedChanges) this.persistedChanges = mark
  }

  /** The seq the next fetch starts after. */
  get position(): number {
    return this.readPos
  }

  /** True when `seq` was already done before this session (a stored out-of-order ack). */
  wasDone(seq: number): boolean {
    while (this.carried.length > 0 && this.carried[0]![1] < seq) this.carried.shift()
    const first = this.carried[0]
    return first !== undefined && first[0] <= seq && seq <= first[1]
  }

  /** Like `wasDone`, without consuming the carried ranges (for out-of-order queries). */
  wasDoneBefore(seq: number): boolean {
    return this.carried.some(([from, to]) => from <= seq && seq <= to)
  }

  /** Records a fetched event that still has to be handled. */
  fetched(seq: number): void {
    this.readPos = seq
    this.pending.add(seq)
    this.order.push(seq)
  }

  /** Records a fetched event that needs no handling (filtered out, done before, dead-lettered). */
  passed(seq: number): void {
    if (seq > this.readPos) this.readPos = seq
    this.changes++
    this.doneSeqs.push(seq)
  }

  /** Marks a pending event done. */
  done(seq: number): void {
    if (this.pending.delete(seq)) {
      this.changes++
      this.doneSeqs.push(seq)
    }
  }

  get pendingCount(): number {
    return this.pending.size
  }

  get floor(): number {
    let head = this.order.peek()
    while (head !== undefined && !this.pending.has(head)) {
      this.order.shift()
      head = this.order.peek()
    }
    return head === undefined ? this.readPos : head - 1
  }

  /**
   * Done ranges above the floor, ascending: around each seq done or passed above it (or starting
   * a carried range), the stretch between the pending seqs on either side (or the read position).
   * The cost follows the number of done seqs above the floor (sorted on each call), not the number
   * fetched: a group far behind on one key keeps its whole backlog here.
   */
  acked(): SeqRanges {
    const floor = this.floor
    const done = this.doneSeqs.filter((seq) => seq > floor).sort((a, b) => a - b)
    this.doneSeqs = done
    const out: Array<readonly [number, number]> = []
    const order = this.order
    let covered = floor
    for (const seq of done) {
      // Above the read position only carried ranges lie: the loop below reports them.
      if (seq > this.readPos) break
      if (seq <= covered) continue
      // The first fetched seq at or above `seq`; the pending seqs around it bound its range.
      let lo = 0
      let hi = order.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (order.at(mid)! < seq) lo = mid + 1
        else hi = mid
      }
      let below = lo - 1
      while (below >= 0 && !this.pending.has(order.at(below)!)) below--
      let above = lo
      while (above < order.length && !this.pending.has(order.at(above)!)) above++
      const from = below >= 0 ? order.at(below)! + 1 : floor + 1
      const to = above < order.length ? order.at(above)! - 1 : this.readPos
      out.push([from, to])
      covered = to
    }
    for (const range of this.carried) if (range[1] > this.readPos) out.push([Math.max(range[0], this.readPos + 1), range[1]])
    return out
  }

  /** A run of an event that had run before started. */
  redelivery(): void {
    this.redeliveries++
    this.changes++
  }

  /** Runs that were redeliveries, over the group's life. */
  get redelivered(): number {
    return this.redeliveries
  }

  progress(): Progress {
    return { floor: this.floor, acked: this.acked(), leasedUpto: Math.max(this.leasedUpto, this.floor) }
  }
}
