/**
 * Subscribe options: what a caller may pass, and their resolution into a `GroupConfig` through
 * their spec (src/options/subscribeSpec.ts, which documents each one with its default and bounds).
 * Unknown option names are refused with the list of valid ones, so a typo never silently falls
 * back to a default.
 */
import { backoffProblem } from "../options/backoffSpec.ts"
import { check, conflict, problemText } from "../options/spec.ts"
import {
  defaultAckTimeoutMs, defaultBackoff, maxBatchSize, maxMaxInFlight, parseStartFrom, type StartFrom, subscribeOptionNames, subscribeSpec
} from "../options/subscribeSpec.ts"
import type * as Semaphore from "effect/Semaphore"
import type { Event } from "../store/records.ts"
import { SubscribeError } from "./busErrors.ts"
import type { Ordering } from "./Lanes.ts"
import type { Backoff } from "./retryDelay.ts"
import { topicNameProblem } from "./Topic.ts"

export type { StartFrom }
export { parseStartFrom }

export interface SubscribeOptions {
  /** Default `"latest"`: only events published after the group first subscribes. */
  readonly from?: StartFrom | string | undefined
  /** Events read per fetch (default 100). */
  readonly batchSize?: number | undefined
  /** Handlers running at once (default 16; 1 with `ordering: "strict"`). */
  readonly maxInFlight?: number | undefined
  /** A handler running longer is interrupted and counted as a failed attempt (default 30 000). */
  readonly ackTimeoutMs?: number | undefined
  /** Runs before an event becomes a dead letter (default 5). */
  readonly maxAttempts?: number | undefined
  /** Events for which this returns false are skipped (and count as done). */
  readonly filter?: ((event: Event) => boolean) | undefined
  /** More topics read by the same group (fan-in). */
  readonly topics?: ReadonlyArray<string> | undefined
  /** Default `"key"`: in order per key, concurrent across keys. */
  readonly ordering?: Ordering | undefined
  /** Retry delays (default: 500 ms doubling to 30 s, +/- 20 % jitter). */
  readonly backoff?: Partial<Backoff> | undefined
  /** After a dead letter, let the key's later events run (`"skip"`, default) or hold them. */
  readonly onPoison?: "skip" | "hold" | undefined
  /** `"manual"`: an event is acked only by `ack` (the handler returning is not enough). */
  readonly ackMode?: "auto" | "manual" | undefined
  /** How long the group's lease lasts without renewal (default 30 000). */
  readonly leaseMs?: number | undefined
  /** How long `unsubscribe`/`close` wait for running handlers (default 10 000). */
  readonly drainTimeoutMs?: number | undefined
  /** While busy, acks are persisted at most this often (default 25); an idle group persists at once. */
  readonly commitIntervalMs?: number | undefined
  /** Payload bytes the group's fetched, unfinished events may hold (default 64 MiB). */
  readonly maxBufferedBytes?: number | undefined
}

/**
 * One partition of a partitioned group, run as a group of its own (`group/partitioned.ts`): its
 * lease, cursors, delivery records and dead letters are stored under `name` (`group/units.ts`).
 */
export interface GroupUnit {
  readonly name: string
  readonly partition: number
  /**
   * The member's budget of running handlers, shared by every unit it runs: `maxInFlight` is per
   * process, however many partitions it owns (a worker takes a permit before each run).
   */
  readonly slots: Semaphore.Semaphore
}

export interface GroupConfig {
  /** The group's name, as its subscribers, metrics, logs and handlers know it. */
  readonly group: string
  /** Set on one partition of a partitioned group; unset on a group consumed whole. */
  readonly unit?: GroupUnit | undefined
  readonly topics: ReadonlyArray<string>
  readonly from: StartFrom
  readonly batchSize: number
  readonly maxInFlight: number
  readonly ackTimeoutMs: number
  readonly maxAttempts: number
  readonly filter: ((event: Event) => boolean) | undefined
  readonly ordering: Ordering
  readonly backoff: Backoff
  readonly onPoison: "skip" | "hold"
  readonly ackMode: "auto" | "manual"
  readonly leaseMs: number
  readonly drainTimeoutMs: number
  readonly commitIntervalMs: number
  /** Fetched events not yet done, at most (backpressure). */
  readonly capacity: number
  /** Payload bytes those may hold, about (a page stops there). */
  readonly maxBufferedBytes: number
}

/** The name a group's state is stored under: its own, or its unit's. */
export const storedName = (config: Pick<GroupConfig, "group" | "unit">): string => config.unit?.name ?? config.group

export { defaultAckTimeoutMs, maxBatchSize, maxMaxInFlight, subscribeOptionNames }

/** Payload bytes a group's fetched, unfinished events hold at most, by default. */
const defaultMaxBufferedBytes = 64 * 1024 * 1024

const groupNamePattern = /^[A-Za-z0-9._:-]{1,255}$/

/** What is wrong with a group's name, or undefined. */
export const groupNameProblem = (group: unknown): string | undefined =>
  typeof group === "string" && groupNamePattern.test(group) ? undefined : "a group name must be 1-255 letters, digits, '.', '_', ':' or '-'"

export const resolveOptions = (
  group: string,
  topic: string | ReadonlyArray<string>,
  options: SubscribeOptions | undefined
): GroupConfig | SubscribeError => {
  const fail = (detail: string) => new SubscribeError({ group: String(group), detail })
  const nameProblem = groupNameProblem(group)
  if (nameProblem !== undefined) return fail(nameProblem)
  const checked = check(subscribeSpec, options)
  const o = checked.ok ? checked.value : undefined
  const backoff: Backoff = { ...defaultBackoff, ...o?.backoff }
  const problem = !checked.ok
    ? checked.problem
    : o!.onPoison === "hold" && o!.ordering === "none"
    ? conflict("onPoison", `onPoison "hold" needs ordering "key" or "strict"`).problem
    : backoffProblem(backoff, "backoff")?.problem
  if (problem !== undefined) return new SubscribeError({ group, detail: problemText(problem), problem })
  const topics = [...new Set([...(typeof topic === "string" ? [topic] : [...topic]), ...(o!.topics ?? [])])]
  if (topics.length === 0) return fail("subscribe to at least one topic")
  for (const t of topics) {
    const nameProblem = topicNameProblem(t)
    if (nameProblem !== undefined) return fail(`topic ${JSON.stringify(t)}: ${nameProblem}`)
  }
  const ordering = o!.ordering!
  const batchSize = o!.batchSize!
  const maxInFlight = ordering === "strict" ? 1 : (o!.maxInFlight ?? 16)
  return {
    group,
    topics,
    from: o!.from!,
    batchSize,
    maxInFlight,
    ackTimeoutMs: o!.ackTimeoutMs!,
    maxAttempts: o!.maxAttempts!,
    filter: o!.filter as GroupConfig["filter"],
    ordering,
    backoff,
    onPoison: o!.onPoison!,
    ackMode: o!.ackMode!,
    leaseMs: o!.leaseMs!,
    drainTimeoutMs: o!.drainTimeoutMs!,
    commitIntervalMs: o!.commitIntervalMs!,
    capacity: Math.max(batchSize * 2, maxInFlight * 2),
    maxBufferedBytes: o!.maxBufferedBytes ?? defaultMaxBufferedBytes
  }
}
