/**
 * Dispatch: which of a group's events may run now, and which worker runs them. Synchronous
 * bookkeeping, no store and no clock (reading a parked event back and waiting for a retry's time
 * are `runnable.ts`); a worker suspends in `take` until work comes.
 *
 * - **Lanes** (`Lanes.ts`): a key's events run one at a time, in seq order (`admit` says whether
 *   one may run now; `finish` hands back its key's next). A dead letter under `onPoison: "hold"`
 *   keeps its key blocked (`hold`) until it is requeued (`admitRequeued` runs it ahead of the
 *   key's queue) or dropped (`releaseHolds`).
 * - **Parking**: an event behind a held key, or behind `parkAfter` waiting events of its key, is
 *   kept as a stub (`Parked`: seq, topic, key) instead of a buffered event (`park`).
 * - **Backpressure**: `buffered` counts fetched events not done, parked ones excepted. The fetcher
 *   refills only when a whole batch fits under `capacity` (`hasRoom`, else it waits for `room`)
 *   and fewer than `parkedPerCapacity` x `capacity` events are parked (a stub is small, but a
 *   backlog of one key is not: its stubs and their places in the ack floor would grow without end);
 *   `idleNow` is raised when the buffer empties (the flusher then writes at once).
 * - **Workers**: runnable work waits in a FIFO, or goes straight to a waiting worker. At most
 *   `gate.limit` run at once, and none starts while `gate.accepting` is false (the session's
 *   phase: one at a time while isolating, none once draining); work pushed then is dropped.
 *   Without key order, while the fetcher admits a page (`admittingPage`), its work only queues,
 *   and the waiting workers get it when the page is in: a worker handed one event at a time would
 *   run it inside the fetcher and wait again for the next, a suspension per event. With key order
 *   the hand-offs stay: the runs between admissions keep the keys' queues short, and a page
 *   admitted whole would park (and later read again) most events behind their keys.
 */
import * as Effect from "effect/Effect"
import { Fifo } from "../Fifo.ts"
import { Lanes, type Ordering } from "../Lanes.ts"
import { Signal, suspend } from "../Signal.ts"
import { keyOfSlot, type Parked, type Slot, type Work } from "./work.ts"

/** Events waiting behind one key beyond this many are parked. */
export const parkAfter = 4

/** Parked events a group keeps at most, per event of its buffer's capacity (then its fetcher waits). */
export const parkedPerCapacity = 50

/** What the session's phase allows (see `phase.ts`). */
export interface Gate {
  /** Runs may start, and ready work is kept. */
  readonly accepting: boolean
  /** Runs at once, at most. */
  readonly limit: number
  /** Suspects are isolated: other work waits until they are done (see `push`). */
  readonly isolating: boolean
}

export class Dispatcher {
  private readonly lanes: Lanes<Slot>
  private readonly gate: Gate
  /** Fetched events the buffer holds at most (`GroupConfig.capacity`). */
  readonly capacity: number
  private readonly batchSize: number
  private readonly maxBytes: number
  private readonly ready = new Fifo<Work>()
  /** Work made runnable while suspects were isolated that is none of them: ready once isolation ends. */
  private readonly deferred = new Fifo<Work>()
  /** Workers waiting for work. */
  private idle: Array<(w: Work | undefined) => void> = []
  /** A page is being admitted: pushed work queues (see the module's comment). */
  private admitting = false
  /** Pages are admitted whole (no key order; see the module's comment). */
  private readonly wholePages: boolean
  /** Lane key -> seq of the dead letter holding it. */
  private readonly heldBy = new Map<string, number>()
  /** Handlers running (taken and not yet `ended`). */
  running = 0
  /** Fetched events not done yet, parked ones excepted. */
  buffered = 0
  /** Payload bytes those hold (about: each counts its page's average). */
  bufferedBytes = 0
  /** Events parked behind a busy or held key. */
  parked = 0
  /** Raised when a whole batch fits in the buffer again. */
  readonly room = new Signal()
  /** Raised when the buffer becomes empty. */
  readonly idleNow = new Signal()

