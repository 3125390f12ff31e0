/**
 * Subscribe options: what a caller may pass, their defaults, and their validation into a resolved
 * `GroupConfig`. Unknown option names are refused with the list of valid ones, so a typo never
 * silently falls back to a default.
 */
import type { Event } from "../store/records.ts"
import { SubscribeError } from "./errors.ts"
import type { Ordering } from "./Lanes.ts"
import { type Backoff, defaultBackoff } from "./RetryPolicy.ts"
import { topicNameProblem } from "./Topic.ts"

/** Where a group starts when it has no stored cursor yet. Ignored once it has one. */
export type StartFrom =
  | "earliest"
  | "latest"
  | { readonly seq: number }
  | { readonly ts: number | string | Date }
  | { readonly afterId: string }

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
}

export interface GroupConfig {
  readonly group: string
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
}

export const subscribeOptionNames = [
  "from", "batchSize", "maxInFlight", "ackTimeoutMs", "maxAttempts", "filter", "topics", "ordering",
  "backoff", "onPoison", "ackMode", "leaseMs", "drainTimeoutMs", "commitIntervalMs"
] as const

/** A handler running longer is interrupted (and a `.sib` handler computing longer fails). */
export const defaultAckTimeoutMs = 30_000

/** The most events a fetch may read, and the most handlers a group may run at once. */
export const maxBatchSize = 10_000
export const maxMaxInFlight = 10_000

const groupNamePattern = /^[A-Za-z0-9._:-]{1,255}$/

const isPositiveInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0

/** Parses `from` given as a string: earliest, latest, seq:N, ts:ISO-8601 or ts:epoch-ms, id:EVENT-ID. */
export const parseStartFrom = (text: string): StartFrom | undefined => {
  if (text === "earliest" || text === "latest") return text
  const [kind, ...rest] = text.split(":")
  const value = rest.join(":")
  if (kind === "seq" && /^\d+$/.test(value)) return { seq: Number(value) }
  if (kind === "ts" && value.length > 0) {
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
    return Number.isNaN(ms) ? undefined : { ts: ms }
  }
  if ((kind === "id" || kind === "afterId") && value.length > 0) return { afterId: value }
  return undefined
}

const checkFrom = (from: unknown): StartFrom | string => {
  if (from === undefined) return "latest"
  if (typeof from === "string") return parseStartFrom(from) ?? `from ${JSON.stringify(from)} is not earliest, latest, seq:N, ts:ISO-8601 or id:EVENT-ID`
  if (typeof from === "object" && from !== null) {
    const o = from as Record<string, unknown>
    const keys = Object.keys(o)
    if (keys.length === 1 && keys[0] === "seq" && typeof o.seq === "number" && Number.isInteger(o.seq) && o.seq >= 0) return { seq: o.seq }
    if (keys.length === 1 && keys[0] === "afterId" && typeof o.afterId === "string" && o.afterId.length > 0) return { afterId: o.afterId }
    if (keys.length === 1 && keys[0] === "ts") {
      const ts = o.ts
      const ms = ts instanceof Date ? ts.getTime() : typeof ts === "string" ? Date.parse(ts) : typeof ts === "number" ? ts : NaN
      if (Number.isFinite(ms)) return { ts: ms }
    }
  }
  return `from must be "earliest", "latest", { seq: N }, { ts: date } or { afterId: id }`
}

