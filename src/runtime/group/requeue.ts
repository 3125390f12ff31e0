/**
 * Requeued dead letters and released holds. A requeued dead letter (a `requeued` delivery row)
 * runs out of band: it lies below the floor, so it has no floor of its own, each start is
 * recorded before it runs (it is precise), and it runs ahead of its key's queue, releasing the
 * key if its dead letter held it. It stays in `requeuedSeqs` until its row's deletion commits, so
 * a refresh cannot admit it twice. A hold whose dead letter was dropped (or requeued elsewhere)
 * is released, and its key's queue runs.
 *
 * The refresher re-reads the group (`loadGroup`) whenever its signal is raised by a requeue or a
 * drop in this process, and after any commit of another process (the bus's change detection), at
 * most once per `refreshPauseMs` for those.
 */
import * as Effect from "effect/Effect"

/** The least time between two reads of the group (see `loop`). */
const refreshPauseMs = 100
import type { StoreError } from "../../store/storeErrors.ts"
import type { Delivery } from "../../store/records.ts"
import type { RuntimeStore } from "../../store/Store.ts"
import type { Signal } from "../Signal.ts"
import type { Dispatcher } from "./dispatch.ts"
import type { Ledger } from "./ledger.ts"
import type { Runnable } from "./runnable.ts"
import { newWork } from "./work.ts"

export class Requeue {
  private readonly store: RuntimeStore
  private readonly topics: ReadonlyArray<string>
  private readonly ledger: Ledger
  private readonly dispatcher: Dispatcher
  private readonly runnable: Runnable
  /** Raised when dead letters may have been requeued or dropped. */
  private readonly signal: Signal
  /** Raised by every commit of another process (the bus's change detection). */
  private readonly others: Signal

  constructor(args: {
    readonly store: RuntimeStore
    readonly topics: ReadonlyArray<string>
    readonly ledger: Ledger
    readonly dispatcher: Dispatcher
    readonly runnable: Runnable
    readonly signal: Signal
    readonly others: Signal
  }) {
    this.store = args.store
    this.topics = args.topics
    this.ledger = args.ledger
    this.dispatcher = args.dispatcher
    this.runnable = args.runnable
    this.signal = args.signal
    this.others = args.others
  }

  /** Admits requeued dead letters; `known` rows (loaded at start) are already in `requeuedSeqs`. */
  admit(deliveries: ReadonlyArray<Delivery>, known = false): Effect.Effect<void, StoreError> {
    const self = this
    return Effect.gen(function*() {
      const requeuedSeqs = self.ledger.requeuedSeqs
      const fresh = known ? deliveries : deliveries.filter((d) => !requeuedSeqs.has(d.seq))
      if (fresh.length === 0) return
      const events = yield* self.store.readSeqs(fresh.map((d) => d.seq))
      const bySeq = new Map(events.map((e) => [e.seq, e]))
      for (const d of fresh) {
        requeuedSeqs.add(d.seq)
        const event = bySeq.get(d.seq)
        if (event === undefined) continue
        yield* self.runnable.admitRequeued(newWork(event, undefined, d, true))
      }
    })
  }

  /**
   * Reads the group again: admits newly requeued dead letters, releases holds no longer held. A
   * snapshot is applied only if no commit of this session moved the dead-letter state while it
   * was read (`Ledger.epoch`), else it is read again: one older than the in-memory state would
   * admit a requeued event whose run already settled, or release a hold just stored. (On SQLite
   * the read completes at once and never repeats.)
   */
  get refresh(): Effect.Effect<void, StoreError> {
    const self = this
    return Effect.gen(function*() {
      const { ledger } = self
      while (true) {
        const epoch = ledger.epoch
        const snapshot = yield* self.store.loadGroup(ledger.group, self.topics)
        if (ledger.epoch !== epoch) continue
        const requeued = snapshot.deliveries.filter((d) => d.state === "requeued" && !ledger.requeuedSeqs.has(d.seq))
        yield* self.admit(requeued)
        // Admitting reads the events: the holds are judged on a snapshot still current.
        if (ledger.epoch !== epoch) continue
        const stillHeld = new Set(snapshot.holds.map((h) => h.seq))
        const released = self.dispatcher.releaseHolds((seq) => stillHeld.has(seq) || ledger.requeuedSeqs.has(seq))
        for (const next of released) yield* self.runnable.makeRunnable(next)
        return
      }
    })
  }

  get loop(): Effect.Effect<never, StoreError> {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        yield* Effect.raceFirst(self.signal.wait, self.others.wait)
        yield* self.refresh
        // Other processes' commits that come meanwhile are served by one more read after a pause,
        // not one read each (the reads stay off the path of the events those commits bring); a
        // requeue or drop in this process ends the pause at once.
        yield* Effect.raceFirst(Effect.sleep(refreshPauseMs), Effect.andThen(self.signal.wait, Effect.sync(() => self.signal.raise())))
      }
    })
  }
}
