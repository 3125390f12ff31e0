/**
 * Progress: persisting a group's ack floors (floor, acked ranges, lease mark) and the delivery
 * rows queued for deletion. The flusher writes while the group is busy at most every
 * `commitIntervalMs` (a crash redelivers at most that interval's acks), and at once when the
 * buffer empties. A precise run's ack is flushed before anything else runs (`settle.ts`), the
 * fetcher writes a lease mark before it dispatches a page (`fetch.ts`), and the drain's final flush
 * clears the lease mark.
 *
 * Progress is taken inside the transaction (`progressNow`): a transactional ack committed while
 * this write waited is then part of it, never overwritten by an older view. A floor stays dirty
 * until a write of its progress has committed: if the transaction fails and the writer retries
 * the part alone, it is taken again (not found clean and skipped).
 */
import * as Effect from "effect/Effect"
import type { CommitResult, ProgressWrite } from "../../store/Store.ts"
import type { AckFloor } from "../AckFloor.ts"
import { Signal } from "../Signal.ts"
import type { WritePart } from "../Writer.ts"
import type { Dispatcher } from "./dispatch.ts"
import type { Ledger } from "./ledger.ts"
import type { SessionError } from "./types.ts"

export class Progress {
  /** Raised when a floor changed or a delete was queued: the flusher has something to write. */
  readonly dirty = new Signal()
  private readonly ledger: Ledger
  private readonly dispatcher: Dispatcher
  private readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
  private readonly commitIntervalMs: number

  constructor(args: {
    readonly ledger: Ledger
    readonly dispatcher: Dispatcher
    readonly submit: (part: WritePart) => Effect.Effect<CommitResult, SessionError>
    readonly commitIntervalMs: number
  }) {
    this.ledger = args.ledger
    this.dispatcher = args.dispatcher
    this.submit = args.submit
    this.commitIntervalMs = args.commitIntervalMs
  }

  readonly markDirty = (): void => this.dirty.raise()

  /** A write of the progress of `floors` (`onlyDirty`: those with changes not yet committed). */
  part(floors: Iterable<readonly [string, AckFloor]>, onlyDirty: boolean): WritePart {
    const { group, owner } = this.ledger
    let marks: Array<readonly [AckFloor, number]> = []
    return {
      progressNow: () => {
        marks = []
        const progress: Array<ProgressWrite> = []
        for (const [topic, floor] of floors) {
          if (onlyDirty && !floor.dirty) continue
          marks.push([floor, floor.mark])
          progress.push({ group, owner, topic, ...floor.progress(), redelivered: floor.redelivered })
        }
        return progress
      },
      onCommit: () => {
        for (const [floor, mark] of marks) floor.persisted(mark)
      }
    }
  }

  /** Writes the dirty floors and queued deletes, if any; `final` writes every floor and clears its lease mark. */
  flush(final: boolean): Effect.Effect<void, SessionError> {
    return Effect.suspend(() => {
      const floors = this.ledger.floors
      let dirty = final
      for (const floor of floors.values()) {
        if (final) floor.leasedUpto = -1
        if (floor.dirty) dirty = true
      }
      const deletes = this.ledger.takeDeletes()
      if (!dirty && deletes.length === 0) return Effect.void
      return this.submit({ ...this.part(floors, !final), deliveries: deletes }).pipe(Effect.asVoid)
    })
  }

  /** The flusher: while the group is busy, at most every `commitIntervalMs`; once it is idle, at once. */
  get loop(): Effect.Effect<never, SessionError> {
    const self = this
    return Effect.gen(function*() {
      while (true) {
        yield* self.dirty.wait
        if (self.dispatcher.buffered > 0) yield* Effect.raceFirst(Effect.sleep(self.commitIntervalMs), self.dispatcher.idleNow.wait)
        yield* self.flush(false)
      }
    })
  }
}
