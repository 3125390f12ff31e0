/**
 * The `Bus` service: the embedded event bus an application talks to. It owns the topic registry,
 * the group-commit writer, the wake-ups, and the consumer groups running in this process, and
 * exposes publish, subscribe, manual acks, cursors and dead letters. It needs a `Store`.
 *
 * Closing the bus (closing its layer's scope) drains every group (see `group/session.ts`), then
 * commits whatever writes are pending, then the store closes.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import type { StoreError } from "../store/storeErrors.ts"
import { busSpec } from "../options/busSpec.ts"
import { check, problemText, shown } from "../options/spec.ts"
import { storedTopic } from "../options/topicSpec.ts"
import { Store } from "../store/Store.ts"
import { heldByOther } from "./group/lease.ts"
import { floorOf } from "./group/startFrom.ts"
import { foldUnits } from "./foldedAdmin.ts"
import * as Inspect from "./Inspect.ts"
import { startPartitioned } from "./group/partitioned.ts"
import { startGroup } from "./group/supervisor.ts"
import { CurrentGroup, type GroupDeps, type GroupHandle, type Handler } from "./group/types.ts"
import { AckError, BusClosedError, BusOptionsError, GroupError, MaintenanceError, PublishError, SubscribeError, TopicError } from "./busErrors.ts"
import { nodeHost } from "./HostInfo.ts"
import { bootId, makeIdGenerator } from "./ids.ts"
import * as Maintenance from "./Maintenance.ts"
import { type GroupConfig, groupNameProblem, parseStartFrom, resolveOptions, type SubscribeOptions } from "./subscribeOptions.ts"
import { prepare } from "./publish.ts"
import { watchOtherCommits } from "./otherCommits.ts"
import { Wakeups } from "./Signal.ts"
import { definitionChanges, hasSettings, makeTopic, publishOptionsOfConfig, type Topic, topicConfig, topicNameProblem, type TopicOptions } from "./Topic.ts"
import { runAsSingleton } from "./singleton.ts"
import { BusEvents } from "./busEvents.ts"
import { makeLive } from "./live.ts"
import { makeWriter } from "./Writer.ts"
import { makePublishing } from "./busPublish.ts"
import { LineThrottle } from "./lineThrottle.ts"
import { makeAdmin } from "./busAdmin.ts"
import type { BusOptions, BusShape, EffectHandler, Subscription } from "./BusShape.ts"

// The bus's contract lives in BusShape.ts; its users import it from here.
export type { AdminOptions, BusOptions, BusShape, DeadLetterQuery, EffectHandler, GroupDescription, Subscription, TopicRemoval } from "./BusShape.ts"

interface RunningGroup {
  handle: GroupHandle
  readonly handler: Handler
  /** The subscriber's context: the group's fibers (and so its handler) run in it. */
  readonly context: Context.Context<never>
  readonly options: SubscribeOptions | undefined
  readonly topic: string | ReadonlyArray<string>
  scope: Scope.Closeable
}

/** The bus's calls that reach the store: refused with `BusClosedError` once the bus has ended. */
const storeCalls = [
  "defineTopic", "dryRun", "getCursor", "setCursor", "deadLetters", "deliveries", "requeue", "dropDeadLetter", "read", "latestByKey",
  "describeGroup", "compact", "prune", "deleteGroup", "purgeTopic", "deleteTopic"
] as const satisfies ReadonlyArray<keyof BusShape>

/** compact and prune take a topic's name, or nothing for every topic. */
const notATopic = (operation: "compact" | "prune", topic: unknown) =>
  new MaintenanceError({ operation, topic: shown(topic), detail: `${operation} takes a topic name, or nothing for every topic` })

