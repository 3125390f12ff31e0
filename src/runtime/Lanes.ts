/**
 * Per-key ordering for a consumer group. Under `ordering: "key"` each key is a lane: one event of
 * a key runs (or waits for its retry) at a time, the key's later events queue behind it, and
 * different keys run concurrently. Events without a key are not ordered. `"strict"` puts every
 * event in one lane; `"none"` has no lanes. A held lane (`onPoison: "hold"`) keeps its queue until
 * it is released.
 *
 * A lane exists exactly while its key is busy: an event of it is running, retrying, or held.
 */
import { Fifo } from "./Fifo.ts"

export type Ordering = "key" | "strict" | "none"

/** The lane an event key belongs to under `ordering`, or undefined when it runs unordered. */
export const laneOf = (ordering: Ordering, key: string | undefined): string | undefined =>
  ordering === "none" ? undefined : ordering === "strict" ? "" : key

interface Lane<W> {
  readonly queue: Fifo<W>
  held: boolean
}

export class Lanes<W> {
  private readonly lanes = new Map<string, Lane<W>>()
  private readonly ordering: Ordering
  private readonly keyOf: (work: W) => string | undefined

  constructor(ordering: Ordering, keyOf: (work: W) => string | undefined) {
    this.ordering = ordering
    this.keyOf = keyOf
  }

  private laneKey(work: W): string | undefined {
    return this.laneOf(this.keyOf(work))
  }

  /** The lane an event key belongs to, or undefined when it runs unordered. */
  laneOf(key: string | undefined): string | undefined {
    return laneOf(this.ordering, key)
  }

  /**
   * Admits work: true if it may run now, false if it waits behind its key. With `ahead` (a
   * requeued dead letter resuming its key) it goes before the key's queue and releases a hold.
   */
  admit(work: W, ahead = false): boolean {
    const key = this.laneKey(work)
    if (key === undefined) return true
    const lane = this.lanes.get(key)
    if (lane === undefined) {
      this.lanes.set(key, { queue: new Fifo(), held: false })
      return true
    }
    if (ahead && lane.held) {
      lane.held = false
      return true
    }
    if (ahead) lane.queue.unshift(work)
    else lane.queue.push(work)
    return false
  }

  /** The running work of a lane finished for good; returns the next work of the key, now runnable. */
  finish(work: W): W | undefined {
    const key = this.laneKey(work)
    if (key === undefined) return undefined
    return this.next(key)
  }

  /** Keeps the key of `work` blocked after it finished (its dead letter holds the key). */
  hold(work: W): void {
    const key = this.laneKey(work)
    if (key !== undefined) this.holdKey(key)
  }

  /** Holds a lane key (also before any of its events arrive: restored from a stored dead letter). */
  holdKey(key: string): void {
    const lane = this.lanes.get(key)
    if (lane === undefined) this.lanes.set(key, { queue: new Fifo(), held: true })
    else lane.held = true
  }

  /** Releases a held key; returns its next work, now runnable. */
  release(key: string): W | undefined {
    const lane = this.lanes.get(key)
    if (lane === undefined || !lane.held) return undefined
    lane.held = false
    return this.next(key)
  }

  /** How many items wait in the lane of `work`, or undefined when its key is free (it would run now). */
  waiting(work: W): number | undefined {
    const key = this.laneKey(work)
    if (key === undefined) return undefined
    const lane = this.lanes.get(key)
    return lane === undefined ? undefined : lane.queue.length + (lane.held ? Number.POSITIVE_INFINITY : 0)
  }

  heldKeys(): Array<string> {
    return [...this.lanes].filter(([, lane]) => lane.held).map(([key]) => key)
  }

  private next(key: string): W | undefined {
    const lane = this.lanes.get(key)
    if (lane === undefined) return undefined
    if (lane.held) return undefined
    const work = lane.queue.shift()
    if (work === undefined) this.lanes.delete(key)
    return work
  }
}
