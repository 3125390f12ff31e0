/**
 * Recovery: what a new session finds in the store, and what it must do about it, returned as
 * data (`Recovered`); the session applies it. Two reads:
 *
 * `openCursors` loads the group (cursors, open delivery rows, key holds) and creates the missing
 * cursors at the group's start position (`floorOf`).
 *
 * `recover` sorts the delivery rows (requeued dead letters; rows at or below the floor, or in a
 * stored acked range, are orphans to delete; the rest wait for their event to be fetched), reads
 * the dead letters, and scans the **uncertain region** of each topic: the events in (floor, end]
 * outside the stored acked ranges, where end is the lease mark (`leasedUpto`: everything fetched,
 * or leased on append) when the previous owner crashed, and otherwise the highest row left as
 * `suspect` or `running` by an earlier crash (none: no region).
 *
 * How a crashed owner's events are charged: an event of the region that is not a dead letter, not
 * requeued and not filtered out may have been running when the owner died, unless an earlier event
 * of its key (its lane, under `ordering: "key"` or `"strict"`) lies in the region: a key's events
 * run one at a time, in order. Each event that may have been running becomes a **suspect**:
 * charged one attempt (its row written as `suspect` with attempts + 1 and, unless it has an error
 * already, "the process stopped while the handler was running") before anything runs. A row
 * already `suspect` or `running` is not charged again: the crash that wrote it, or the start
 * recorded before the run, already counted that attempt. Every suspect's start is recorded first
 * (precise). After a first crash they run concurrently (a recovery at full speed, however many
 * keys); one already suspect (crashes repeat) runs alone first, one at a time (the session's
 * Isolating phase, `Work.suspect`), so the one that kills the process is found and counted: an
 * innocent event is charged at most twice for it (the crash, and one more if it ran beside it
 * while the first crash's events were recovered), and its last attempt is spent alone. A suspect whose charge alone used up its attempts (`crashCharged`) runs once more
 * before it can be a dead letter: a crash never dead-letters an event that did not run (with
 * `maxAttempts: 1`, a crash would otherwise dead-letter every event the group had fetched).
 *
 * A key's later events in the region (most of it when a long backlog of few keys was fetched
 * ahead, parked behind their keys) are charged nothing: they wait behind the key's first as stubs,
 * read back in their turn (their payloads are not held), and run after the isolation, concurrently,
 * each start recorded first (precise). The one that was running when the owner died (its key's
 * earlier events had finished, their acks not yet stored) thus goes uncounted for that crash only:
 * from its next run on, its start is on record. Filtered-out events were never delivered: they are
 * done, and their rows deleted. Events of the region between dead letters, requeued ones and acked
 * ranges are passed over (done for the floor).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { StoreError } from "../../store/storeErrors.ts"
import type { Cursor, DeadLetter, Delivery, SeqRanges } from "../../store/records.ts"
import type { DeliveryWrite, GroupSnapshot, RuntimeStore } from "../../store/Store.ts"
import { AckFloor } from "../AckFloor.ts"
import { laneOf } from "../Lanes.ts"
import { type GroupConfig, storedName } from "../subscribeOptions.ts"
import { Ledger } from "./ledger.ts"
import { floorOf } from "./startFrom.ts"
import { deliveryRow, filterVerdict, newWork, type Parked, type Slot, stoppedWhileRunning } from "./work.ts"

/** A page of the uncertain region read at a time. */
const scanPage = 500

export interface Opened {
  readonly snapshot: GroupSnapshot
  /** One per topic of the group. */
  readonly cursors: ReadonlyMap<string, Cursor>
}

export interface Recovered {
  /** Floors advanced over the uncertain region; the rows of events above it, dead and requeued seqs. */
  readonly ledger: Ledger
  /** Requeued dead letters to run (out of band: they are below the floor). */
  readonly requeued: ReadonlyArray<Delivery>
  /** Dead letters that hold their key (`onPoison: "hold"`). */
  readonly holds: ReadonlyArray<DeadLetter>
  /**
   * The uncertain region's events to run again, in seq order per topic: work (each counts against
   * the buffer), and the later events of a key as stubs, read back in their turn (as parked ones).
   */
  readonly inFlight: ReadonlyArray<Slot>
  /** How many of `inFlight` run alone first (0: no isolation): suspects an earlier crash already left suspect. */
  readonly suspects: number
  /** How many of `inFlight` were charged (or already counted) as possibly running at the crash. */
  readonly charged: number
  /** Written before anything runs: the suspects' charges, then the deletes of orphan and filtered-out rows. */
  readonly writes: ReadonlyArray<DeliveryWrite>
}

/** Loads the group and creates its missing cursors at `config.from`. */
export const openCursors = (store: RuntimeStore, config: GroupConfig): Effect.Effect<Opened, StoreError> =>
  Effect.gen(function*() {
    const stored = storedName(config)
    const snapshot = yield* store.loadGroup(stored, config.topics)
    const cursors = new Map<string, Cursor>(snapshot.cursors)
    for (const topic of config.topics) {
      if (cursors.has(topic)) continue
      // `from` was checked at subscribe (an event id turned into a seq): it always has a floor.
      // (A partitioned group's units have theirs from subscribe: `partitioned.ts`.)
      const floor = yield* floorOf(store, topic, config.from).pipe(Effect.catchTag("StartFromError", Effect.die))
      cursors.set(topic, yield* store.initCursor(stored, topic, floor, yield* Clock.currentTimeMillis))
    }
    return { snapshot, cursors }
  })