  constructor(options: {
    readonly ordering: Ordering; readonly gate: Gate; readonly capacity: number; readonly batchSize: number; readonly maxBytes: number
  }) {
    this.lanes = new Lanes<Slot>(options.ordering, keyOfSlot)
    this.wholePages = options.ordering === "none"
    this.gate = options.gate
    this.capacity = options.capacity
    this.batchSize = options.batchSize
    this.maxBytes = options.maxBytes
  }

  // ---- lanes ------------------------------------------------------------------------------------

  /** The lane an event key belongs to (undefined: it runs unordered). */
  laneOf(key: string | undefined): string | undefined {
    return this.lanes.laneOf(key)
  }

  /** True if `slot` may run now, false if it waits behind its key (`ahead`: before the key's queue). */
  admit(slot: Slot, ahead = false): boolean {
    return this.lanes.admit(slot, ahead)
  }

  /** The running item of a lane finished for good: its key's next item, now runnable. */
  finish(slot: Slot): Slot | undefined {
    return this.lanes.finish(slot)
  }

  /** Keeps `work`'s key blocked after it finished: its dead letter holds the key. */
  hold(work: Work): void {
    const laneKey = this.lanes.laneOf(work.event.key)
    if (laneKey === undefined) return
    this.lanes.hold(work)
    this.heldBy.set(laneKey, work.event.seq)
  }

  /** A stored dead letter holds its key (restored at the start of a session). */
  restoreHold(key: string | undefined, seq: number): void {
    const laneKey = this.lanes.laneOf(key)
    if (laneKey === undefined) return
    this.lanes.holdKey(laneKey)
    this.heldBy.set(laneKey, seq)
  }

  /**
   * Admits a requeued dead letter: it runs ahead of its key's queue, and at once if it is the one
   * holding its key (which it then releases). True if it may run now.
   */
  admitRequeued(work: Work): boolean {
    const laneKey = this.lanes.laneOf(work.event.key)
    const releases = laneKey !== undefined && this.heldBy.get(laneKey) === work.event.seq
    if (releases) this.heldBy.delete(laneKey)
    return this.lanes.admit(work, releases)
  }

  /** Releases the holds whose dead letter no longer holds (`stillHolds` false); returns their keys' next items. */
  releaseHolds(stillHolds: (seq: number) => boolean): Array<Slot> {
    const next: Array<Slot> = []
    for (const [laneKey, seq] of [...this.heldBy]) {
      if (stillHolds(seq)) continue
      this.heldBy.delete(laneKey)
      const slot = this.lanes.release(laneKey)
      if (slot !== undefined) next.push(slot)
    }
    return next
  }

  heldKeys(): Array<string> {
    return this.lanes.heldKeys()
  }

  // ---- parking and the buffer -----------------------------------------------------------------

  /**
   * Parks a recovered event behind the first of its key (recovery keeps the region's later events
   * of a key as stubs); true if its key is free, and it may run now.
   */
  parkRecovered(stub: Parked): boolean {
    this.parked++
    return this.lanes.admit(stub)
  }

  /** Parks `stub` if its key is held or has `parkAfter` events waiting; true if it did. */
  park(stub: Parked): boolean {
    const waiting = this.lanes.waiting(stub)
    if (waiting === undefined || waiting < parkAfter) return false
    this.lanes.admit(stub)
    this.parked++
    return true
  }

  /** A parked event left its lane (read back, or found gone). */
  unparked(): void {
    this.parked--
    if (this.hasRoom) this.room.raise()
  }

  /** One more fetched event in the buffer, holding `bytes` of payload. */
  buffer(bytes = 0): void {
    this.buffered++
    this.bufferedBytes += bytes
  }

  /** `n` events recovered from the previous session in the buffer (their bytes are not known). */
  bufferRecovered(n: number): void {
    this.buffered += n
  }

