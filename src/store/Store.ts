/**
 * The `Store` service: the dialect-neutral contract between the runtime and a database. It owns
 * persistence only: appending events, reading them back in seq order, and keeping group progress,
 * attempts, dead letters and leases. It does not decide anything (when to retry, what an ack floor
 * means, who may consume); the runtime does, and hands the store plain records.
 *
 * The contract is split by use, so each caller sees only what it needs:
 * - `runtime`: what a running bus calls (group-committed writes, consumer reads, leases, cursors,
 *   the topic registry), on its hot path;
 * - `admin`: inspection and operator repairs (positions, counts, dead letters, moving a cursor);
 * - `maintenance`: one bounded compaction or retention step at a time;
 * - `capabilities`: what only some databases can do (detecting other connections' commits,
 *   folding a write-ahead log back), each absent where the database has no such thing.
 *
 * ## Guarantees the runtime relies on
 * 1. **Seq order is visibility order.** Seqs are global, increasing, never reused. Once a reader
 *    can see the event with seq N, every event with a lower seq that will ever exist is already
 *    visible: no later commit fills a gap below a seq someone has read. A consumer reads `seq >
 *    position` and moves its position past what it saw, so a gap filled later would be skipped
 *    for ever. SQLite keeps this for free (one writer at a time assigns seqs inside its write
 *    lock); a Postgres sequence does not (a transaction that took seq 7 may commit after the one
 *    that took 8), so a Postgres dialect must serialize appends or hold readers below the lowest
 *    seq still in flight.
 * 2. **A `WriteBatch` is one transaction**: all of it applies or none does. Appends are idempotent
 *    by event id (the stored event comes back instead of a second copy).
 * 3. **Group writes are fenced by the lease**, read inside the transaction: a progress, delivery,
 *    dead-letter or lease-raise write for a group another owner holds is skipped and reported in
 *    `fenced`; a fenced `AckWrite` rolls the whole batch back (the publishes that go with the ack
 *    must not exist without it).
 * 4. **Handler transactions serialize with every other write.** `beginTransaction` opens the
 *    transaction a handler's own statements run in (`ctx.transaction`); its ack and publishes are
 *    applied by `commit` inside it. Calls from the fiber that holds the transaction (its
 *    `TransactionSlot`) run in it; on a database with one connection, everyone else's calls wait
 *    until it commits or rolls back. The ack of a handler transaction is merged into the stored
 *    cursor (`AckWrite`); the runtime applies it to its in-memory state in `onCommit`, before any
 *    other store call, so a later `ProgressWrite` (the cursor from memory) already includes it.
 *    `progressNow` reads memory inside the transaction for the same reason. A progress write is
 *    merged into the stored cursor all the same (`unionDone`), never lowering it: a commit whose
 *    answer was lost (a connection dropped in COMMIT) ran no `onCommit`, and its ack must stay.
 * 5. **Each call is atomic** and reads only committed data; a call that fails changed nothing.
 *
 * How the store is built: the policy (fencing, ack merging, lease raising, what compaction and
 * retention may delete) is written once in `policy/`, as programs of statements; a dialect
 * (`sqlite/`) supplies the connection that runs them (`Driver.ts`).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Kysely } from "kysely"
import type { StoreError } from "./storeErrors.ts"
import type { GroupDeletion } from "./policy/groups.ts"
import type { CompactStep, CompactStepResult, PruneStep, PruneStepResult } from "./maintenanceSteps.ts"
import type {
  Cursor, DeadLetter, Delivery, Event, EventDraft, GroupLease, GroupMember, GroupPosition, Json, SeqRanges, TopicRecord, TopicStats
} from "./records.ts"

/** New durable progress of a group on one topic (see `Cursor`). */
export interface ProgressWrite {
  readonly group: string
  readonly owner: string
  readonly topic: string
  readonly floor: number
  readonly acked: SeqRanges
  readonly leasedUpto: number
  /** The cursor's lifetime count of redeliveries (`Cursor.redelivered`), as the owner counts it; unchanged when absent. */
  readonly redelivered?: number | undefined
}

/**
 * Marks one event done for a group, merged into the stored cursor inside the transaction (the
 * transactional ack of a handler whose publishes are in the same batch). Unlike a `ProgressWrite`
 * it needs no in-memory state: it adds `seq` to the stored done ranges and raises the floor over
 * them.
 */