/** Inclusive gaps of `acked` within (from, to]. */
export const gapsOf = (acked: SeqRanges, from: number, to: number): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  let next = from + 1
  for (const [a, b] of acked) {
    if (b < next) continue
    if (a > to) break
    if (a > next) out.push([next, Math.min(a - 1, to)])
    next = Math.max(next, b + 1)
  }
  if (next <= to) out.push([next, to])
  return out
}

const isSuspectRow = (row: Delivery | undefined): boolean => row !== undefined && (row.state === "suspect" || row.state === "running")

/**
 * Reads what the session must recover. `crashed`: the lease was taken over from another owner,
 * who may have died with events in flight.
 */
export const recover = (
  store: RuntimeStore,
  config: GroupConfig,
  owner: string,
  opened: Opened,
  crashed: boolean
): Effect.Effect<Recovered, StoreError> =>
  Effect.gen(function*() {
    const { topics, filter, unit } = config
    const group = storedName(config)
    const { snapshot, cursors } = opened
    const floors = new Map<string, AckFloor>()
    for (const topic of topics) floors.set(topic, new AckFloor(cursors.get(topic)!))

    const rows = new Map<number, Delivery>()
    const requeued: Array<Delivery> = []
    const requeuedSeqs = new Set<number>()
    const orphans: Array<number> = []
    for (const d of snapshot.deliveries) {
      if (d.state === "requeued") {
        requeued.push(d)
        requeuedSeqs.add(d.seq)
      } else if (d.seq <= cursors.get(d.topic)!.floor || floors.get(d.topic)!.wasDoneBefore(d.seq)) {
        orphans.push(d.seq)
      } else {
        rows.set(d.seq, d)
      }
    }
    const deadSeqs = new Set(snapshot.deadLetterSeqs)
    const ledger = new Ledger({ group, owner, floors, rows, deadSeqs, requeuedSeqs })
    const deletes = orphans.map((seq) => ledger.deleteRow(seq))

    const inFlight: Array<Slot> = []
    const charges: Array<DeliveryWrite> = []
    let suspects = 0
    let charged = 0
    for (const topic of topics) {
      const cursor = cursors.get(topic)!
      const floor = floors.get(topic)!
      let end = crashed ? cursor.leasedUpto : cursor.floor
      for (const d of rows.values()) if (d.topic === topic && isSuspectRow(d)) end = Math.max(end, d.seq)
      if (end <= cursor.floor) continue
      /** Keys (lanes) whose first event in the region was seen. */
      const lanesSeen = new Set<string>()
      for (const [from, to] of gapsOf(cursor.acked, cursor.floor, end)) {
        let after = from - 1
        while (after < to) {
          const page = unit === undefined
            ? (yield* store.readPage(topic, after, scanPage)).events
            : (yield* store.readPartition(topic, unit.partition, after, scanPage)).events
          if (page.length === 0) break
          for (const event of page) {
            if (event.seq > to) break
            after = event.seq
            if (ledger.settledApart(event.seq)) {
              floor.passed(event.seq)
              continue
            }
            const verdict = filter === undefined ? "run" : filterVerdict(filter, event)
            if (verdict === "skip") {
              floor.passed(event.seq)
              if (ledger.takeRow(event.seq) !== undefined) deletes.push(ledger.deleteRow(event.seq))
              continue
            }
            const wasSuspect = isSuspectRow(ledger.peekRow(event.seq))
            // A key's events run one at a time, in order: of those the crashed owner may have been
            // running, only the key's first in the region could run without the ones before it
            // done. The later ones are charged nothing (one that killed the process is counted by
            // its start record next time) and wait behind it as stubs, read back in their turn.
            const lane = laneOf(config.ordering, event.key ?? undefined)
            const laterOfKey = lane !== undefined && lanesSeen.has(lane)
            if (lane !== undefined) lanesSeen.add(lane)
            floor.fetched(event.seq)
            if (laterOfKey && !wasSuspect) {
              const stub: Parked = {
                parked: true, seq: event.seq, topic, key: event.key ?? undefined, floor, filterPending: verdict !== "run", precise: crashed
              }
              inFlight.push(stub)
              continue
            }
            const row = ledger.takeRow(event.seq)
            const suspect = wasSuspect || crashed
            const work = newWork(event, floor, row, suspect)
            work.filterPending = verdict !== "run"
            if (suspect) {
              charged++
              if (!wasSuspect) work.attempts += 1
              // It runs alone (isolated) when an earlier crash already left it suspect: crashes
              // repeat, so find the one at fault. After a first crash the others run concurrently,
              // each start recorded (a recovery at full speed, whatever maxAttempts is); one whose
              // attempts a crash beside others used up runs alone once more before a dead letter.
              work.suspect = wasSuspect
              if (work.suspect) suspects++
              // A "running" row is a start recorded before the run: that run is the process's.
              work.crashCharged = row?.state !== "running"
              work.notBefore = 0
              work.lastError ??= stoppedWhileRunning
              charges.push(ledger.upsertRow(deliveryRow(group, work, "suspect")))
              work.hasRow = true
            }
            inFlight.push(work)
          }
          if (page[page.length - 1]!.seq >= to) break
        }
      }
      floor.passed(end)
    }
    return { ledger, requeued, holds: snapshot.holds, inFlight, suspects, charged, writes: [...charges, ...deletes] }
  })
