/**
 * What the `Bus` service offers (`BusShape`) and the types of its options and answers: the bus's
 * contract, apart from its making (`Bus.ts`).
 */
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { StoreError } from "../store/storeErrors.ts"
import type { DeadLetter, Delivery, Event, GroupMember } from "../store/records.ts"
import type { DeadLetterQuery, DeliveryQuery, GroupDeletion } from "../store/Store.ts"
import type * as Inspect from "./Inspect.ts"
import type * as Maintenance from "./Maintenance.ts"
import type { DeliveryContext, GroupStats } from "./group/types.ts"
import type { AckError, BusClosedError, GroupError, MaintenanceError, PublishError, SubscribeError, TopicError } from "./busErrors.ts"
import type { HostInfo } from "./HostInfo.ts"
import type { StartFrom, SubscribeOptions } from "./subscribeOptions.ts"
import type { PublishItem, PublishOptions } from "./publish.ts"
import type { Topic, TopicOptions } from "./Topic.ts"
import type { SingletonOptions } from "./singleton.ts"
import type { BusEventListener } from "./busEvents.ts"
import type { LiveOptions } from "./live.ts"

export interface BusOptions {
  /** Largest payload accepted, in bytes of JSON (default 1 MiB). */
  readonly maxPayloadBytes?: number | undefined
  /** How often to look for commits by other processes on the same database (default 50 ms). */
  readonly pollIntervalMs?: number | undefined
  /** Host facts for lease takeover (tests replace it). */
  readonly host?: HostInfo | undefined
  /**
   * Compaction and retention on a `Clock` schedule (default: every 60 s, at most 1000 deletions
   * per transaction); `false` runs them only when asked (`compact`, `prune`). Invalid options fail
   * the bus's start with `BusOptionsError`.
   */
  readonly maintenance?: Maintenance.MaintenanceOptions | false | undefined
}

export interface Subscription {
  readonly group: string
  readonly topics: ReadonlyArray<string>
  /** Stops the group: drains running handlers, persists its cursors and releases its lease. */
  readonly unsubscribe: Effect.Effect<void>
}

/** A handler for the Effect API; it may need services, which `subscribe` captures. */
export type EffectHandler<R> = (event: Event, ctx: DeliveryContext) => Effect.Effect<unknown, unknown, R>

export type { DeadLetterQuery } from "../store/Store.ts"

/** A group as stored (`BusShape.describeGroup`). */
export interface GroupDescription {
  readonly group: string
  readonly positions: ReadonlyArray<Inspect.GroupInfo>
  readonly members: ReadonlyArray<GroupMember>
}

