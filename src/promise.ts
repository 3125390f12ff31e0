/**
 * The Promise facade: sibus for code that does not use Effect. `createRuntime({ db })` opens the
 * store and the bus in a `ManagedRuntime`; every method runs the matching `Bus` operation and
 * resolves with its result or rejects with its typed error instance. `close()` drains the groups
 * and closes the database.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import { AsyncLocalStorage } from "node:async_hooks"
import type { StoreError, StoreOpenError } from "./store/errors.ts"
import type { DeadLetter, Event } from "./store/records.ts"
import type { Store } from "./store/Store.ts"
import { Bus, type BusOptions, type BusShape, type DeadLetterQuery } from "./runtime/Bus.ts"
import { BusClosedError, SubscribeError } from "./runtime/errors.ts"
import type { DeliveryContext, GroupStats } from "./runtime/ConsumerGroup.ts"
import type { StartFrom, SubscribeOptions } from "./runtime/options.ts"
import type { PendingEvent, PublishItem, PublishOptions } from "./runtime/publish.ts"
import type { Kysely } from "kysely"
import type { TopicOptions } from "./runtime/Topic.ts"
import { type HostValue, loadProgram, type Source } from "./compile/load.ts"
import type { Limits } from "./compile/runtime.ts"
import { startProgram } from "./compile/start.ts"
import { runTests, type TestReport } from "./compile/testRunner.ts"

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
  /**
   * Publishes an event caused by this one, written in the transaction that acknowledges it (so
   * it exists exactly once if the handler succeeds, and never if it fails). The returned record
   * has no `seq` yet.
   */
  readonly publish: (topic: string, payload: unknown, options?: PublishOptions) => Promise<PendingEvent>
  /**
   * A Kysely transaction on the bus's database for the handler's own writes, committed together
   * with the ack and this run's publishes (rolled back if the handler fails). Opened on first call;
   * later calls return the same one. Other store work waits while it is open: keep it short.
   */
  readonly transaction: () => Promise<Kysely<any>>
}

export type PromiseHandler = (event: Event, ctx: HandlerContext) => unknown

/** A `.sib` program running on a runtime. */
export interface LoadedProgram {
  readonly files: ReadonlyArray<string>
  readonly topics: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
  /** Stops its timers and drains its groups (closing the runtime does this too). */
  readonly stop: () => Promise<void>
}

export interface ProgramOptions {
  /** Host functions and objects for this program, besides those given to `registerHost`. */
  readonly host?: Readonly<Record<string, HostValue>> | undefined
  readonly limits?: Partial<Limits> | undefined
}

export interface Runtime {
  readonly sid: string
  /** Exposes a function or object, by name, to the `.sib` programs loaded after this call. */
  readonly registerHost: (name: string, value: HostValue) => void
  /**
   * Loads `.sib` files and starts them here: topics, groups, initial publishes, timers. All or
   * nothing: a program with any error rejects with `SibError` (every diagnostic; `error.render()`
   * shows them with source lines) and starts nothing.
   */
  readonly load: (files: string | ReadonlyArray<string | Source>, options?: ProgramOptions) => Promise<LoadedProgram>
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
              publish: (topic, payload, publishOptions) => here(ctx.publish(topic, payload, publishOptions)),
              transaction: () => here(ctx.transaction)
            })),
        catch: (e) => e
      })
    })

  const host = new Map<string, HostValue>()
  const programs = new Set<LoadedProgram>()
  const load = async (files: string | ReadonlyArray<string | Source>, loadOptions: ProgramOptions = {}): Promise<LoadedProgram> => {
    const sources = typeof files === "string" ? [files] : files
    const program = await run(loadProgram(sources, { host: { ...Object.fromEntries(host), ...loadOptions.host }, limits: loadOptions.limits }), "load")
    const scope = await run(Scope.make())
    let running
    try {
      running = await run(Scope.provide(startProgram(program, bus, { limits: loadOptions.limits }), scope), "load")
    } catch (e) {
      await rt.runPromise(Scope.close(scope, Exit.void))
      throw e
    }
    let stopping: Promise<void> | undefined
    const loaded: LoadedProgram = {
      files: program.files,
      topics: program.topics.map((t) => t.name),
      groups: program.subscriptions.map((s) => s.group),
      stop: () => {
        programs.delete(loaded)
        stopping ??= Effect.runPromise(Effect.andThen(running.stop, Scope.close(scope, Exit.void)))
        return stopping
      }
    }
    programs.add(loaded)
    return loaded
  }

  const close = () => {
    // Programs first (their timers would otherwise outlive the bus), then the bus and the store.
    closing ??= Promise.all([...programs].map((p) => p.stop())).then(() => rt.dispose())
    // From inside a handler: the drain waits for that handler, so do not wait for the drain.
    return inHandler.getStore() !== undefined ? Promise.resolve() : closing
  }
  return {
    sid: bus.sid,
    registerHost: (name, value) => {
      if (typeof name !== "string" || !/^[A-Za-z_*+!?<>=/-][\w*+!?<>=/.-]*$/.test(name)) {
        throw new TypeError(`registerHost: ${JSON.stringify(name)} is not a name .sib code can use (letters, digits and - _ ! ? * + < > = / .)`)
      }
      if (typeof value !== "function" && (typeof value !== "object" || value === null)) {
        throw new TypeError(`registerHost: ${name} must be a function or an object, got ${value === null ? "null" : typeof value}`)
      }
      host.set(name, value)
    },
    load,
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

/**
 * Runs the `deftest`s of `.sib` files, each on a fresh in-memory bus under a test clock; the report
 * lists every test with its located failures. Rejects with `SibError` when the files do not load.
 */
export const runSibTests = (files: string | ReadonlyArray<string | Source>, options: ProgramOptions = {}): Promise<TestReport> =>
  Effect.runPromise(Effect.flatMap(loadProgram(typeof files === "string" ? [files] : files, options), (program) => runTests(program, { limits: options.limits })))

export type { StoreError, StoreOpenError, Store }
export type { HostValue, Source, TestReport }
export { createOutbox } from "./outbox/promise.ts"
export type { PromiseOutbox, PromisePublisher, PromiseRelay } from "./outbox/promise.ts"
export type { OutboxMessage, OutboxOptions, OutboxStats } from "./outbox/Outbox.ts"
export type { RelayCounters, RelayOptions, RelayStats } from "./outbox/Relay.ts"