  /** A buffered event (holding `bytes`) is done: its slot is free. */
  release(bytes = 0): void {
    this.bufferedBytes -= bytes
    if (--this.buffered === 0) {
      this.idleNow.raise()
      this.bufferedBytes = 0
    }
    if (this.hasRoom) this.room.raise()
  }

  /** A whole batch fits in the buffer, a quarter of its bytes are free, and parking has room. */
  get hasRoom(): boolean {
    return this.buffered <= this.capacity - this.batchSize && this.parkedFit && this.bytesFit(0)
  }

  /** Fewer events are parked than the group keeps at most. */
  get parkedFit(): boolean {
    return this.parked < this.capacity * parkedPerCapacity
  }

  /** With `more` bytes buffered besides, a quarter of the buffer's bytes would still be free. */
  bytesFit(more: number): boolean {
    return this.bufferedBytes + more <= this.maxBytes * 0.75
  }

  /** Payload bytes a page may still bring (at least one event's worth is always allowed). */
  get roomBytes(): number {
    return Math.max(1, this.maxBytes - this.bufferedBytes)
  }

  // ---- workers ----------------------------------------------------------------------------------

  private canStart(): boolean {
    return this.running < this.gate.limit && this.gate.accepting
  }

  /**
   * Work that may run now: to a waiting worker, or to the ready queue (dropped when not accepting).
   * While suspects are isolated, other work (the recovered events behind a suspect of their key)
   * waits apart: isolation runs the suspects alone, one at a time, and ends when they are settled.
   */
  push(work: Work): void {
    if (!this.gate.accepting) return
    if (this.gate.isolating && !work.suspect && !work.requeued) {
      this.deferred.push(work)
      return
    }
    if (this.deferred.length > 0) this.undefer()
    if (!this.admitting && this.idle.length > 0 && this.canStart()) {
      this.running++
      this.idle.shift()!(work)
    } else {
      this.ready.push(work)
    }
  }

  /**
   * Runs `admit` (the admission of a page); without key order with hand-offs held, then hands
   * what it queued to the waiting workers.
   */
  admittingPage<E>(admit: Effect.Effect<void, E>): Effect.Effect<void, E> {
    if (!this.wholePages) return admit
    return Effect.suspend(() => {
      this.admitting = true
      return Effect.ensuring(admit, Effect.sync(() => {
        this.admitting = false
        this.wakeIdle()
      }))
    })
  }

  /** Isolation ended: the work it deferred is ready. */
  private undefer(): void {
    if (this.gate.isolating) return
    while (this.deferred.length > 0) this.ready.push(this.deferred.shift()!)
  }

  /** Hands ready work to waiting workers, as far as the limit allows. */
  wakeIdle(): void {
    if (this.deferred.length > 0) this.undefer()
    while (this.idle.length > 0 && this.ready.length > 0 && this.canStart()) {
      this.running++
      this.idle.shift()!(this.ready.shift()!)
    }
  }

  /** The next work for a worker, waiting for it; undefined: stop (the session drains). */
  readonly take: Effect.Effect<Work | undefined> = Effect.suspend(() => {
    if (!this.gate.accepting) return Effect.succeed(undefined)
    if (this.deferred.length > 0) this.undefer()
    if (this.canStart()) {
      const w = this.ready.shift()
      if (w !== undefined) {
        this.running++
        return Effect.succeed(w)
      }
    }
    return suspend<Work | undefined>((wake) => {
      this.idle.push(wake)
      return () => {
        this.idle = this.idle.filter((x) => x !== wake)
      }
    }, true)
  })

  /** A worker ended its run (or the watchdog took it over). */
  ended(): void {
    this.running--
  }

  /** Nothing runs and nothing is ready (isolation may end). */
  get quiet(): boolean {
    return this.running === 0 && this.ready.length === 0
  }

  /** Sends the waiting workers away (the session drains). */
  dismissIdle(): void {
    for (const waiter of this.idle.splice(0)) waiter(undefined)
  }
}