export interface AckWrite {
  readonly group: string
  readonly owner: string
  readonly topic: string
  readonly seq: number
}

/** Records an attempt (upsert) or forgets one (delete) for a group. */
export type DeliveryWrite =
  | { readonly _tag: "upsert"; readonly owner: string; readonly delivery: Delivery }
  | { readonly _tag: "delete"; readonly owner: string; readonly group: string; readonly seq: number }

/** Stores a dead letter and removes the event's delivery row, in one step. */
export interface DeadLetterWrite {
  readonly owner: string
  readonly deadLetter: DeadLetter
}

/**
 * Raises a group's lease mark on `topic` to the highest seq this batch appended to it (applied
 * after every other write of the batch, so a progress write in the same batch cannot lower it).
 */
export interface LeaseOnAppend {
  readonly group: string
  readonly owner: string
  readonly topic: string
}

/**
 * Everything one transaction writes, applied in this order: appends, progress, `progressNow`,
 * acks, deliveries, dead letters, leases. Any part may be empty.
 */
export interface WriteBatch {
  readonly now: number
  readonly appends: ReadonlyArray<EventDraft>
  readonly progress: ReadonlyArray<ProgressWrite>
  /**
   * Progress read from in-memory state at the moment the transaction applies it (inside the
   * transaction, synchronously), so it reflects every ack committed before it, even when the
   * batch had to wait for the database.
   */
  readonly progressNow?: (() => ReadonlyArray<ProgressWrite>) | undefined
  readonly acks?: ReadonlyArray<AckWrite> | undefined
  readonly deliveries: ReadonlyArray<DeliveryWrite>
  readonly deadLetters: ReadonlyArray<DeadLetterWrite>
  readonly leases?: ReadonlyArray<LeaseOnAppend> | undefined
  /**
   * The batch only records how far groups fetched (their lease marks, with the progress already in
   * memory): bookkeeping for crash accounting that no other process waits for. A store may commit
   * it without waiting for the disk (a database server's crash may lose it: the events it marked
   * then count one attempt less) and without announcing it to other processes.
   */
  readonly relaxed?: boolean | undefined
}

/** The outcome of one append: the seq it has, and the stored record when the id already existed. */
export interface AppendResult {
  readonly seq: number
  readonly existing: Event | undefined
}

export interface CommitResult {
  /** One entry per `appends` entry, in the same order. */
  readonly appended: ReadonlyArray<AppendResult>
  /** Groups whose writes were skipped because another owner holds their lease. */
  readonly fenced: ReadonlyArray<string>
}

/** A compare-and-set on a group's lease: succeeds only if the current owner is `expectedOwner`. */
export interface LeaseClaim {
  readonly group: string
  readonly expectedOwner: string | null
  readonly owner: string
  readonly pid: number | null
  readonly host: string | null
  readonly expiresAt: number
  readonly now: number
}

/** What a group session needs to resume on its topics: its lease, cursors, open deliveries, dead letters and key holds. */
export interface GroupSnapshot {
  readonly lease: GroupLease | undefined
  readonly cursors: ReadonlyMap<string, Cursor>
  readonly deliveries: ReadonlyArray<Delivery>
  /** The seqs of the group's dead letters. */
  readonly deadLetterSeqs: ReadonlyArray<number>
  /** The dead letters that hold their key (`onPoison: "hold"`). */
  readonly holds: ReadonlyArray<DeadLetter>
}

/**
 * A database transaction a handler holds open (`ctx.transaction`): the handler runs its own
 * statements through `db`, then its ack (and its publishes) are applied by `commit`, so the
 * handler's state and its ack commit together, or neither does.
 */
export interface HandlerTransaction {
  /** Kysely bound to the open transaction (do not start another transaction on it). */
  readonly db: Kysely<any>
  /** Applies `batch` inside the transaction and commits; `onCommit` runs right after the commit,
   * before any other store call. On failure everything is rolled back. */
  readonly commit: (batch: WriteBatch, onCommit?: () => void) => Effect.Effect<CommitResult, StoreError>
  /** Rolls back (nothing when already committed or rolled back). */
  readonly rollback: Effect.Effect<void>
}

