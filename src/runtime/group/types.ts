/**
 * The consumer group's public types: the handler and what it gets besides the event
 * (`DeliveryContext`), the handle the bus keeps per running group (`GroupHandle`) and its
 * statistics (`GroupStats`), the services a group takes from the bus (`GroupDeps`), and
 * `CurrentGroup`, the group instance whose worker runs the current fiber. Types only: the
 * behaviour is in the other files of this folder (the lifecycle in `session.ts`).
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { Kysely } from "kysely"
import type { StoreError } from "../../store/storeErrors.ts"
import type { Event } from "../../store/records.ts"
import type { RuntimeStore } from "../../store/Store.ts"
import type { AckError, BusClosedError, PublishError } from "../busErrors.ts"
import type { HostInfo } from "../HostInfo.ts"
import type { GroupConfig } from "../subscribeOptions.ts"
import type { PendingEvent, Prepared, PublishOptions } from "../publish.ts"
import type { Wakeups } from "../Signal.ts"
import type { Writer } from "../Writer.ts"
import type { GroupMetrics } from "../../observability/BusMetrics.ts"
import type { LeaseLost } from "./lease.ts"
import type { LineThrottle } from "../lineThrottle.ts"
import type { BusEvents } from "../busEvents.ts"

/** What a handler gets besides the event. */
export interface DeliveryContext {
  readonly group: string
  /** 1 on the first run of this event by this group. */
  readonly attempt: number
  /**
   * Acknowledges now (required in manual mode; in auto mode the handler's success acks). Fails
   * when this delivery is no longer outstanding (already settled, or its ack timeout expired).
   */
  readonly ack: Effect.Effect<void, AckError>
  /** Fails this attempt and asks for a retry, after `delayMs` (milliseconds >= 0) if given, else the backoff. */
  readonly nack: (delayMs?: number) => Effect.Effect<void, AckError>
  /**
   * Publishes an event caused by the one being handled. The event is checked now and written in
   * the transaction that acknowledges the handled event: if this run fails, times out or the
   * process dies first, it is never written; once the ack commits it exists exactly once. Its
   * `seq` is assigned at that commit, so the record returned here has none.
   */
  readonly publish: (
    topic: string,
    payload: unknown,
    options?: PublishOptions
  ) => Effect.Effect<PendingEvent, PublishError>
  /**
   * A database transaction for the handler's own writes (Kysely, on the bus's database), opened
   * on first use and committed together with the ack and the publishes of this run: the
   * handler's state and its ack commit together, or neither does (a failed run rolls it back).
   * On SQLite one connection serves the process, so other store work waits while it is open:
   * keep it short, and publish with `ctx.publish`, not the bus.
   */
  readonly transaction: Effect.Effect<Kysely<any>, PublishError | StoreError>
}

export type Handler = (event: Event, ctx: DeliveryContext) => Effect.Effect<unknown, unknown>

export interface GroupDeps {
  readonly store: RuntimeStore
  readonly writer: Writer
  readonly wakeups: Wakeups
  readonly sid: string
  readonly host: HostInfo
  /** The largest event the bus accepts (bytes of JSON): a page never has more events than its buffer room holds at this size. */
  readonly maxEventBytes: number
  /** Checks a handler's publish (with the calling fiber's Clock and Random for its id and time). */
  readonly prepare: (fiber: Fiber.Fiber<unknown, unknown>, topic: string, payload: unknown, options: PublishOptions) => Prepared | PublishError
  /** What the group records (set by the supervisor from `writer.metrics`). */
  readonly groupMetrics?: GroupMetrics | undefined
  /** Where dead letters, group failures and lost leases are told (the bus's `onEvent` listeners). */
  readonly events?: BusEvents | undefined
  /** The dead letters' log lines of every group of the bus, together (see `settle.ts`). */
  readonly deadLetterLines?: LineThrottle | undefined
}

/** What a running group is doing right now (in this process). */
export interface GroupStats {
  readonly group: string
  readonly topics: ReadonlyArray<string>
  /** Fetched events not yet done (running, waiting for their key or a retry, buffered). */
  readonly buffered: number
  /** Handlers running now. */
  readonly running: number
  /** In-memory ack floor per topic (may be ahead of the stored cursor until the next flush). */
  readonly floors: Readonly<Record<string, number>>
  readonly heldKeys: ReadonlyArray<string>
  /** Events waiting behind a held or busy key, parked out of the buffer (read back when due). */
  readonly parked: number
  /** Requeued dead letters not yet settled. */
  readonly requeued: number
  /** True while recovering events that were in flight when a previous owner crashed. */
  readonly isolating: boolean
}

/** A live subscription's handle, as the bus keeps it. */
export interface GroupHandle {
  /** Identifies this running instance (see `CurrentGroup`). */
  readonly id: string
  readonly config: GroupConfig
  /** Stops fetching, drains, persists and releases the lease; completes when all of that is done. */
  readonly stop: Effect.Effect<void>
  readonly ack: (eventId: string, run?: number) => Effect.Effect<void, AckError>
  readonly nack: (eventId: string, delayMs?: number) => Effect.Effect<void, AckError>
  /** Dead letters were requeued or dropped in this process. */
  readonly deadLettersChanged: Effect.Effect<void>
  /** Undefined while the group is not consuming (standing by, restarting, stopped). */
  readonly stats: () => GroupStats | undefined
  /** Whether it waits for another process that holds the group's lease. */
  readonly standingBy: () => boolean
}

/**
 * The group instance whose worker runs the current fiber. A handler that stops its own group (or
 * closes the bus) must not wait for the drain, which waits for that very handler.
 */
export const CurrentGroup = Context.Reference<string | undefined>("sibus/runtime/CurrentGroup", { defaultValue: () => undefined })

/** What ends a session (and makes the supervisor start another): the store, the bus, the lease. */
export type SessionError = StoreError | BusClosedError | LeaseLost
