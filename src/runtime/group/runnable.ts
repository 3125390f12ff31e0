/**
 * How work becomes runnable: it is admitted to its key's lane (`admit`); when its turn comes, a
 * parked event is read back from the store first (one read for several lanes at once:
 * `makeAllRunnable`), and one found gone (pruned by retention) counts as done; then it goes to
 * the dispatcher at once, or on a timer at its retry time (`notBefore`, on the session's Clock).
 * Timers live in their own scope, which the drain closes.
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { StoreError } from "../../store/storeErrors.ts"
import type { Event } from "../../store/records.ts"
import type { RuntimeStore } from "../../store/Store.ts"
import type { Dispatcher } from "./dispatch.ts"
import type { Ledger } from "./ledger.ts"
import { isParked, newWork, type Parked, type Slot, type Work } from "./work.ts"

export class Runnable {
  private readonly store: RuntimeStore
  private readonly dispatcher: Dispatcher
  private readonly ledger: Ledger
  private readonly timers: Scope.Scope
  private readonly clock: Clock.Clock
  /** Something changed that the next progress write must carry (a parked event found gone is done). */
  private readonly changed: () => void

  constructor(args: {
    readonly store: RuntimeStore
    readonly dispatcher: Dispatcher
    readonly ledger: Ledger
    readonly timers: Scope.Scope
    readonly clock: Clock.Clock
    readonly changed: () => void
  }) {
    this.store = args.store
    this.dispatcher = args.dispatcher
    this.ledger = args.ledger
    this.timers = args.timers
    this.clock = args.clock
    this.changed = args.changed
  }

  /** Admits `work` to its lane and makes it runnable if its key is free (`ahead`: see `Dispatcher.admit`). */
  admit(work: Work, ahead = false): Effect.Effect<void, StoreError> {
    return this.dispatcher.admit(work, ahead) ? this.makeRunnable(work) : Effect.void
  }

  /** Admits a recovered event kept as a stub behind the first of its key (read back when its turn comes). */
  admitParked(stub: Parked): Effect.Effect<void, StoreError> {
    return this.dispatcher.parkRecovered(stub) ? this.makeRunnable(stub) : Effect.void
  }

  /** Admits a requeued dead letter (ahead of its key, releasing the key it holds). */
  admitRequeued(work: Work): Effect.Effect<void, StoreError> {
    return this.dispatcher.admitRequeued(work) ? this.makeRunnable(work) : Effect.void
  }

  /** Work whose key is free runs now, or at its retry time. */
  runnableNow(work: Work): Effect.Effect<void> {
    return Effect.suspend(() => {
      const wait = work.notBefore - this.clock.currentTimeMillisUnsafe()
      if (wait <= 0) {
        this.dispatcher.push(work)
        return Effect.void
      }
      return Effect.sleep(wait).pipe(
        Effect.andThen(Effect.sync(() => this.dispatcher.push(work))),
        Effect.forkIn(this.timers),
        Effect.asVoid
      )
    })
  }

  /** Makes the next item of a lane run: a parked event is read back first. */
  makeRunnable(slot: Slot): Effect.Effect<void, StoreError> {
    if (!isParked(slot)) return this.runnableNow(slot)
    return Effect.flatMap(this.store.readSeqs([slot.seq]), ([event]) => this.unpark(slot, event))
  }

  /** `makeRunnable` for several lanes' next items at once: their parked events in one read. */
  makeAllRunnable(slots: ReadonlyArray<Slot>): Effect.Effect<void, StoreError> {
    const parkedSeqs: Array<number> = []
    for (const slot of slots) if (isParked(slot)) parkedSeqs.push(slot.seq)
    if (parkedSeqs.length <= 1) return Effect.forEach(slots, (slot) => this.makeRunnable(slot), { discard: true })
    return Effect.flatMap(this.store.readSeqs(parkedSeqs), (events) => {
      const bySeq = new Map<number, Event>()
      for (const event of events) bySeq.set(event.seq, event)
      return Effect.forEach(slots, (slot) => (isParked(slot) ? this.unpark(slot, bySeq.get(slot.seq)) : this.runnableNow(slot)), { discard: true })
    })
  }

  /** A parked event read back (undefined: it is gone) becomes work again and runs. */
  private unpark(slot: Parked, event: Event | undefined): Effect.Effect<void, StoreError> {
    this.dispatcher.unparked()
    if (event === undefined) {
      // Gone (pruned by retention): nothing left to deliver.
      slot.floor.done(slot.seq)
      this.changed()
      const next = this.dispatcher.finish(slot)
      return next === undefined ? Effect.void : this.makeRunnable(next)
    }
    const work = newWork(event, slot.floor, this.ledger.takeRow(event.seq), slot.precise === true)
    work.filterPending = slot.filterPending
    this.dispatcher.buffer()
    return this.runnableNow(work)
  }
}