/**
 * The handler transaction the current fiber may use, in a box that each consumer worker provides
 * once: the store fills it on `beginTransaction` and empties it on commit or rollback. Code
 * running with the box that holds a transaction uses it; other store calls wait until it ends
 * (on an embedded database every call shares one connection).
 */
export const TransactionSlot = Context.Reference<{ current: HandlerTransaction | undefined }>("sibus/store/TransactionSlot", {
  defaultValue: () => ({ current: undefined })
})

/** A group's delivery records, or one event's in every group (at least one of the two). */
export interface DeliveryQuery {
  readonly group?: string | undefined
  readonly eventId?: string | undefined
}

export interface DeadLetterQuery {
  readonly group?: string | undefined
  readonly topic?: string | undefined
  readonly eventId?: string | undefined
  readonly limit?: number | undefined
  /** How many of the list (by group, then seq) to pass over first: a page after the first. */
  readonly offset?: number | undefined
}

/** A consumer's page of events, with the payload bytes they hold. */
export interface EventPage {
  readonly events: ReadonlyArray<Event>
  readonly bytes: number
}

/**
 * A page of one partition of a topic (`RuntimeStore.readPartition`), and how far it covers the
 * topic: every event of the partition with a seq in (afterSeq, readUpto] is in `events`, so a
 * reader may move its position to `readUpto` even past the last event of the page (the other
 * partitions' events in between are not its own).
 */
export interface PartitionPage extends EventPage {
  readonly readUpto: number
}

/** A member's heartbeat (`RuntimeStore.beatMember`). */
export interface MemberBeat {
  readonly group: string
  readonly member: string
  readonly pid: number | null
  readonly host: string | null
  readonly now: number
}

/** What a running bus calls: group-committed writes, consumer reads, leases, cursors and topics. */
export interface RuntimeStore {
  /** Applies a batch in one transaction. Appends are idempotent by event id. */
  readonly commit: (batch: WriteBatch) => Effect.Effect<CommitResult, StoreError>
  /**
   * Opens a transaction for the handler whose worker provided the current `TransactionSlot`
   * (waiting while another one is open), and records it in that slot.
   */
  readonly beginTransaction: Effect.Effect<HandlerTransaction, StoreError>

