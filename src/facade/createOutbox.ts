/**
 * `createOutbox({ db })`: the outbox for code that does not use Effect. It ensures the table and
 * gives Promise versions of `add`, `addAll`, `stats` and `retryFailed`; `startRelay(runtime)` runs
 * a relay publishing through a Promise runtime (`createRuntime`'s `publish`/`publishAll`) until
 * `stop()`, or until that runtime closes (the runtime stops its relays first when it closes). Calls
 * go through the facade `Runner`, so every rejection is the typed error instance the Effect API
 * fails with, and a relay closes as a runtime does.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type { Kysely } from "kysely"
import type { PublishItem, PublishOptions } from "../runtime/publish.ts"
import { OutboxOptionsError } from "../outbox/outboxErrors.ts"
import type { OutboxMessage, OutboxOptions, OutboxStats } from "../outbox/Outbox.ts"
import type { RelayCounters, RelayOptions, RelayStats } from "../outbox/Relay.ts"
import { addOutboxGauge, makeRunner, onRuntimeClose, runtimeWork } from "./Runner.ts"
import { BusClosedError } from "../runtime/busErrors.ts"

/** Outbox calls: nothing to dispose (the database is the application's), never refused. */
const calls = makeRunner({ runExit: Effect.runPromiseExit, dispose: () => Promise.resolve(), closedError: () => undefined })
/** What a relay needs from a Promise runtime (the `Runtime` of `createRuntime` has both). */
export interface PromisePublisher {
  readonly publish: (topic: string, payload: unknown, options?: PublishOptions) => Promise<unknown>
  readonly publishAll: (items: ReadonlyArray<PublishItem>) => Promise<unknown>
  /** When present (a `createRuntime` runtime), closing it stops the relay first. */
  readonly [onRuntimeClose]?: ((stop: () => Promise<void>) => () => void) | undefined
  /** When present (a `createRuntime` runtime), its metrics show the outbox's pending and failed rows while the relay runs. */
  readonly [addOutboxGauge]?: ((table: string, counts: Effect.Effect<{ readonly pending: number; readonly failed: number }, unknown>) => () => void) | undefined
  /** When present (a `createRuntime` runtime), the relay logs through its logger and is refused once it is closed. */
  readonly [runtimeWork]?: (<A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E> | BusClosedError) | undefined
}

export interface PromiseRelay {
  readonly owner: string
  /** What this relay did since it started. */
  readonly counters: () => RelayCounters
  /** The outbox's rows by state, with this relay's counters. */
  readonly stats: () => Promise<RelayStats>
  /** Deletes sent rows past the retention now; resolves with how many. */
  readonly prune: () => Promise<number>
  /**
   * Stops the relay (a publish in flight is interrupted and its claims given back). Closing the
   * runtime it publishes through first is safe too: the relay ends at its next publish (rejected
   * with `BusClosedError`), giving that batch back uncharged; `stop()` then resolves at once.
   */
  readonly stop: () => Promise<void>
  /** Resolves once the relay has stopped, by `stop()` or because its runtime closed. Never rejects. */
  readonly stopped: Promise<void>
  readonly [Symbol.asyncDispose]: () => Promise<void>
}

export interface PromiseOutbox {
  readonly table: string
  /** Adds a message through the caller's transaction `trx`; resolves with its id (the event's id). */
  readonly add: (trx: Kysely<any>, message: OutboxMessage) => Promise<string>
  /** Adds several messages: all or, on any bad one, none. */
  readonly addAll: (trx: Kysely<any>, messages: ReadonlyArray<OutboxMessage>) => Promise<ReadonlyArray<string>>
  readonly stats: () => Promise<OutboxStats>
  readonly retryFailed: (ids?: ReadonlyArray<string>) => Promise<number>
  /** Starts a relay publishing through `runtime`. */
  readonly startRelay: (runtime: PromisePublisher, options?: RelayOptions) => Promise<PromiseRelay>
}

/**
 * Opens an outbox on the application's Kysely database, creating its table if needed. The outbox's
 * modules (and Kysely's migrator with them) load here: a runtime that never makes an outbox does
 * not load them.
 */
export const createOutbox = async (options: OutboxOptions): Promise<PromiseOutbox> => {
  const [{ make }, { start }] = await Promise.all([import("../outbox/Outbox.ts"), import("../outbox/Relay.ts")])
  const outbox = await calls.run(make(options), "open")
  const startRelay = async (runtime: PromisePublisher, relayOptions?: RelayOptions): Promise<PromiseRelay> => {
    if (typeof runtime?.publish !== "function" || typeof runtime?.publishAll !== "function") {
      throw new OutboxOptionsError({ of: "relay", detail: "startRelay needs a runtime with publish and publishAll (from createRuntime)" })
    }
    const target = {
      publish: (topic: string, payload: unknown, o?: PublishOptions) => Effect.tryPromise({ try: () => runtime.publish(topic, payload, o), catch: (e) => e }),
      publishAll: (items: ReadonlyArray<PublishItem>) => Effect.tryPromise({ try: () => runtime.publishAll(items), catch: (e) => e })
    }
    /** The relay's work, with the runtime's logger (the relay's fibers inherit it). */
    const asRuntimeWork = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | BusClosedError> => {
      const work = runtime[runtimeWork]?.(effect) ?? effect
      return work instanceof BusClosedError ? Effect.fail(work) : work
    }
    const scope = Effect.runSync(Scope.make())
    const relay = await Effect.runPromise(asRuntimeWork(Scope.provide(scope)(start(outbox, target, relayOptions)))).catch(async (e) => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      throw e
    })
    // The relay's own runner: stopping it closes its scope (a publish in flight is interrupted and
    // its claims given back); its reads of the outbox work before and after.
    const runner = makeRunner({
      // Its reads of the outbox work after the runtime closed too: with its logger while it is open.
      runExit: (effect) => {
        const work = runtime[runtimeWork]?.(effect)
        return Effect.runPromiseExit(work === undefined || work instanceof BusClosedError ? effect : work)
      },
      dispose: () => Effect.runPromise(Scope.close(scope, Exit.void)),
      closedError: () => new OutboxOptionsError({ of: "relay", detail: "the relay was stopped" })
    })
    let forget = (): void => {}
    const unGauge = runtime[addOutboxGauge]?.(outbox.table, outbox.stats) ?? (() => {})
    const stop = () => {
      forget()
      unGauge()
      return runner.close()
    }
    forget = runtime[onRuntimeClose]?.(stop) ?? forget
    // Ended on its own (the runtime closed): release the rest (the wake-up watch) as stop() does.
    const stopped = Effect.runPromise(relay.stopped).then(stop)
    return {
      owner: relay.owner,
      counters: relay.counters,
      stats: () => runner.runAlways(relay.stats, "stats"),
      prune: () => runner.runAlways(relay.prune, "prune"),
      stop,
      stopped,
      [Symbol.asyncDispose]: stop
    }
  }
  return {
    table: outbox.table,
    add: (trx, message) => calls.run(outbox.add(trx, message), "add"),
    addAll: (trx, messages) => calls.run(outbox.addAll(trx, messages), "add"),
    stats: () => calls.run(outbox.stats, "stats"),
    retryFailed: (ids) => calls.run(outbox.retryFailed(ids), "retry"),
    startRelay
  }
}
