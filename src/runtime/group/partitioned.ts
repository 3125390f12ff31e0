/**
 * A partitioned group: one whose topics have several partitions, its work spread over every
 * process that subscribes to it. Each partition is a unit, run by the single-owner machinery of
 * `supervisor.ts` and `session.ts` under a name of its own (`units.ts`): its lease, cursors, retries
 * and dead letters are the unit's, so per-key order (a key lives in one partition), fencing of a
 * paused owner's late acks and crash recovery hold per partition exactly as for a whole group.
 *
 * This file is the member: it joins the group (`group_members`), beats every `leaseMs / 3`, and at
 * each beat reads the members, judges who is live (`members.ts`), computes the assignment every
 * member computes (`assignment.ts`) and reconciles: units it no longer owns are stopped (the
 * cooperative hand-off: the unit stops fetching, lets its running handlers finish within
 * `drainTimeoutMs`, persists its floors and releases its lease), and units newly its own are
 * started (a unit still leased by its previous owner stands by until that owner releases it, or
 * until its lease has gone unrenewed for `leaseMs` when that owner died or froze).
 *
 * `maxInFlight` is the member's: its units share one budget of running handlers.
 *
 * At subscribe every unit's cursors are created (at `from`, or where the group's own cursor stands
 * if it was consumed whole before), so a partition owned by a member that starts later misses
 * nothing published after the first subscribe.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { StoreError } from "../../store/storeErrors.ts"
import { AckError } from "../busErrors.ts"
import { monotonicMillis } from "../monotonic.ts"
import type { GroupConfig } from "../subscribeOptions.ts"
import { assign } from "./assignment.ts"
import { MemberWatch } from "./members.ts"
import { floorOf } from "./startFrom.ts"
import { startGroup } from "./supervisor.ts"
import type { GroupDeps, GroupHandle, GroupStats, Handler } from "./types.ts"
import { unitName } from "./units.ts"

let instances = 0

interface Unit {
  readonly handle: GroupHandle
  readonly scope: Scope.Closeable
}

/** Creates each unit's missing cursors before any unit runs (see the module's comment). */
const initUnitCursors = (config: GroupConfig, partitions: number, deps: GroupDeps) =>
  Effect.gen(function*() {
    const { store } = deps
    for (const topic of config.topics) {
      let floor: number | undefined
      for (let p = 0; p < partitions; p++) {
        const name = unitName(config.group, p)
        if ((yield* store.getCursor(name, topic)) !== undefined) continue
        if (floor === undefined) {
          // A group consumed whole before (stored by an earlier sibus) goes on from its own cursor.
          const whole = yield* store.getCursor(config.group, topic)
          // `from` was checked at subscribe (an event id turned into a seq): it always has a floor.
          floor = whole?.floor ?? (yield* floorOf(store, topic, config.from).pipe(Effect.catchTag("StartFromError", Effect.die)))
        }
        yield* store.initCursor(name, topic, floor, yield* Clock.currentTimeMillis)
      }
    }
  })

/**
 * Starts this process's membership of a partitioned group in `scope` and returns the group's
 * handle once it has joined and started the units it owns.
 */