  /**
   * A consumer's page: events of `topic` with seq > `afterSeq`, ascending, at most `limit`, with
   * their payload bytes. A store whose `pageBytes` is true also honors `maxBytes`: the page stops
   * before the event that would bring its payloads' UTF-8 bytes above it (its first event comes
   * whatever its size); other stores ignore it.
   */
  readonly readPage: (topic: string, afterSeq: number, limit: number, maxBytes?: number) => Effect.Effect<EventPage, StoreError>
  /**
   * The database cuts `readPage` at `maxBytes` (Postgres), so a reader may ask for a whole batch of
   * events of unknown size; without it a reader bounds its pages by count alone.
   */
  readonly pageBytes?: boolean | undefined
  /**
   * Reads wait on a database server (Postgres): a reader gains by starting its next read while it
   * works on what it read. Without it (SQLite) a read is work in this process and gains nothing.
   */
  readonly readsWait?: boolean | undefined
  /**
   * Events of one partition of `topic` with seq > `afterSeq`, ascending, at most `limit`. The
   * topic's head is read first, so when the page is not full, `readUpto` is at least that head:
   * a partition's reader moves past the other partitions' events (its floor does not stay behind
   * at its partition's last event, holding back compaction, retention and lag).
   */
  readonly readPartition: (topic: string, partition: number, afterSeq: number, limit: number) => Effect.Effect<PartitionPage, StoreError>
  /** The events with these seqs that still exist, ascending. */
  readonly readSeqs: (seqs: ReadonlyArray<number>) => Effect.Effect<ReadonlyArray<Event>, StoreError>
  readonly eventById: (id: string) => Effect.Effect<Event | undefined, StoreError>
  /**
   * The latest event of each key on `topic`, in one indexed query. Keys with no event, and keys
   * whose latest event is a tombstone (payload `null`), are absent.
   */
  readonly latestByKey: (topic: string, keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, Event>, StoreError>
  /** The highest seq stored for `topic` (0 when it has none). */
  readonly headSeq: (topic: string) => Effect.Effect<number, StoreError>
  /** The floor that starts a group at the first event of `topic` stamped at or after `ts`. */
  readonly floorForTs: (topic: string, ts: number) => Effect.Effect<number, StoreError>

  readonly readLease: (group: string) => Effect.Effect<GroupLease | undefined, StoreError>
  readonly claimLease: (claim: LeaseClaim) => Effect.Effect<boolean, StoreError>
  readonly renewLease: (group: string, owner: string, expiresAt: number, now: number) => Effect.Effect<boolean, StoreError>
  readonly releaseLease: (group: string, owner: string, now: number) => Effect.Effect<void, StoreError>
  readonly loadGroup: (group: string, topics: ReadonlyArray<string>) => Effect.Effect<GroupSnapshot, StoreError>
  /** Creates the cursor at `floor` unless it exists; returns the stored cursor either way. */
  readonly initCursor: (group: string, topic: string, floor: number, now: number) => Effect.Effect<Cursor, StoreError>
  readonly getCursor: (group: string, topic: string) => Effect.Effect<Cursor | undefined, StoreError>

  readonly upsertTopic: (name: string, config: Json, now: number) => Effect.Effect<void, StoreError>
  readonly topics: Effect.Effect<ReadonlyArray<TopicRecord>, StoreError>

  /** Joins a partitioned group as `member`, or raises its heartbeat counter when it has joined. */
  readonly beatMember: (beat: MemberBeat) => Effect.Effect<void, StoreError>
  readonly leaveMember: (group: string, member: string) => Effect.Effect<void, StoreError>
  /** A group's members, by join time. */
  readonly groupMembers: (group: string) => Effect.Effect<ReadonlyArray<GroupMember>, StoreError>
}

/** The events one event caused (`AdminStore.eventsCausedBy`): the first few, and how many in all. */
export interface CausedEvents {
  readonly events: ReadonlyArray<Event>
  readonly total: number
}

/** Inspection and operator repairs: what `sib` commands and the bus's admin operations call. */
export interface AdminStore {
  /** Events of `topic` with seq > `afterSeq`, ascending, at most `limit` (no cursor moves). */
  readonly readTopic: (topic: string, afterSeq: number, limit: number) => Effect.Effect<ReadonlyArray<Event>, StoreError>
  /** Every topic that has events, by name. */
  readonly topicStats: Effect.Effect<ReadonlyArray<TopicStats>, StoreError>
  /** Every stored (group, topic) cursor, by group then topic, with the lease when someone holds it. */
  readonly groupPositions: Effect.Effect<ReadonlyArray<GroupPosition>, StoreError>
  /** The floor after which exactly the last `count` events of `topic` follow (0 when there are fewer). */
  readonly floorForLast: (topic: string, count: number) => Effect.Effect<number, StoreError>
  /** How many events of `topic` (of one of its partitions, if given) have a seq in (afterSeq, uptoSeq]. */
  readonly countEvents: (topic: string, afterSeq: number, uptoSeq: number, partition?: number) => Effect.Effect<number, StoreError>
  /** The stored names of groups that have cursors and start with `prefix`, in no particular order. */
  readonly cursorGroupsWithPrefix: (prefix: string) => Effect.Effect<ReadonlyArray<string>, StoreError>
  /** Every member of every partitioned group, by group then join time. */
  readonly members: Effect.Effect<ReadonlyArray<GroupMember>, StoreError>
  /**
   * Events that name `eventId` in their `causedBy`, among those with a seq in (afterSeq, uptoSeq]:
   * the first `limit` by seq, and how many there are in that range (a bounded scan, no index).
   */
  readonly eventsCausedBy: (eventId: string, afterSeq: number, uptoSeq: number, limit: number) => Effect.Effect<CausedEvents, StoreError>
  /** Open delivery records (retries, suspects, requeued dead letters) of a group, or of an event in every group. */
  readonly deliveries: (query: DeliveryQuery) => Effect.Effect<ReadonlyArray<Delivery>, StoreError>

