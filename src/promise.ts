/**
 * The Promise facade: sibus for code that does not use Effect. `createRuntime({ db })` opens the
 * store and the bus in a `ManagedRuntime`; every method runs the matching `Bus` operation and
 * resolves with its result or rejects with its typed error instance. `close()` refuses new calls
 * (`BusClosedError`), lets the calls under way finish (a maintenance pass is cut short instead),
 * drains the groups and closes the database. It includes the maintenance operations (`compact`,
 * `prune`) and the compacted topics' read (`latestByKey`).
 */
import * as Cause from "effect/Cause"
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
import type { CompactionReport, PruneReport } from "./runtime/Maintenance.ts"
import { hostEntry, type HostValue, HostValueError, loadProgram, type Source } from "./program/load.ts"
import type { Limits } from "./lang/run.ts"
import { startProgram } from "./program/start.ts"
import { runTests, type TestReport } from "./program/testRunner.ts"
import { onRuntimeClose } from "./outbox/promise.ts"

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
  /**
   * The latest event of each of `keys` on `topic` (a compacted topic, typically), in one indexed
   * query. Keys with no event, and keys whose latest event is a tombstone (payload `null`), are
   * absent from the map. Rejects with a `TypeError` when `keys` is not an array of strings.
   */
  readonly latestByKey: (topic: string, keys: ReadonlyArray<string>) => Promise<ReadonlyMap<string, Event>>
  /**
   * Compacts now: `topic`, or every compacted topic. Deletes superseded events and expired
   * tombstones at or below the slowest group's cursor, in short transactions; resolves with a
   * report per topic. Rejects with `MaintenanceError` (unknown or not compacted topic, nothing
   * deleted) or `StoreError`.
   */
  readonly compact: (topic?: string) => Promise<ReadonlyArray<CompactionReport>>
  /**
   * Applies retention now: `topic`, or every topic with retention. Deletes expired events (kept
   * until the slowest group has consumed them, unless the topic says `retainUntilConsumed:
   * false`); resolves with a report per topic. Rejects with `MaintenanceError` (unknown topic or
   * no retention, nothing deleted) or `StoreError`.
   */
  readonly prune: (topic?: string) => Promise<ReadonlyArray<PruneReport>>
  readonly groupStats: (group: string) => GroupStats | undefined
  /**
   * Closes the runtime (idempotent): new calls reject with `BusClosedError`; calls under way
   * finish (a `compact` or `prune` is cut short and rejects with `BusClosedError`); outbox relays
   * started on it and loaded programs stop, the groups drain and the database closes. From inside a handler it does not
   * wait (the drain waits for that handler).
   */
  readonly close: () => Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
  /** Registers work `close()` stops first (an outbox relay's `stop`); returns the removal. */
  readonly [onRuntimeClose]: (stop: () => Promise<void>) => () => void
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
  /** Calls under way that close() waits for before it disposes the runtime (which would interrupt them). */
  const inFlight = new Set<Promise<unknown>>()
  const track = <A>(call: Promise<A>): Promise<A> => {
    inFlight.add(call)
    const forget = () => inFlight.delete(call)
    call.then(forget, forget)
    return call
  }
  // A call interrupted by close() rejects with BusClosedError, not with a bare interruption.
  // From inside a handler, a call runs in the handler's fiber context: it sees the handler's open
  // transaction (a publish is refused at once, a read runs inside it) instead of waiting for it.
  const settle = <A, E>(effect: Effect.Effect<A, E, never>, operation: string): Promise<A> => {
    const handlerContext = inHandler.getStore()?.context
    const exited = handlerContext === undefined ? rt.runPromiseExit(effect) : Effect.runPromiseExitWith(handlerContext)(effect)
    return exited.then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      throw closing !== undefined && Cause.hasInterruptsOnly(exit.cause) ? new BusClosedError({ operation }) : Cause.squash(exit.cause)
    })
  }
  /**
   * Runs a call on the bus: refused once close() has begun; otherwise close() waits for it
   * ("finish": a publish under way is committed and resolves, never half-done), or interrupts it
   * ("interrupt": a maintenance pass, whose every step is its own transaction).
   */
  const run = <A, E>(effect: Effect.Effect<A, E, never>, operation = "use the runtime", onClose: "finish" | "interrupt" = "finish"): Promise<A> => {
    if (closing !== undefined) return Promise.reject(new BusClosedError({ operation }))
    return onClose === "finish" ? track(settle(effect, operation)) : settle(effect, operation)
  }

  /** Which group's handler (if any) the current async code runs in, and that handler's fiber context. */
  const inHandler = new AsyncLocalStorage<{ readonly group: string; readonly context: Context.Context<never> }>()

  // A handler's ctx methods run in the handler's own fiber context, so they keep working while
  // close() drains the groups (the ManagedRuntime itself is already shutting down then).
  const wrap = (group: string, handler: PromiseHandler) => (event: Event, ctx: DeliveryContext) =>
    Effect.flatMap(Effect.context<never>(), (context: Context.Context<never>) => {
      const here = Effect.runPromiseWith(context)
      return Effect.tryPromise({
        try: async (signal) =>
          inHandler.run({ group, context }, () =>
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

  /** Work stopped first on close (the outbox relays publishing through this runtime). */
  const closeHooks = new Set<() => Promise<void>>()
  const close = () => {
    // Relays and programs first (they would otherwise publish into a closing bus, or their timers
    // outlive it), then the calls under way, then the bus and the store.
    closing ??= Promise.allSettled([...closeHooks].map((stop) => stop()))
      .then(() => Promise.all([...programs].map((p) => p.stop())))
      .then(() => Promise.allSettled([...inFlight]))
      .then(() => rt.dispose())
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
      try {
        hostEntry(name, value)
      } catch (e) {
        if (e instanceof HostValueError) throw new TypeError(`registerHost: ${e.message}`)
        throw e
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
        if (inHandler.getStore()?.group === group) {
          rt.runFork(sub.unsubscribe)
          return Promise.resolve()
        }
        return track(settle(sub.unsubscribe, "unsubscribe"))
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
    latestByKey: (topic, keys) =>
      Array.isArray(keys) && keys.every((k) => typeof k === "string")
        ? run(bus.latestByKey(topic, keys), "read")
        : Promise.reject(new TypeError(`latestByKey(topic, keys) takes an array of string keys, got ${keys === null ? "null" : Array.isArray(keys) ? "an array with a non-string" : typeof keys}`)),
    compact: (topic) => run(bus.compact(topic), "compact", "interrupt"),
    prune: (topic) => run(bus.prune(topic), "prune", "interrupt"),
    groupStats: (group) => bus.groupStats(group),
    close,
    [Symbol.asyncDispose]: close,
    [onRuntimeClose]: (stop) => {
      closeHooks.add(stop)
      return () => {
        closeHooks.delete(stop)
      }
    }
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
export type { CompactionReport, PruneReport }
export { createOutbox } from "./outbox/promise.ts"
export type { PromiseOutbox, PromisePublisher, PromiseRelay } from "./outbox/promise.ts"
export type { OutboxMessage, OutboxOptions, OutboxStats } from "./outbox/Outbox.ts"
export type { RelayCounters, RelayOptions, RelayStats } from "./outbox/Relay.ts"
