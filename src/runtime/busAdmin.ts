/**
 * The bus's operator calls on stored state: dead letters and delivery records (query, requeue,
 * drop), reading a topic, deleting a group, purging or deleting a topic. Each checks its arguments
 * first (a typo must not widen a query or skip a `force`), acts on a group only when the name has
 * some state (a typo must not read as an empty group: "did you mean ...?"), and refuses to pull
 * state from under a consumer that is running, here or in another process, unless forced. Queries
 * filtered by group answer [] for any name (a page may watch a group before it starts).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { GroupLease } from "../store/records.ts"
import type { StoreShape } from "../store/Store.ts"
import { shown } from "../options/spec.ts"
import { didYouMean } from "../diagnostics/suggest.ts"
import type { StoreError } from "../store/storeErrors.ts"
import { GroupError, TopicError } from "./busErrors.ts"
import type { AdminOptions, BusShape, TopicRemoval } from "./BusShape.ts"
import type { FoldedAdmin } from "./foldedAdmin.ts"
import { heldByOther } from "./group/lease.ts"
import { isOfGroup, parseUnit } from "./group/units.ts"
import type { HostInfo } from "./HostInfo.ts"
import { groupNameProblem } from "./subscribeOptions.ts"
import { topicNameProblem } from "./Topic.ts"

/** What the admin calls need of the bus's groups running in this process. */
export interface LocalGroups {
  /** Whether `group` runs (or is draining) here. */
  readonly has: (group: string) => boolean
  /** The groups running here that consume `topic`. */
  readonly consuming: (topic: string) => ReadonlyArray<string>
  /** Tells `group`'s consumer here, if any, that its dead letters changed (requeued or dropped). */
  readonly deadLettersChanged: (group: string) => Effect.Effect<void>
}

export interface AdminDeps {
  readonly store: StoreShape
  /** The store's admin calls with partitioned groups folded into their groups. */
  readonly admin: FoldedAdmin
  readonly sid: string
  readonly host: HostInfo
  readonly groups: LocalGroups
  /** Whether the bus knows `topic` (defined here or stored). */
  readonly knows: (topic: string) => boolean
  /** Forgets a deleted topic's definition. */
  readonly forget: (topic: string) => void
}

export type BusAdmin = Pick<
  BusShape,
  "deadLetters" | "deliveries" | "requeue" | "dropDeadLetter" | "read" | "latestByKey" | "deleteGroup" | "purgeTopic" | "deleteTopic"
> & {
  /**
   * Fails with `GroupError` (`cannot ${operation}: there is no group of that name`, and the closest
   * known name) when `group` has no state at all: no cursor (its own or a partition's), dead
   * letter, delivery record, lease or member, and it does not run here. For the bus's own calls
   * on a group (`describeGroup`); not part of `BusShape`.
   */
  readonly requireGroup: (group: string, operation: string) => Effect.Effect<void, GroupError | StoreError>
}

/**
 * What is wrong with an options or query object of an admin call (`what` names it): not an object,
 * a field that is not one of `names` (a typo must not widen a query or skip a `force`), or a
 * `force` that is not a boolean. Undefined and null are no options.
 */
const fieldsProblem = (given: unknown, what: string, names: ReadonlyArray<string>): string | undefined => {
  if (given === undefined || given === null) return undefined
  if (typeof given !== "object" || Array.isArray(given)) return `${what} must be an object { ${names.join(", ")} }, got ${shown(given)}`
  const unknown = Object.keys(given).find((k) => !names.includes(k) && (given as Record<string, unknown>)[k] !== undefined)
  if (unknown !== undefined) return `unknown ${what} field ${JSON.stringify(unknown)}; valid fields: ${names.join(", ")}`
  const force = (given as { force?: unknown }).force
  return force === undefined || typeof force === "boolean" ? undefined : `force must be true or false, got ${shown(force)}`
}

/**
 * What is wrong with a dead-letter or delivery query's values: names are strings, `limit` a
 * whole number from 1, `offset` one from 0.
 */
const queryValuesProblem = (query: Readonly<Record<string, unknown>> | undefined): string | undefined => {
  if (query === undefined || query === null) return undefined
  for (const name of ["group", "topic", "eventId"]) {
    const v = query[name]
    if (v !== undefined && (typeof v !== "string" || v === "")) return `${name} must be a non-empty string, got ${shown(v)}`
  }
  const { limit, offset } = query
  if (limit !== undefined && !(typeof limit === "number" && Number.isSafeInteger(limit) && limit >= 1)) return `limit must be a whole number >= 1, got ${shown(limit)}`
  if (offset !== undefined && !(typeof offset === "number" && Number.isSafeInteger(offset) && offset >= 0)) return `offset must be a whole number >= 0, got ${shown(offset)}`
  return undefined
}