  readonly deadLetters: (query: DeadLetterQuery) => Effect.Effect<ReadonlyArray<DeadLetter>, StoreError>
  /** Moves dead letters back to their group as `requeued` deliveries with no attempts. */
  readonly requeue: (group: string, seqs: ReadonlyArray<number> | "all") => Effect.Effect<ReadonlyArray<Delivery>, StoreError>
  readonly dropDeadLetter: (group: string, seq: number) => Effect.Effect<boolean, StoreError>
  /**
   * Moves a cursor (replay or skip): resets its ack state and forgets the group's retries on the
   * topic and its dead letters above the new floor (those events will be delivered again).
   */
  readonly setCursor: (group: string, topic: string, floor: number, now: number) => Effect.Effect<void, StoreError>
  /**
   * Deletes everything stored for a group (cursors, delivery records, dead letters, lease), if its
   * lease owner is still `expectedOwner`; undefined (nothing deleted) when it changed.
   */
  readonly deleteGroup: (group: string, expectedOwner: string | null) => Effect.Effect<GroupDeletion | undefined, StoreError>
  /** One bounded step of a purge (one short transaction): the oldest `limit` events of `topic` at or below `uptoSeq`; answers how many went. */
  readonly purgeStep: (topic: string, uptoSeq: number, limit: number) => Effect.Effect<number, StoreError>
  /**
   * Ends a purge: the topic's delivery records and dead letters go, and its cursors move up to
   * `uptoSeq`; with `forget`, its cursors and stored settings are deleted instead (topic deletion).
   */
  readonly finishPurge: (topic: string, uptoSeq: number, now: number, forget: boolean) => Effect.Effect<void, StoreError>
}

/** Compaction and retention, one bounded step (one short transaction) at a time. */
export interface MaintenanceStore {
  /**
   * Deletes superseded events and expired tombstones at or below the slowest cursor, never one a
   * dead letter or delivery row points to (the rules are in `maintenanceSteps.ts`).
   */
  readonly compactStep: (step: CompactStep) => Effect.Effect<CompactStepResult, StoreError>
  /** Deletes the oldest expired events. */
  readonly pruneStep: (step: PruneStep) => Effect.Effect<PruneStepResult, StoreError>
}

/**
 * What only some databases can do. A bus adapts: without `changeToken` it sees other processes'
 * events only when something else wakes its groups (its own publishes, a retry, a poll of its own).
 */
export interface StoreCapabilities {
  /** It was opened for reading only: every write is refused (a bus starts no consumer group on it). */
  readonly readOnly?: boolean | undefined
  /**
   * Its text cannot hold U+0000 (Postgres): nothing stored has it, so a lookup by a key or id that
   * holds one finds nothing without asking (the server would refuse the parameter).
   */
  readonly textWithoutNul?: boolean | undefined
  /**
   * Change detection: a number that changes whenever another connection commits (SQLite's
   * `data_version`). A bus polls it to wake its groups for events other processes published.
   */
  readonly changeToken?: Effect.Effect<number, StoreError> | undefined
  /**
   * Notifications: calls `notify` soon after another connection may have committed (SQLite: the
   * file system reports a write to the database or its log), for the life of the scope. A hint,
   * not a promise: the change token says whether anything was committed, and a poll still runs.
   * `notify(true)` is more than a hint: another connection did commit (Postgres: a NOTIFY from
   * another process), or notifications may have been missed (a listener reconnected); its
   * committed data is visible now, so a bus wakes its readers before it reads the token.
   */
  readonly commitNotifications?: ((notify: (committed?: boolean) => void) => Effect.Effect<void, never, Scope.Scope>) | undefined
  /**
   * Moves committed writes from a write-ahead log into the database without holding the write
   * lock (SQLite: a passive WAL checkpoint). Maintenance steps leave it to the caller, who runs it
   * after each step that deleted something, so a step's duration is its lock hold alone.
   */
  readonly checkpoint?: Effect.Effect<void, StoreError> | undefined
  /**
   * How many of its operations are waiting for the database now, where they are asynchronous
   * I/O (Postgres; SQLite's calls complete before they return). For tests and diagnostics: a
   * test under TestClock lets real time pass until it is 0 before it says nothing more happens.
   */
  readonly inFlight?: (() => number) | undefined
  /**
   * How many operations (transactions, statements, batches of appends) it has started. For tests:
   * a test under TestClock lets fibers run until it stops moving (a bus doing anything reads or
   * writes), so a chain of handlers settles however long it is.
   */
  readonly operations?: (() => number) | undefined
}

export interface StoreShape {
  readonly runtime: RuntimeStore
  readonly admin: AdminStore
  readonly maintenance: MaintenanceStore
  readonly capabilities: StoreCapabilities
}

export type { GroupDeletion }

export class Store extends Context.Service<Store, StoreShape>()("sibus/store/Store") {}