export const make = Effect.fnUntraced(function*(options: BusOptions = {}) {
  const store = yield* Store
  // Set by the bus's last finalizer (added first, it runs after the groups drained and the writer's
  // last commit): the store closes next, so a call from then on is the closed bus's (BusClosedError),
  // not a failure of the database. Calls during the drain (a handler's read) still work.
  let ended = false
  yield* Effect.addFinalizer(() => Effect.sync(() => (ended = true)))
  /** Admin operations with partitioned groups folded back into their groups. */
  const admin = foldUnits(store)

  const busScope = yield* Effect.scope
  const clock = yield* Clock.Clock
  const sid = bootId(clock, yield* Random.Random)
  const ids = makeIdGenerator()
  const host = options.host ?? nodeHost
  const inspect = Inspect.make(store, host)
  const checked = check(busSpec, options)
  if (!checked.ok) return yield* new BusOptionsError({ detail: problemText(checked.problem), problem: checked.problem })
  const limits = { maxPayloadBytes: checked.value.maxPayloadBytes! }
  const pollIntervalMs = checked.value.pollIntervalMs!
  const maintenanceOptions = Maintenance.resolveMaintenance(options.maintenance === false ? undefined : options.maintenance)
  if (!("intervalMs" in maintenanceOptions)) return yield* new BusOptionsError({ detail: problemText(maintenanceOptions), problem: maintenanceOptions })
  const maintenance = Maintenance.make(store, maintenanceOptions, host)
  const wakeups = new Wakeups()
  const writer = yield* makeWriter(store.runtime, (topics) => wakeups.notify(topics))
  const topics = new Map<string, Topic>()
  // Topics another process defined (their stored settings): a publish here obeys their compaction,
  // key field, partitions and payload schema even though this process did not define them. Read
  // when the bus opens and again after other connections commit (so a definition made elsewhere
  // holds here within a poll interval), and before a dry run.
  const storedTopics = new Map<string, Topic>()
  const refreshStored = Effect.map(store.runtime.topics, (records) => {
    storedTopics.clear()
    for (const record of records) {
      const stored = publishOptionsOfConfig(record.config)
      if (Object.keys(stored).length > 0) storedTopics.set(record.name, makeTopic(record.name, stored))
    }
  })
  // The change token is read before the settings: a commit in between shows as a change.
  const changeToken = store.capabilities.changeToken
  const token = changeToken === undefined ? 0 : yield* changeToken
  yield* refreshStored
  const topicOf = (name: string): Topic | undefined => topics.get(name) ?? storedTopics.get(name)
  const running = new Map<string, RunningGroup>()
  let closed = false
  // Groups live in their own scope, created before the finalizer that drains them: finalizers run
  // in reverse order, so closing the bus drains every group first and only then closes their
  // scopes (which would interrupt them), then the writer commits what is left.
  const groupsScope = yield* Scope.fork(busScope, "sequential")
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      closed = true
      // Live streams see the bus closing and end.
      wakeups.notifyAll()
      yield* Effect.forEach([...running.keys()], stopGroup, { concurrency: "unbounded", discard: true })
    })
  )

  // Commits by other connections (other processes on the same file) wake every group, where the
  // database can tell (the change-detection capability).
  if (changeToken !== undefined) {
    yield* watchOtherCommits({
      changeToken, token, wakeups, pollIntervalMs, refreshStored,
      commitNotifications: store.capabilities.commitNotifications
    })
  }

  // Maintenance deletes and compacts: nothing to do on a database opened read-only.
  if (options.maintenance !== false && store.capabilities.readOnly !== true) yield* Effect.forkScoped(maintenance.schedule)

  const stamp = (fiberClock: Clock.Clock, fiberRandom: Random.Random) => ({
    id: () => ids.next(fiberClock, fiberRandom),
    ts: fiberClock.currentTimeMillisUnsafe(),
    sid
  })

  const { publish, publishAll } = makePublishing({ writer, topicOf, limits, stamp, closed: () => closed })

  const events = new BusEvents()
  const deps: GroupDeps = {
    store: store.runtime, writer, wakeups, sid, host, maxEventBytes: limits.maxPayloadBytes, events,
    // Every group's (and partition's) dead-letter lines together: at most 10 a second for the bus.
    deadLetterLines: new LineThrottle(10),
    prepare: (fiber, topic, payload, publishOptions) =>
      prepare(topic, payload, publishOptions, topicOf(topic), limits, stamp(fiber.getRef(Clock.Clock), fiber.getRef(Random.Random)))
  }
  /** Groups being stopped: a new subscription of the same group waits for the drain to finish. */
  const draining = new Map<string, Deferred.Deferred<void>>()

  const start = (entry: Omit<RunningGroup, "handle" | "scope">, config: Exclude<ReturnType<typeof resolveOptions>, SubscribeError>) =>
    Effect.gen(function*() {
      const scope = yield* Scope.fork(groupsScope, "sequential")
      const partitions = yield* partitionsOf(config.topics)
      const handle = partitions > 1
        ? yield* startPartitioned(config, partitions, entry.handler, deps, scope, entry.context)
        : yield* startGroup(config, entry.handler, deps, scope, entry.context)
      const group: RunningGroup = { ...entry, handle, scope }
      running.set(config.group, group)
      return group
    })

  /**
   * How many partitions a group over `topics` has: the most any of them has, as stored (every
   * process reads the same answer, whether or not it defined the topics).
   */
  const partitionsOf = (groupTopics: ReadonlyArray<string>) =>
    Effect.map(store.runtime.topics, (stored) => {
      let most = 1
      for (const record of stored) if (groupTopics.includes(record.name)) most = Math.max(most, storedTopic(record.config).partitions ?? 1)
      return most
    })

  const stopGroup = (name: string): Effect.Effect<void> =>
    Effect.gen(function*() {
      const group = running.get(name)
      if (group === undefined) {
        const pending = draining.get(name)
        if (pending !== undefined) yield* Deferred.await(pending)
        return
      }
      running.delete(name)
      const done = Deferred.makeUnsafe<void>()
      draining.set(name, done)
      const stop = Effect.andThen(group.handle.stop, Scope.close(group.scope, Exit.void)).pipe(
        Effect.ensuring(Effect.sync(() => {
          draining.delete(name)
          Deferred.doneUnsafe(done, Effect.void)
        }))
      )
      // Stopped from one of its own handlers: the drain waits for that handler, so let it return.
      if ((yield* CurrentGroup) === group.handle.id) {
        yield* Effect.forkIn(Effect.provideService(stop, CurrentGroup, undefined), busScope)
        return
      }
      yield* stop
    })

  const subscribe: BusShape["subscribe"] = <R>(
    topic: string | ReadonlyArray<string>,
    group: string,
    handler: EffectHandler<R>,
    subscribeOptions?: SubscribeOptions
  ) =>
    Effect.gen(function*() {
      if (closed) return yield* new BusClosedError({ operation: "subscribe" })
      if (typeof handler !== "function") {
        return yield* new SubscribeError({ group: String(group), detail: `the handler must be a function (event, ctx) => ..., got ${handler === null ? "null" : typeof handler}` })
      }
      const resolved = resolveOptions(group, topic, subscribeOptions)
      if (resolved instanceof SubscribeError) return yield* resolved
      if (store.capabilities.readOnly === true) {
        return yield* new SubscribeError({ group, detail: "the database was opened read-only, and a consumer group writes its cursors and leases (live() watches topics without writing)" })
      }
      const config = yield* startAtEvent(resolved)
      const pending = draining.get(group)
      if (pending !== undefined) yield* Deferred.await(pending)
      if (running.has(group)) {
        return yield* new SubscribeError({ group, detail: "this group is already subscribed in this runtime (unsubscribe it first)" })
      }
      const context = (yield* Effect.context<R>()) as Context.Context<never>
      yield* start({ handler: handler as Handler, context, options: subscribeOptions, topic }, config)
      return {
        group,
        topics: config.topics,
        unsubscribe: stopGroup(group)
      } satisfies Subscription
    })

  /**
   * `from: { id }` (starting with that event) and `{ afterId }` (just after it) are placed once, at
   * subscribe: every topic of the group starts at that event's (global) seq. An unknown id is refused.
   */
  const startAtEvent = (config: GroupConfig): Effect.Effect<GroupConfig, SubscribeError | StoreError> =>
    Effect.gen(function*() {
      const from = config.from
      if (typeof from !== "object" || !("afterId" in from || "id" in from)) return config
      const id = "afterId" in from ? from.afterId : from.id
      const floor = yield* floorOf(store.runtime, config.topics[0]!, from).pipe(Effect.catchTag("StartFromError", () =>
        Effect.fail(new SubscribeError({ group: config.group, detail: `from: no event has the id ${JSON.stringify(id)}` }))
      ))
      return { ...config, from: { seq: floor + 1 } }
    })

  const notOutstanding = (group: string, eventId: string) =>
    new AckError({ group, eventId, detail: "the group is not running in this process" })

  /**
   * A definition as it would be stored: valid options, and settings that agree with the stored
   * ones unless it says `redefine: true`. A definition with no settings of a topic that has stored
   * ones names it as stored (`reference`): a consumer need not repeat its producer's settings.
   */
  const checkedDefinition = (name: string, topicOptions: TopicOptions | undefined) =>
    Effect.gen(function*() {
      const topic = yield* Effect.try({
        try: () => makeTopic(name, topicOptions),
        catch: (e) => (e instanceof TopicError ? e : new TopicError({ topic: String(name), detail: String(e) }))
      })
      const stored = (yield* store.runtime.topics).find((t) => t.name === name)
      const config = topicConfig(topic)
      if (stored !== undefined && topicOptions?.redefine !== true && !hasSettings(config)) {
        return { topic: makeTopic(name, publishOptionsOfConfig(stored.config)), reference: true, unchanged: true }
      }
      // Keys would move to other partitions while their earlier events wait in the old ones: per-key
      // order would break, so the count is fixed once the topic has events, redefined or not (and
      // a topic that got events without a definition has none).
      const storedPartitions = stored === undefined ? undefined : storedTopic(stored.config).partitions
      if ((storedPartitions ?? 1) !== (topic.options.partitions ?? 1) && (yield* store.runtime.headSeq(name)) > 0) {
        return yield* new TopicError({
          topic: name,
          detail: `its partitions cannot change once it has events (stored ${storedPartitions ?? (stored === undefined ? "none: its events were published without a definition" : "none")}, defined ${topic.options.partitions ?? "none"}): a key's later events would land in another partition than its earlier ones; publish to a new topic instead`
        })
      }
      if (stored !== undefined && topicOptions?.redefine !== true) {
        const changes = definitionChanges(stored.config, config)
        if (changes.length > 0) {
          return yield* new TopicError({
            topic: name,
            detail: `its stored settings differ (${changes.join("; ")}): define it as stored, or redefine it (redefine: true; in .sib :redefine true) to replace them`
          })
        }
      }
      // Read-only, a definition is taken as long as it would store nothing new (a program that
      // defines the topics it reads from, as they are stored); anything else would write.
      if (store.capabilities.readOnly === true) {
        const changes = definitionChanges(stored?.config ?? {}, config)
        if (changes.length > 0) {
          return yield* new TopicError({
            topic: name,
            detail: `the database was opened read-only, and this definition would store new settings (${changes.join("; ")}); define it as stored, or open the database for writing`
          })
        }
        return { topic, reference: false, unchanged: true }
      }
      return { topic, reference: false, unchanged: false }
    })

  const { requireGroup, ...adminCalls } = makeAdmin({
    store, admin, sid, host,
    groups: {
      has: (group) => running.has(group) || draining.has(group),
      consuming: (topic) =>
        [...running.entries()].filter(([, g]) => (typeof g.topic === "string" ? [g.topic] : g.topic).includes(topic)).map(([name]) => name),
      deadLettersChanged: (group) => running.get(group)?.handle.deadLettersChanged ?? Effect.void
    },
    knows: (topic) => topicOf(topic) !== undefined,
    forget: (topic) => {
      topics.delete(topic)
      storedTopics.delete(topic)
    }
  })

  const bus: BusShape = {
    ...adminCalls,
    sid,
    defineTopic: (name, topicOptions) =>
      Effect.gen(function*() {
        const { topic, reference, unchanged } = yield* checkedDefinition(name, topicOptions)
        // A reference to a stored topic keeps the stored settings (and their refreshes) in force.
        if (reference) {
          storedTopics.set(name, topic)
          return topic
        }
        if (!unchanged) yield* store.runtime.upsertTopic(name, topicConfig(topic), yield* Clock.currentTimeMillis)
        topics.set(name, topic)
        storedTopics.delete(name)
        return topic
      }),
    dryRun: (plan) =>
      Effect.withFiber<void, TopicError | PublishError | SubscribeError | StoreError>((fiber) =>
        Effect.gen(function*() {
          yield* refreshStored
          for (const s of plan.subscriptions ?? []) {
            const from = typeof s.from === "string" ? parseStartFrom(s.from) : s.from
            if (typeof from !== "object" || !("afterId" in from || "id" in from)) continue
            const id = "afterId" in from ? from.afterId : from.id
            if ((yield* store.runtime.eventById(id)) === undefined) {
              return yield* new SubscribeError({ group: s.group, detail: `from: no event has the id ${JSON.stringify(id)}` })
            }
          }
          const planned = new Map<string, Topic>()
          for (const t of plan.topics ?? []) planned.set(t.name, (yield* checkedDefinition(t.name, t.options)).topic)
          // Prepared as a publish would be, under the planned topics, with a stamp that takes
          // nothing from the fiber's Random (a dry run must not change the ids a real run gets).
          const stamp = { id: () => "dry-run", ts: fiber.getRef(Clock.Clock).currentTimeMillisUnsafe(), sid }
          const items = plan.publishes ?? []
          for (let i = 0; i < items.length; i++) {
            const { payload, topic, ...rest } = items[i]!
            const p = prepare(topic, payload, rest, planned.get(topic) ?? topicOf(topic), limits, stamp)
            if (p instanceof PublishError) {
              return yield* new PublishError({ topic: p.topic, reason: p.reason, detail: `item ${i} of ${items.length}: ${p.detail}`, item: i })
            }
          }
        })
      ),
    topic: (name) => topicOf(name),
    publish,
    publishAll,
    live: makeLive({ store: store.runtime, wakeups, backstopMs: 1000, closed: () => closed }),
    subscribe,
    ack: (group, eventId) =>
      Effect.suspend(() => running.get(group)?.handle.ack(eventId) ?? Effect.fail(notOutstanding(group, eventId))),
    nack: (group, eventId, delayMs) =>
      Effect.suspend(() => running.get(group)?.handle.nack(eventId, delayMs) ?? Effect.fail(notOutstanding(group, eventId))),
    // A partitioned group's floor on a topic: its slowest partition's (every event at or below it is done).
    getCursor: (topic, group) =>
      Effect.gen(function*() {
        let floor: number | undefined
        for (const name of yield* admin.namesOf(group)) {
          const cursor = yield* store.runtime.getCursor(name, topic)
          if (cursor !== undefined) floor = Math.min(floor ?? cursor.floor, cursor.floor)
        }
        return floor
      }),
    setCursor: (topic, group, position) =>
      Effect.gen(function*() {
        const invalid = (why: string) => new GroupError({ group, detail: `cannot place the cursor at ${shown(position)}: ${why}` })
        const groupProblem = groupNameProblem(group)
        if (groupProblem !== undefined) return yield* new GroupError({ group: String(group), detail: `cannot place the cursor: ${groupProblem}` })
        const topicProblem = topicNameProblem(topic)
        if (topicProblem !== undefined) return yield* new TopicError({ topic: String(topic), operation: "cursor", detail: topicProblem })
        const from = typeof position === "string" ? parseStartFrom(position) : position
        if (from === undefined) return yield* invalid("use a seq number, earliest, latest, seq:N, ts:ISO-8601, id:EVENT-ID or afterId:EVENT-ID")
        const floor = yield* floorOf(store.runtime, topic, from).pipe(Effect.catchTag("StartFromError", (e) => Effect.fail(invalid(e.message))))
        const names = yield* admin.namesOf(group)
        const now = yield* Clock.currentTimeMillis
        for (const name of names) {
          const lease = yield* store.runtime.readLease(name)
          if (heldByOther(lease, sid, now, host)) {
            return yield* new GroupError({
              group,
              detail: `it is being consumed by process ${lease.ownerPid ?? "?"} on ${lease.ownerHost ?? "?"}; stop that consumer before moving its cursor`
            })
          }
        }
        /** Every stored name of the group moves (a partitioned group's partitions, each); a new group gets its own cursor. */
        const moveAll = (at: number) =>
          Effect.gen(function*() {
            let moved = false
            for (const name of names) {
              if (name === group && names.length > 1 && (yield* store.runtime.getCursor(name, topic)) === undefined) continue
              yield* store.admin.setCursor(name, topic, floor, at)
              moved = true
            }
            if (!moved) yield* store.admin.setCursor(group, topic, floor, at)
          })
        const here = running.get(group)
        if (here !== undefined) {
          yield* stopGroup(group)
          yield* moveAll(yield* Clock.currentTimeMillis)
          const config = resolveOptions(group, here.topic, here.options)
          if (config instanceof SubscribeError) return yield* config
          yield* start({ handler: here.handler, context: here.context, options: here.options, topic: here.topic }, config)
          return
        }
        yield* moveAll(now)
      }),
    groups: () => [...running.keys()],
    groupStats: (group) => running.get(group)?.handle.stats(),
    standingBy: (group) => running.get(group)?.handle.standingBy() ?? false,
    describeGroup: (group) =>
      Effect.gen(function*() {
        yield* requireGroup(group, "describe it")
        const positions = (yield* inspect.groups).filter((g) => g.cursor.group === group)
        const members = (yield* inspect.members).filter((m) => m.group === group)
        return { group, positions, members }
      }),
    compact: (topic) => (topic === undefined || typeof topic === "string" ? maintenance.compact(topic) : Effect.fail(notATopic("compact", topic))),
    prune: (topic) => (topic === undefined || typeof topic === "string" ? maintenance.prune(topic) : Effect.fail(notATopic("prune", topic))),
    singleton: (name, work, singletonOptions) => runAsSingleton({ store: store.runtime, sid, host }, name, work, singletonOptions),
    onEvent: (listener) => events.on(listener)
  }

  const guarded: Record<string, unknown> = { ...bus }
  for (const name of storeCalls) {
    const call = bus[name] as (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
    guarded[name] = (...args: ReadonlyArray<unknown>) => Effect.suspend(() => (ended ? Effect.fail(new BusClosedError({ operation: name })) : call(...args)))
  }
  return guarded as unknown as BusShape
})

export class Bus extends Context.Service<Bus, BusShape>()("sibus/Bus") {
  /** The bus over whatever `Store` is provided. */
  static readonly layer = (options?: BusOptions): Layer.Layer<Bus, StoreError | BusOptionsError, Store> => Layer.effect(Bus, make(options))

}
