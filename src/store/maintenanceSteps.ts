/**
 * The contract of the store's side of compaction and retention: one bounded step each, run in one
 * short transaction, resumable from the position the previous step returned. The store decides
 * what may be deleted from what is stored (cursors, dead letters, delivery rows; the programs are
 * in `policy/deletion.ts`); the runtime decides when to run steps and on which topics (see
 * `runtime/Maintenance.ts`).
 *
 * Two rules hold in every step, read inside its transaction:
 * - an event a dead letter or a delivery row (a retry, a requeued dead letter) points to is kept;
 * - "the slowest cursor" is the lowest ack floor of any group on the topic (every event at or below
 *   it is done for every group that has a cursor there); a topic without cursors has no such bound.
 */

/**
 * Where a compaction pass is. It first walks the topic's keys in (key, seq) order and deletes
 * superseded events (an event with a later event of the same key), then walks the tombstones by
 * seq and deletes the expired ones.
 */
export type CompactPosition =
  | { readonly phase: "superseded"; readonly key: string; readonly seq: number }
  | { readonly phase: "tombstones"; readonly seq: number }

/** The start of a compaction pass. */
export const compactStart: CompactPosition = { phase: "superseded", key: "", seq: 0 }

/**
 * One compaction step on `topic`. A superseded event is deleted when it is at or below the slowest
 * cursor. A tombstone (payload JSON `null`) that is still its key's latest event is deleted when it
 * is at or below the slowest cursor, was published at least `deleteRetentionMs` before `now`, and
 * no older event of its key remains (one kept for a dead letter, say): then the key is gone.
 */
export interface CompactStep {
  readonly topic: string
  readonly from: CompactPosition
  /** At most this many events are deleted, and about four times as many examined. */
  readonly limit: number
  readonly now: number
  readonly deleteRetentionMs: number
}

export interface CompactStepResult {
  /** Superseded events deleted. */
  readonly superseded: number
  /** Tombstones deleted (their keys are gone). */
  readonly tombstones: number
  /** Events that could go but were kept because a dead letter or a delivery row points to them. */
  readonly kept: number
  /** Superseded events kept because they are above the slowest cursor (deleted by a later pass). */
  readonly waiting: number
  /** The group whose cursor is the slowest on the topic, if any group has one. */
  readonly slowestGroup: string | undefined
  /** The highest seq of the `waiting` events (groups with a cursor below it hold them back). */
  readonly waitingUpto: number | undefined
  /** Where the next step starts; undefined when the pass is complete. */
  readonly next: CompactPosition | undefined
}

/**
 * One retention step on `topic`: walks its events oldest first from `afterSeq` and deletes the
 * expired ones, stopping at the first event that is not expired. An event is expired when it is
 * at or below `expiredUpto` (the count limit) or stamped before `expiredBefore` (the age limit).
 * With `retainUntilConsumed`, the walk also stops at the first event above the slowest cursor;
 * without it, deleting an event a group has not processed (above its floor, not in its acked
 * ranges) adds one to that group's `skipped` count in the same transaction.
 */
export interface PruneStep {
  readonly topic: string
  readonly afterSeq: number
  /** At most this many events are examined (and so deleted). */
  readonly limit: number
  readonly expiredBefore: number | undefined
  readonly expiredUpto: number | undefined
  readonly retainUntilConsumed: boolean
}

export interface PruneStepResult {
  readonly deleted: number
  /** Expired events kept because a dead letter or a delivery row points to them. */
  readonly kept: number
  /** Groups that lost events they had not processed, and how many each (in this step). */
  readonly skipped: ReadonlyArray<{ readonly group: string; readonly events: number }>
  /** The group whose cursor stopped the walk (expired events wait for it), if one did. */
  readonly waitingFor: string | undefined
  /** The expired event the walk stopped at, when a cursor stopped it (groups below it hold it back). */
  readonly blockedAt: number | undefined
  /** Where the next step starts; undefined when the pass is complete. */
  readonly next: number | undefined
}