export interface BusShape {
  /** This runtime's boot id (stamped on the events it publishes, owner of its leases). */
  readonly sid: string
  readonly defineTopic: (name: string, options?: TopicOptions) => Effect.Effect<Topic, TopicError | StoreError | BusClosedError>
  readonly topic: (name: string) => Topic | undefined
  readonly publish: (
    topic: string,
    payload: unknown,
    options?: PublishOptions
  ) => Effect.Effect<Event, PublishError | StoreError | BusClosedError>
  /**
   * Checks, writing nothing, that these topic definitions and publishes would be accepted now:
   * each definition against the stored settings, each publish against its topic as it would be
   * (the planned definitions over the stored and defined ones), each group's start position. A
   * program checks its start this way before it writes anything.
   */
  readonly dryRun: (plan: {
    readonly topics?: ReadonlyArray<{ readonly name: string; readonly options?: TopicOptions | undefined }> | undefined
    readonly publishes?: ReadonlyArray<PublishItem> | undefined
    /** Groups to start: a start position naming an event (`{ id }`, `{ afterId }`) must find it. */
    readonly subscriptions?: ReadonlyArray<{ readonly group: string; readonly from?: StartFrom | string | undefined }> | undefined
  }) => Effect.Effect<void, TopicError | PublishError | SubscribeError | StoreError>
  /** Publishes every item in one transaction: all are written, or (on any bad item) none. */
  readonly publishAll: (
    items: ReadonlyArray<PublishItem>
  ) => Effect.Effect<ReadonlyArray<Event>, PublishError | StoreError | BusClosedError>
  /**
   * The events published to `topics` from now on, by any process or replica on the database, in
   * seq order: no cursor, no ack (`live.ts`). A slow reader is sent at most `bufferSize` events
   * ahead and continues from the store; the stream ends when the bus closes.
   */
  readonly live: (topics: string | ReadonlyArray<string>, options?: LiveOptions) => Stream.Stream<Event, StoreError | TopicError>
  readonly subscribe: <R = never>(
    topic: string | ReadonlyArray<string>,
    group: string,
    handler: EffectHandler<R>,
    options?: SubscribeOptions
  ) => Effect.Effect<Subscription, SubscribeError | BusClosedError | StoreError, R>
  readonly ack: (group: string, eventId: string) => Effect.Effect<void, AckError>
  readonly nack: (group: string, eventId: string, delayMs?: number) => Effect.Effect<void, AckError>
  /** The group's stored ack floor on `topic`: every event at or below it is done. */
  readonly getCursor: (topic: string, group: string) => Effect.Effect<number | undefined, StoreError | BusClosedError>
  /**
   * Moves a group's cursor. A number is the new ack floor, as `getCursor` answers it (the group
   * gets the event after it); every other position names the first event the group gets. A group
   * running here restarts there.
   */
  readonly setCursor: (
    topic: string,
    group: string,
    position: number | StartFrom | string
  ) => Effect.Effect<void, GroupError | TopicError | StoreError | BusClosedError | SubscribeError>
  readonly deadLetters: (query?: DeadLetterQuery) => Effect.Effect<ReadonlyArray<DeadLetter>, StoreError | GroupError | BusClosedError>
  /**
   * Open delivery records of a group, or of one event in every group: events that failed and wait
   * for their retry (with their attempts and last error), crash suspects, requeued dead letters.
   * An event that never failed has none.
   */
  readonly deliveries: (query?: DeliveryQuery) => Effect.Effect<ReadonlyArray<Delivery>, StoreError | GroupError | BusClosedError>
  /** Sends dead letters (by event id, or all of the group's: `"all"` alone; an event whose id is "all" is `["all"]`) back to their group; returns how many. */
  readonly requeue: (group: string, eventIds: "all" | string | ReadonlyArray<string>) => Effect.Effect<number, StoreError | GroupError | BusClosedError>
  /** Forgets a dead letter (releasing the key it holds, if any). */
  readonly dropDeadLetter: (group: string, eventId: string) => Effect.Effect<boolean, GroupError | StoreError | BusClosedError>
  /** Events of `topic` after `afterSeq`, without touching any cursor. */
  readonly read: (topic: string, afterSeq: number, limit: number) => Effect.Effect<ReadonlyArray<Event>, StoreError | TopicError | BusClosedError>
  /**
   * The latest event of each of `keys` on `topic` (a key whose latest event is a tombstone, or
   * that has none, is absent), in one indexed query: the current state of a compacted topic.
   */
  readonly latestByKey: (topic: string, keys: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, Event>, StoreError | TopicError | BusClosedError>
  /** Groups running in this process. */
  readonly groups: () => ReadonlyArray<string>
  /** What a group running in this process is doing now (undefined if it is not consuming here). */
  readonly groupStats: (group: string) => GroupStats | undefined
  /** Whether a group subscribed here stands by: another live process consumes it. */
  readonly standingBy: (group: string) => boolean
  /**
   * A group as stored, whichever process consumes it: its position on each topic (one per
   * partition of a partitioned group, with its cursor, lag and owner) and the processes that are
   * its members (a partitioned group's; none for a group consumed whole), as `sib groups` shows.
   */
  readonly describeGroup: (group: string) => Effect.Effect<GroupDescription, GroupError | StoreError | BusClosedError>
  /**
   * Compacts now: `topic`, or every compacted topic. Deletes superseded events and expired
   * tombstones at or below the slowest group's cursor, in short transactions.
   */
  readonly compact: (topic?: string) => Effect.Effect<ReadonlyArray<Maintenance.CompactionReport>, MaintenanceError | StoreError | BusClosedError>
  /** Applies retention now: `topic`, or every topic with retention. */
  readonly prune: (topic?: string) => Effect.Effect<ReadonlyArray<Maintenance.PruneReport>, MaintenanceError | StoreError | BusClosedError>
  /**
   * Deletes a consumer group: its cursors, retries, dead letters and lease, so it no longer holds
   * retention or compaction back. Refused while the group runs in this process (unsubscribe it
   * first) or while another live process holds its lease, unless `force` (that consumer's next
   * writes are fenced and its session starts over, from its `from` option).
   */
  readonly deleteGroup: (group: string, options?: AdminOptions) => Effect.Effect<GroupDeletion, GroupError | StoreError | BusClosedError>
  /**
   * Deletes every event of `topic` published before the call, in short transactions; its settings
   * stay, its groups' cursors move to its head, and their retries and dead letters on it go.
   * Refused while a live consumer reads the topic (in this process or another), unless `force`.
   */
  readonly purgeTopic: (topic: string, options?: AdminOptions) => Effect.Effect<TopicRemoval, TopicError | StoreError | BusClosedError>
  /**
   * Deletes a topic: its events (as `purgeTopic`), its stored settings and every group's cursor,
   * retries and dead letters on it. Refused while a live consumer reads it, unless `force`.
   */
  readonly deleteTopic: (topic: string, options?: AdminOptions) => Effect.Effect<TopicRemoval, TopicError | StoreError | BusClosedError>
  /**
   * Runs `work` only while this runtime holds the lease of `name`, the group lease rule applied to
   * any work: one process at a time across every process on the database, the others standing by
   * and taking over when it stops or dies (see `singleton.ts`). Never returns; interrupting it
   * stops the work and releases the lease.
   */
  readonly singleton: <E>(name: string, work: Effect.Effect<void, E>, options?: SingletonOptions) => Effect.Effect<never, StoreError | E>
  /**
   * Calls `listener` with what happens to this process's groups (a dead letter, a group failing and
   * restarting, a lease lost to another process; see `busEvents.ts`); returns its removal.
   */
  readonly onEvent: (listener: BusEventListener) => () => void
}

/** Options of the deleting operations. */
export interface AdminOptions {
  /** Go ahead although a live consumer in another process holds the group or reads the topic. */
  readonly force?: boolean | undefined
}

/** What a purge or a topic deletion removed. */
export interface TopicRemoval {
  readonly topic: string
  readonly events: number
  /** Groups whose cursors were on the topic. */
  readonly groups: ReadonlyArray<string>
}

