/**
 * What a session knows, in memory, of its group's stored per-event state: the ack floor of each
 * topic (`AckFloor`), the delivery rows of events above their floor (retries of an earlier
 * session, taken when the event is fetched), which seqs are dead letters or requeued (never
 * fetched as new work), and the delivery rows to delete with the next progress write. Built by
 * recovery, kept in step by settle, fetch and requeue. It also writes the group's delivery rows
 * (`deleteRow`, `upsertRow`): each write carries the session's owner, for fencing.
 */
import type { Delivery } from "../../store/records.ts"
import type { DeliveryWrite } from "../../store/Store.ts"
import type { AckFloor } from "../AckFloor.ts"

export class Ledger {
  readonly group: string
  readonly owner: string
  readonly floors: ReadonlyMap<string, AckFloor>
  /** Delivery rows by seq, for events above their floor (taken when the event is fetched). */
  private readonly rows: Map<number, Delivery>
  /** Seqs of this group's dead letters. */
  readonly deadSeqs: Set<number>
  /** Seqs of requeued dead letters not settled yet (including any whose row's deletion has not committed). */
  readonly requeuedSeqs: Set<number>
  private deletes: Array<DeliveryWrite> = []
  /**
   * Moves whenever a commit of this session changed what the group's stored rows say about its
   * dead letters and requeued events (a dead letter stored, a requeued row deleted), as the
   * in-memory state follows it. A group snapshot read while it moved may be older than that
   * state (the store's calls are asynchronous I/O on Postgres): the refresher reads again
   * rather than apply it (`Requeue.refresh`).
   */
  epoch = 0

  constructor(args: {
    readonly group: string
    readonly owner: string
    readonly floors: ReadonlyMap<string, AckFloor>
    readonly rows: Map<number, Delivery>
    readonly deadSeqs: Set<number>
    readonly requeuedSeqs: Set<number>
  }) {
    this.group = args.group
    this.owner = args.owner
    this.floors = args.floors
    this.rows = args.rows
    this.deadSeqs = args.deadSeqs
    this.requeuedSeqs = args.requeuedSeqs
  }

  floor(topic: string): AckFloor {
    return this.floors.get(topic)!
  }

  /** The stored delivery row of an event above its floor, left for `takeRow`. */
  peekRow(seq: number): Delivery | undefined {
    return this.rows.get(seq)
  }

  /** The stored delivery row of an event above its floor, once: the event's work takes it over. */
  takeRow(seq: number): Delivery | undefined {
    const row = this.rows.get(seq)
    if (row !== undefined) this.rows.delete(seq)
    return row
  }

  /** The event is a dead letter or a requeued one: never fetched as new work. */
  settledApart(seq: number): boolean {
    return this.deadSeqs.has(seq) || this.requeuedSeqs.has(seq)
  }

  /** The write that removes the group's delivery row of `seq`. */
  deleteRow(seq: number): DeliveryWrite {
    return { _tag: "delete", owner: this.owner, group: this.group, seq }
  }

  /** The write that stores `delivery` (an attempt record). */
  upsertRow(delivery: Delivery): DeliveryWrite {
    return { _tag: "upsert", owner: this.owner, delivery }
  }

  /** Deletes the row of `seq` with the next progress write. */
  queueDelete(seq: number): void {
    this.deletes.push(this.deleteRow(seq))
  }

  /** The queued deletes, handed to the write that takes them. */
  takeDeletes(): Array<DeliveryWrite> {
    const out = this.deletes
    this.deletes = []
    return out
  }
}