export const resolveOptions = (
  group: string,
  topic: string | ReadonlyArray<string>,
  options: SubscribeOptions | undefined
): GroupConfig | SubscribeError => {
  const fail = (detail: string) => new SubscribeError({ group: String(group), detail })
  if (typeof group !== "string" || !groupNamePattern.test(group)) {
    return fail("a group name must be 1-255 letters, digits, '.', '_', ':' or '-'")
  }
  const o = (options ?? {}) as Record<string, unknown>
  if (typeof o !== "object" || o === null || Array.isArray(o)) return fail("options must be an object")
  const unknown = Object.keys(o).filter((k) => !(subscribeOptionNames as ReadonlyArray<string>).includes(k) && o[k] !== undefined)
  if (unknown.length > 0) {
    return fail(`unknown option ${unknown.map((k) => JSON.stringify(k)).join(", ")}; valid options: ${subscribeOptionNames.join(", ")}`)
  }
  const extra = o.topics
  if (extra !== undefined && !(Array.isArray(extra) && extra.every((t) => typeof t === "string"))) {
    return fail("topics must be an array of topic names")
  }
  const topics = [...new Set([...(typeof topic === "string" ? [topic] : [...topic]), ...((extra as Array<string> | undefined) ?? [])])]
  if (topics.length === 0) return fail("subscribe to at least one topic")
  for (const t of topics) {
    const problem = topicNameProblem(t)
    if (problem !== undefined) return fail(`topic ${JSON.stringify(t)}: ${problem}`)
  }
  const from = checkFrom(o.from)
  if (typeof from === "string" && from !== "earliest" && from !== "latest") return fail(from)
  const positive = (name: string, fallback: number): number | SubscribeError => {
    const v = o[name]
    if (v === undefined) return fallback
    return isPositiveInt(v) ? v : fail(`${name} must be a positive integer, got ${JSON.stringify(v) ?? String(v)}`)
  }
  const ordering = o.ordering ?? "key"
  if (ordering !== "key" && ordering !== "strict" && ordering !== "none") {
    return fail(`ordering must be "key", "strict" or "none", got ${JSON.stringify(ordering)}`)
  }
  const batchSize = positive("batchSize", 100)
  const maxInFlight = positive("maxInFlight", ordering === "strict" ? 1 : 16)
  const ackTimeoutMs = positive("ackTimeoutMs", defaultAckTimeoutMs)
  const maxAttempts = positive("maxAttempts", 5)
  const leaseMs = positive("leaseMs", 30_000)
  const drainTimeoutMs = positive("drainTimeoutMs", 10_000)
  const commitIntervalMs = positive("commitIntervalMs", 25)
  for (const v of [batchSize, maxInFlight, ackTimeoutMs, maxAttempts, leaseMs, drainTimeoutMs, commitIntervalMs]) {
    if (v instanceof SubscribeError) return v
  }
  // Both size what a group holds in memory (capacity is twice the larger): bounded, so no option
  // value can make a group allocate without end.
  if ((batchSize as number) > maxBatchSize) return fail(`batchSize must be at most ${maxBatchSize}, got ${batchSize as number}`)
  if ((maxInFlight as number) > maxMaxInFlight) return fail(`maxInFlight must be at most ${maxMaxInFlight}, got ${maxInFlight as number}`)
  if (o.filter !== undefined && typeof o.filter !== "function") return fail("filter must be a function (event) => boolean")
  const onPoison = o.onPoison ?? "skip"
  if (onPoison !== "skip" && onPoison !== "hold") return fail(`onPoison must be "skip" or "hold", got ${JSON.stringify(onPoison)}`)
  if (onPoison === "hold" && ordering === "none") return fail(`onPoison "hold" needs ordering "key" or "strict"`)
  const ackMode = o.ackMode ?? "auto"
  if (ackMode !== "auto" && ackMode !== "manual") return fail(`ackMode must be "auto" or "manual", got ${JSON.stringify(ackMode)}`)
  let backoff = defaultBackoff
  if (o.backoff !== undefined) {
    const b = o.backoff as Record<string, unknown>
    if (typeof b !== "object" || b === null) return fail("backoff must be an object { initialMs, factor, maxMs, jitter }")
    const names = ["initialMs", "factor", "maxMs", "jitter"]
    const bad = Object.keys(b).filter((k) => !names.includes(k))
    if (bad.length > 0) return fail(`unknown backoff option ${bad.map((k) => JSON.stringify(k)).join(", ")}; valid: ${names.join(", ")}`)
    backoff = { ...defaultBackoff, ...(b as Partial<Backoff>) }
    const { initialMs, factor, maxMs, jitter } = backoff
    if (!(Number.isFinite(initialMs) && initialMs >= 0)) return fail("backoff.initialMs must be a number >= 0")
    if (!(Number.isFinite(factor) && factor >= 1)) return fail("backoff.factor must be a number >= 1")
    if (!(Number.isFinite(maxMs) && maxMs >= initialMs)) return fail("backoff.maxMs must be a number >= initialMs")
    if (!(Number.isFinite(jitter) && jitter >= 0 && jitter < 1)) return fail("backoff.jitter must be a number in [0, 1)")
  }
  const bs = batchSize as number
  const mif = ordering === "strict" ? 1 : (maxInFlight as number)
  return {
    group,
    topics,
    from: from as StartFrom,
    batchSize: bs,
    maxInFlight: mif,
    ackTimeoutMs: ackTimeoutMs as number,
    maxAttempts: maxAttempts as number,
    filter: o.filter as GroupConfig["filter"],
    ordering,
    backoff,
    onPoison,
    ackMode,
    leaseMs: leaseMs as number,
    drainTimeoutMs: drainTimeoutMs as number,
    commitIntervalMs: commitIntervalMs as number,
    capacity: Math.max(bs * 2, mif * 2)
  }
}
