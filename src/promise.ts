/**
 * The Promise facade: sibus for code that does not use Effect. `createRuntime({ db })` opens the
 * store and the bus in a `ManagedRuntime`; every method runs the matching `Bus` operation and
 * resolves with its result or rejects with its typed error instance. `close()` drains the groups
 * and closes the database.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { AsyncLocalStorage } from "node:async_hooks"
import type { StoreError, StoreOpenError } from "./store/errors.ts"
import type { DeadLetter, Event } from "./store/records.ts"
import type { Store } from "./store/Store.ts"
import { Bus, type BusOptions, type BusShape, type DeadLetterQuery } from "./runtime/Bus.ts"
import { BusClosedError, SubscribeError } from "./runtime/errors.ts"
import type { DeliveryContext, GroupStats } from "./runtime/ConsumerGroup.ts"
import type { StartFrom, SubscribeOptions } from "./runtime/options.ts"
import type { PublishItem, PublishOptions } from "./runtime/publish.ts"
import type { TopicOptions } from "./runtime/Topic.ts"

export interface RuntimeOptions extends BusOptions {
  /** A SQLite file path, or `:memory:`. */
  readonly db: string
  /** SQLite durability: `NORMAL` (default) or `FULL` (sync on every commit). */
  readonly synchronous?: "NORMAL" | "FULL" | undefined
  readonly busyTimeoutMs?: number | undefined
}

/** The handler's view of its delivery, with Promise methods. */
export interface HandlerContext {
  readonly group: string
  readonly attempt: number
  /** Aborted when the handler is interrupted (ack timeout or shutdown). */
  readonly signal: AbortSignal
  readonly ack: () => Promise<void>
  readonly nack: (delayMs?: number) => Promise<void>
  readonly publish: (topic: string, payload: unknown, options?: PublishOptions) => Promise<Event>
}

export type PromiseHandler = (event: Event, ctx: HandlerContext) => unknown

export interface Runtime {
  readonly sid: string
  readonly defineTopic: (name: string, options?: TopicOptions) => Promise<void>
  readonly publish: (topic: string, payload: unknown, options?: PublishOptions) => Promise<Event>
  readonly publishAll: (items: ReadonlyArray<PublishItem>) => Promise<ReadonlyArray<Event>>
  /** Starts a durable consumer group; resolves with a function that unsubscribes (and drains). */
  readonly subscribe: (
    topic: string | ReadonlyArray<string>,
    group: string,
    handler: PromiseHandler,
    options?: SubscribeOptions
  ) => Promise<() => Promise<void>>
  readonly ack: (group: string, eventId: string) => Promise<void>
  readonly nack: (group: string, eventId: string, delayMs?: number) => Promise<void>
  readonly getCursor: (topic: string, group: string) => Promise<number | undefined>
  readonly setCursor: (topic: string, group: string, position: number | StartFrom | string) => Promise<void>
  readonly deadLetters: (query?: DeadLetterQuery) => Promise<ReadonlyArray<DeadLetter>>
  readonly requeue: (group: string, eventIds: "all" | string | ReadonlyArray<string>) => Promise<number>
  readonly dropDeadLetter: (group: string, eventId: string) => Promise<boolean>
  readonly read: (topic: string, afterSeq: number, limit: number) => Promise<ReadonlyArray<Event>>
  readonly groupStats: (group: string) => GroupStats | undefined
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

/** Opens a runtime. Rejects with `StoreOpenError` when the database cannot be opened or migrated. */
export const createRuntime = async (options: RuntimeOptions): Promise<Runtime> => {
  if (typeof options?.db !== "string" || options.db.length === 0) {
    throw new TypeError("createRuntime needs { db: <SQLite file path or \":memory:\"> }")
  }
  const rt = ManagedRuntime.make(Bus.sqlite({ ...options, filename: options.db }))
  let bus: BusShape
  try {
    bus = await rt.runPromise(Effect.service(Bus))
  } catch (e) {
    await rt.dispose()
    throw e
  }
  let closing: Promise<void> | undefined
  const run = <A, E>(effect: Effect.Effect<A, E, never>, operation = "use the runtime"): Promise<A> =>
    closing !== undefined ? Promise.reject(new BusClosedError({ operation })) : rt.runPromise(effect)

  /** Which group's handler (if any) the current async code runs in. */
  const inHandler = new AsyncLocalStorage<string>()

  // A handler's ctx methods run in the handler's own fiber context, so they keep working while
  // close() drains the groups (the ManagedRuntime itself is already shutting down then).
  const wrap = (group: string, handler: PromiseHandler) => (event: Event, ctx: DeliveryContext) =>
    Effect.flatMap(Effect.context<never>(), (context: Context.Context<never>) => {
      const here = Effect.runPromiseWith(context)
      return Effect.tryPromise({
        try: async (signal) =>
          inHandler.run(group, () =>
            handler(event, {
              group: ctx.group,
              attempt: ctx.attempt,
              signal,
              ack: () => here(ctx.ack),
              nack: (delayMs) => here(ctx.nack(delayMs)),
              publish: (topic, payload, publishOptions) => here(ctx.publish(topic, payload, publishOptions))
            })),
        catch: (e) => e
      })
    })

  const close = () => {
    closing ??= rt.dispose()
    // From inside a handler: the drain waits for that handler, so do not wait for the drain.
    return inHandler.getStore() !== undefined ? Promise.resolve() : closing
  }
  return {
    sid: bus.sid,
    defineTopic: (name, topicOptions) => run(Effect.asVoid(bus.defineTopic(name, topicOptions))),
    publish: (topic, payload, publishOptions) => run(bus.publish(topic, payload, publishOptions), "publish"),
    publishAll: (items) => run(bus.publishAll(items), "publish"),
    subscribe: async (topic, group, handler, subscribeOptions) => {
      if (typeof handler !== "function") {
        return Promise.reject(new SubscribeError({ group: String(group), detail: `the handler must be a function (event, ctx) => ..., got ${handler === null ? "null" : typeof handler}` }))
      }
      const sub = await run(bus.subscribe(topic, group, wrap(group, handler), subscribeOptions), "subscribe")
      return () => {
        if (closing !== undefined) return closing
        // From inside one of this group's handlers: stop without waiting for the drain.
        if (inHandler.getStore() === group) {
          rt.runFork(sub.unsubscribe)
          return Promise.resolve()
        }
        return rt.runPromise(sub.unsubscribe)
      }
    },
    ack: (group, eventId) => run(bus.ack(group, eventId)),
    nack: (group, eventId, delayMs) => run(bus.nack(group, eventId, delayMs)),
    getCursor: (topic, group) => run(bus.getCursor(topic, group)),
    setCursor: (topic, group, position) => run(bus.setCursor(topic, group, position)),
    deadLetters: (query) => run(bus.deadLetters(query)),
    requeue: (group, eventIds) => run(bus.requeue(group, eventIds)),
    dropDeadLetter: (group, eventId) => run(bus.dropDeadLetter(group, eventId)),
    read: (topic, afterSeq, limit) => run(bus.read(topic, afterSeq, limit)),
    groupStats: (group) => bus.groupStats(group),
    close,
    [Symbol.asyncDispose]: close
  }
}

export type { StoreError, StoreOpenError, Store }
