/**
 * Starts a consumer group and keeps it running: one session at a time (`session.ts`), and a new
 * one after a session fails (a store error, a closed bus, a lost lease), after a backoff of
 * 100 ms doubling to 5 s; a session that lasted over 10 s resets the count. A stop ends the
 * loop: the current session drains; a session interrupted (the group's scope closed) is not
 * restarted. Handler failures never reach this level: they are settled per event (`settle.ts`).
 *
 * Also builds the `GroupHandle` the bus keeps: stop (which returns at once when called from one
 * of the group's own handlers, whose drain waits for it), manual acks routed to the current
 * session, and its statistics.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { AckError } from "../busErrors.ts"
import type { GroupConfig } from "../subscribeOptions.ts"
import { Signal } from "../Signal.ts"
import { session, type SessionControl } from "./session.ts"
import { CurrentGroup, type GroupDeps, type GroupHandle, type Handler } from "./types.ts"
import { errorText } from "./work.ts"

let instances = 0

/** The delay before the session after `failures` consecutive failed ones. */
const restartDelay = (failures: number): number => Math.min(maxRestartMs, 100 * 2 ** (failures - 1))
/**
 * The longest wait before a new session: a database that fails for long is tried every 5 s (a
 * lease claim and a read), and one that comes back (a lost connection, a failover) costs a group
 * seconds, not half a minute.
 */
const maxRestartMs = 5000
/** A session that lasted this long ended a run of failures: the next restart waits 100 ms again. */
const healthySessionMs = 10_000

/**
 * Starts a group in `scope` and returns its handle once its first session has its cursors (or
 * stands by, or failed). The group runs until `stop` (or the scope closes, which interrupts it
 * without draining).
 */
export const startGroup = Effect.fnUntraced(function*(
  config: GroupConfig,
  handler: Handler,
  deps: GroupDeps,
  scope: Scope.Scope,
  context: Context.Context<never>,
  /** The instance id its handlers carry (`CurrentGroup`): a partitioned group's units share their group's. */
  instance?: string
) {
  const stopRequested = yield* Deferred.make<void>()
  /** Completed once the first session has its cursors (or stands by, or failed): `subscribe`
   * returns only then, so `from: "latest"` means "after the subscribe call". */
  const ready = yield* Deferred.make<void>()
  let current: SessionControl | undefined
  let waiting = false
  const refreshSignal = new Signal()
  // The group's series in the bus's metrics; its lag is read while it runs here.
  const groupMetrics = deps.writer.metrics.group(config.group, config.topics)
  const sessionDeps: GroupDeps = { ...deps, groupMetrics }

  const supervise = Effect.gen(function*() {
    let failures = 0
    while (!Deferred.isDoneUnsafe(stopRequested)) {
      const afterFailure = failures > 0
      const started = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(session(config, handler, sessionDeps, stopRequested, refreshSignal, ready, id, (c) => {
        current = c
      }, (w) => {
        waiting = w
      }, afterFailure))
      current = undefined
      yield* Deferred.succeed(ready, undefined)
      if (Exit.isSuccess(exit) || Deferred.isDoneUnsafe(stopRequested)) return
      if (Cause.hasInterruptsOnly(exit.cause)) return
      const ended = yield* Clock.currentTimeMillis
      failures = ended - started > healthySessionMs ? 1 : failures + 1
      const delay = restartDelay(failures)
      const error = errorText(exit.cause).message
      yield* Effect.logWarning(`group ${config.group}: ${error}; restarting in ${delay} ms`)
      sessionDeps.events?.emit(
        Cause.hasFails(exit.cause) && exit.cause.reasons.some((r) => r._tag === "Fail" && (r.error as { _tag?: unknown })._tag === "LeaseLost")
          ? { type: "leaseLost", group: config.group }
          : { type: "groupError", group: config.group, error, restartInMs: delay }
      )
      yield* Effect.raceFirst(Effect.sleep(delay), Deferred.await(stopRequested))
    }
  })

  // Every fiber of the group runs in the subscriber's context (its services, Clock, Random), so
  // handlers need no per-event provide.
  const id = instance ?? `${config.group}#${++instances}`
  const fiber = yield* Effect.forkIn(
    Effect.provideContext(supervise, context).pipe(Effect.ensuring(Effect.sync(groupMetrics.release))),
    scope
  )
  yield* Deferred.await(ready)

  const notRunning = (eventId: string) =>
    Effect.fail(new AckError({ group: config.group, eventId, detail: "the group is not running in this process" }))

  const handle: GroupHandle = {
    id,
    config,
    stop: Effect.gen(function*() {
      yield* Deferred.succeed(stopRequested, undefined)
      // From one of our own handlers: the drain waits for that handler, so do not wait for it.
      if ((yield* CurrentGroup) === id) return
      yield* Fiber.await(fiber)
    }),
    ack: (eventId, run) =>
      Effect.suspend(() => current === undefined ? notRunning(eventId) : current.decide(eventId, { _tag: "ack" }, run)),
    nack: (eventId, delayMs) =>
      Effect.suspend(() => current === undefined ? notRunning(eventId) : current.decide(eventId, { _tag: "nack", delayMs }, undefined)),
    deadLettersChanged: Effect.sync(() => refreshSignal.raise()),
    stats: () => current?.stats(),
    standingBy: () => waiting
  }
  return handle
})