/** A refused query: named by its group when it gives a valid one. */
const queryError = (query: { readonly group?: unknown } | undefined, detail: string) =>
  new GroupError({ group: typeof query?.group === "string" ? query.group : "", detail })

/** Events deleted per purge transaction. */
const purgeBatch = 1000

export const makeAdmin = ({ admin, forget, groups, host, knows, sid, store }: AdminDeps): BusAdmin => {
  /** The names of the groups the database knows (with a cursor, or a member), partitions folded. */
  const knownGroups = Effect.gen(function*() {
    const names = new Set<string>()
    for (const name of yield* store.admin.cursorGroupsWithPrefix("")) names.add(parseUnit(name).group)
    for (const m of yield* store.admin.members) names.add(m.group)
    return names
  })

  const requireGroup = (group: string, operation: string) =>
    Effect.gen(function*() {
      if (groups.has(group)) return
      // The likeliest first: a group that ever consumed has a cursor (a partitioned one, its units').
      if ((yield* store.admin.cursorGroupsWithPrefix(group)).some((name) => isOfGroup(name, group))) return
      if ((yield* admin.deadLetters({ group, limit: 1 })).length > 0) return
      if ((yield* admin.deliveries({ group })).length > 0) return
      if ((yield* store.runtime.readLease(group)) !== undefined) return
      if ((yield* store.runtime.groupMembers(group)).length > 0) return
      const [hint] = didYouMean(group, yield* knownGroups)
      return yield* new GroupError({ group, detail: `cannot ${operation}: there is no group of that name${hint === undefined ? "" : ` (${hint})`}` })
    })

  const eventIdsToSeqs = (group: string, eventIds: ReadonlyArray<string>) =>
    Effect.map(admin.deadLetters({ group }), (dls) => {
      const wanted = new Set(eventIds)
      return dls.filter((d) => wanted.has(d.eventId)).map((d) => d.seq)
    })

  const removeTopic = (topic: string, operation: "purge" | "delete", adminOptions: AdminOptions | undefined) =>
    Effect.gen(function*() {
      const refuse = (detail: string) => new TopicError({ topic, operation, detail })
      const optionsProblem = fieldsProblem(adminOptions, "option", ["force"])
      if (optionsProblem !== undefined) return yield* refuse(optionsProblem)
      const head = yield* store.runtime.headSeq(topic)
      const known = knows(topic) || head > 0 || (yield* store.runtime.topics).some((t) => t.name === topic)
      const positions = (yield* store.admin.groupPositions).filter((p) => p.cursor.topic === topic)
      if (!known && positions.length === 0) return yield* refuse("there is no topic of that name (see sib topics)")
      const now = yield* Clock.currentTimeMillis
      const here = groups.consuming(topic)
      if (here.length > 0) return yield* refuse(`group ${here.join(", ")} consumes it in this process; unsubscribe first`)
      const live = positions.filter((p) => heldByOther(p.lease, sid, now, host))
      if (live.length > 0 && adminOptions?.force !== true) {
        const who = live.map((p) => `${p.cursor.group} (process ${p.lease?.ownerPid ?? "?"} on ${p.lease?.ownerHost ?? "?"})`).join(", ")
        return yield* refuse(`it is consumed by ${who}; stop ${live.length === 1 ? "it" : "them"} first, or force it`)
      }
      let events = 0
      while (true) {
        const n = yield* store.admin.purgeStep(topic, head, purgeBatch)
        events += n
        if (n < purgeBatch) break
      }
      yield* store.admin.finishPurge(topic, head, yield* Clock.currentTimeMillis, operation === "delete")
      if (operation === "delete") forget(topic)
      return { topic, events, groups: positions.map((p) => p.cursor.group) } satisfies TopicRemoval
    })

  return {
    requireGroup,
    deadLetters: (query) => {
      const problem = fieldsProblem(query, "dead letter query", ["group", "topic", "eventId", "limit", "offset"]) ?? queryValuesProblem(query as never)
      return problem === undefined ? admin.deadLetters(query ?? {}) : Effect.fail(queryError(query, problem))
    },
    deliveries: (query) => {
      const problem = fieldsProblem(query, "delivery query", ["group", "eventId"]) ?? queryValuesProblem(query as never)
      return problem === undefined ? admin.deliveries(query ?? {}) : Effect.fail(queryError(query, problem))
    },
    requeue: (group, eventIds) =>
      Effect.gen(function*() {
        const groupProblem = groupNameProblem(group)
        if (groupProblem !== undefined) return yield* new GroupError({ group: String(group), detail: `cannot requeue: ${groupProblem}` })
        if (eventIds !== "all" && typeof eventIds !== "string" && !(Array.isArray(eventIds) && eventIds.every((id) => typeof id === "string"))) {
          return yield* new GroupError({ group, detail: `requeue takes "all", an event id or an array of event ids, got ${Array.isArray(eventIds) ? "an array holding something else" : typeof eventIds}` })
        }
        yield* requireGroup(group, "requeue")
        const seqs = eventIds === "all" ? "all" as const : yield* eventIdsToSeqs(group, typeof eventIds === "string" ? [eventIds] : eventIds)
        const requeued = yield* admin.requeue(group, seqs)
        if (requeued.length > 0) yield* groups.deadLettersChanged(group)
        return requeued.length
      }),
    dropDeadLetter: (group, eventId) =>
      Effect.gen(function*() {
        const groupProblem = groupNameProblem(group)
        if (groupProblem !== undefined) return yield* new GroupError({ group: String(group), detail: `cannot drop a dead letter: ${groupProblem}` })
        if (typeof eventId !== "string") return yield* new GroupError({ group, detail: `dropDeadLetter takes an event id, got ${shown(eventId)}` })
        yield* requireGroup(group, "drop a dead letter")
        const [seq] = yield* eventIdsToSeqs(group, [eventId])
        if (seq === undefined) return false
        const dropped = yield* admin.dropDeadLetter(group, seq)
        if (dropped) yield* groups.deadLettersChanged(group)
        return dropped
      }),
    read: (topic, afterSeq, limit) => {
      const problem = topicNameProblem(topic) ??
        (typeof afterSeq === "number" && Number.isSafeInteger(afterSeq) && afterSeq >= 0 ? undefined : `afterSeq must be an integer >= 0, got ${shown(afterSeq)}`) ??
        (typeof limit === "number" && Number.isSafeInteger(limit) && limit >= 1 ? undefined : `limit must be a positive integer, got ${shown(limit)}`)
      if (problem !== undefined) return Effect.fail(new TopicError({ topic: String(topic), operation: "read", detail: problem }))
      return store.admin.readTopic(topic, afterSeq, limit)
    },
    latestByKey: (topic, keys) => {
      const problem = topicNameProblem(topic) ??
        (Array.isArray(keys) && keys.every((k) => typeof k === "string") ? undefined : `latestByKey takes an array of string keys, got ${Array.isArray(keys) ? "an array holding something else" : shown(keys)}`)
      if (problem !== undefined) return Effect.fail(new TopicError({ topic: String(topic), operation: "read", detail: problem }))
      return store.runtime.latestByKey(topic, keys)
    },
    deleteGroup: (group, adminOptions) =>
      Effect.gen(function*() {
        const refuse = (detail: string) => new GroupError({ group, detail: `cannot delete it: ${detail}` })
        const optionsProblem = fieldsProblem(adminOptions, "option", ["force"])
        if (optionsProblem !== undefined) return yield* refuse(optionsProblem)
        if (groups.has(group)) return yield* refuse("it runs in this process; unsubscribe it first")
        const now = yield* Clock.currentTimeMillis
        const names = yield* admin.namesOf(group)
        const leases = new Map<string, GroupLease | undefined>()
        for (const name of names) {
          const lease = yield* store.runtime.readLease(name)
          leases.set(name, lease)
          if (heldByOther(lease, sid, now, host) && adminOptions?.force !== true) {
            return yield* refuse(`process ${lease.ownerPid ?? "?"} on ${lease.ownerHost ?? "?"} consumes it; stop it first, or force the deletion`)
          }
        }
        const total = { cursors: 0, deliveries: 0, deadLetters: 0 }
        for (const name of names) {
          const deleted = yield* store.admin.deleteGroup(name, leases.get(name)?.ownerSid ?? null)
          if (deleted === undefined) return yield* refuse("its consumer changed while it was being deleted; try again")
          total.cursors += deleted.cursors
          total.deliveries += deleted.deliveries
          total.deadLetters += deleted.deadLetters
        }
        const members = yield* store.runtime.groupMembers(group)
        for (const m of members) yield* store.runtime.leaveMember(group, m.member)
        if (total.cursors === 0 && total.deliveries === 0 && total.deadLetters === 0 && [...leases.values()].every((l) => l === undefined) && members.length === 0) {
          return yield* refuse("there is no group of that name")
        }
        return total
      }),
    purgeTopic: (topic, adminOptions) => removeTopic(topic, "purge", adminOptions),
    deleteTopic: (topic, adminOptions) => removeTopic(topic, "delete", adminOptions)
  }
}