export const startPartitioned = Effect.fnUntraced(function*(
  config: GroupConfig,
  partitions: number,
  handler: Handler,
  deps: GroupDeps,
  scope: Scope.Scope,
  context: Context.Context<never>
) {
  const { store, sid, host } = deps
  const group = config.group
  const id = `${group}#${++instances}`
  const units = new Map<number, Unit>()
  /** Units being handed off: not started again until their stop completes. */
  const stopping = new Map<number, Fiber.Fiber<void>>()
  const watch = new MemberWatch({ self: sid, timeoutMs: config.leaseMs, host })
  const beatMs = Math.max(1, Math.floor(config.leaseMs / 3))
  let stopped = false

  yield* initUnitCursors(config, partitions, deps)
  const slots = yield* Semaphore.make(config.maxInFlight)

  const beat = Effect.flatMap(Clock.currentTimeMillis, (now) =>
    store.beatMember({ group, member: sid, pid: host.pid, host: host.hostname, now }))

  const startUnit = (partition: number) =>
    Effect.gen(function*() {
      const unitScope = yield* Scope.fork(scope, "sequential")
      const unitConfig: GroupConfig = { ...config, unit: { name: unitName(group, partition), partition, slots } }
      const handle = yield* startGroup(unitConfig, handler, deps, unitScope, context, id)
      units.set(partition, { handle, scope: unitScope })
    })

  /** Stops a unit in the background (the hand-off: it drains, persists and releases its lease). */
  const stopUnit = (partition: number, unit: Unit) =>
    Effect.gen(function*() {
      units.delete(partition)
      const fiber = yield* Effect.forkIn(
        Effect.andThen(unit.handle.stop, Scope.close(unit.scope, Exit.void)).pipe(
          Effect.ensuring(Effect.sync(() => stopping.delete(partition)))
        ),
        scope
      )
      stopping.set(partition, fiber)
    })

  /** One look at the members, and the units started and stopped to match what this member owns. */
  const balance: Effect.Effect<void, StoreError> = Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const rows = yield* store.groupMembers(group)
    const { live, gone } = watch.observe(rows, monotonicMillis(clock))
    for (const row of gone) yield* store.leaveMember(group, row.member)
    const mine = new Set(assign(partitions, live).get(sid) ?? [])
    for (const [partition, unit] of [...units]) if (!mine.has(partition)) yield* stopUnit(partition, unit)
    for (const partition of mine) if (!units.has(partition) && !stopping.has(partition)) yield* startUnit(partition)
  })

  yield* beat
  yield* balance
  const loop = Effect.gen(function*() {
    let failures = 0
    while (true) {
      yield* Effect.sleep(failures === 0 ? beatMs : Math.min(30_000, beatMs * 2 ** failures))
      const exit = yield* Effect.exit(Effect.andThen(beat, balance))
      if (Exit.isSuccess(exit)) {
        failures = 0
      } else {
        failures++
        yield* Effect.logWarning(`group ${group}: membership: ${Cause.pretty(exit.cause)}; trying again`)
      }
    }
  })
  const fiber = yield* Effect.forkIn(Effect.provideContext(loop, context), scope)
  yield* Scope.addFinalizer(scope, Effect.suspend(() => (stopped ? Effect.void : store.leaveMember(group, sid).pipe(Effect.ignore))))

  const stop = Effect.gen(function*() {
    if (stopped) return
    stopped = true
    yield* Fiber.interrupt(fiber)
    yield* Effect.forEach([...units], ([partition, unit]) => stopUnit(partition, unit), { discard: true })
    yield* Fiber.awaitAll([...stopping.values()])
    yield* store.leaveMember(group, sid).pipe(Effect.ignore)
  })

  const running = () => [...units.values()].map((u) => u.handle)
  /**
   * Settles a delivery in whichever unit has it outstanding; when none takes it, the most telling
   * refusal (one that knows the delivery, such as "already acked", over "not outstanding").
   */
  const decide = (f: (h: GroupHandle) => Effect.Effect<void, AckError>, eventId: string): Effect.Effect<void, AckError> =>
    Effect.suspend(() => {
      const handles = running()
      if (handles.length === 0) return Effect.fail(new AckError({ group, eventId, detail: "the group is not running in this process" }))
      const refusals: Array<AckError> = []
      const tryFrom = (i: number): Effect.Effect<void, AckError> =>
        i === handles.length
          ? Effect.fail(refusals.find((e) => !e.detail.startsWith("no delivery of it is outstanding")) ?? refusals[0]!)
          : f(handles[i]!).pipe(Effect.catch((e: AckError) => {
            refusals.push(e)
            return tryFrom(i + 1)
          }))
      return tryFrom(0)
    })

  const handle: GroupHandle = {
    id,
    config,
    stop,
    ack: (eventId, run) => decide((h) => h.ack(eventId, run), eventId),
    nack: (eventId, delayMs) => decide((h) => h.nack(eventId, delayMs), eventId),
    deadLettersChanged: Effect.suspend(() => Effect.forEach(running(), (h) => h.deadLettersChanged, { discard: true })),
    stats: () => mergeStats(group, config.topics, running().map((h) => h.stats()).filter((s) => s !== undefined)),
    standingBy: () => running().every((h) => h.standingBy())
  }
  return handle
})

/** The statistics of a member's running units, as one group's. */
const mergeStats = (group: string, topics: ReadonlyArray<string>, all: ReadonlyArray<GroupStats>): GroupStats | undefined => {
  if (all.length === 0) return undefined
  const floors: Record<string, number> = {}
  for (const s of all) for (const [topic, floor] of Object.entries(s.floors)) floors[topic] = Math.min(floors[topic] ?? floor, floor)
  return {
    group,
    topics,
    buffered: all.reduce((n, s) => n + s.buffered, 0),
    running: all.reduce((n, s) => n + s.running, 0),
    floors,
    heldKeys: all.flatMap((s) => s.heldKeys),
    parked: all.reduce((n, s) => n + s.parked, 0),
    requeued: all.reduce((n, s) => n + s.requeued, 0),
    isolating: all.some((s) => s.isolating)
  }
}
