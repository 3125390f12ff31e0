/**
 * Subscribe options (`Bus.subscribe`, `rt.subscribe`, `.sib`'s `subscribe!`): where a new group
 * starts, how much it reads and runs at once, timeouts, retries, ordering, acks, lease and drain.
 * Rules across options (`onPoison: "hold"` needs ordering, backoff's maxMs) are checked after it.
 */
import { type BackoffValues, backoffSpec } from "./backoffSpec.ts"
import { custom, func, integer, invalid, object, oneOf, spec } from "./spec.ts"

/** Where a group starts when it has no stored cursor yet. Ignored once it has one. */
export type StartFrom =
  | "earliest"
  | "latest"
  | { readonly seq: number }
  | { readonly ts: number | string | Date }
  /** Starting with that event (as `{ seq }` starts with event N). */
  | { readonly id: string }
  /** Just after that event. */
  | { readonly afterId: string }

/**
 * Parses `from` given as a string: earliest, latest, seq:N, ts:ISO-8601 or ts:epoch-ms, id:EVENT-ID
 * (starting with that event) or afterId:EVENT-ID (just after it).
 */
export const parseStartFrom = (text: string): StartFrom | undefined => {
  if (text === "earliest" || text === "latest") return text
  const [kind, ...rest] = text.split(":")
  const value = rest.join(":")
  if (kind === "seq" && /^\d+$/.test(value)) return { seq: Number(value) }
  if (kind === "ts" && value.length > 0) {
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
    return Number.isNaN(ms) ? undefined : { ts: ms }
  }
  if (kind === "id" && value.length > 0) return { id: value }
  if (kind === "afterId" && value.length > 0) return { afterId: value }
  return undefined
}

const startFromText = `"earliest", "latest", "seq:N", "ts:ISO-8601", "id:EVENT-ID", "afterId:EVENT-ID", { seq: N }, { ts: date }, { id } or { afterId }`

/** A `from` value as a StartFrom (timestamps as epoch ms), or undefined when it is none. */
const startFromOf = (from: unknown): StartFrom | undefined => {
  if (typeof from === "string") return parseStartFrom(from)
  if (typeof from !== "object" || from === null) return undefined
  const o = from as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.length !== 1) return undefined
  if (keys[0] === "seq" && typeof o.seq === "number" && Number.isSafeInteger(o.seq) && o.seq >= 0) return { seq: o.seq }
  if (keys[0] === "id" && typeof o.id === "string" && o.id.length > 0) return { id: o.id }
  if (keys[0] === "afterId" && typeof o.afterId === "string" && o.afterId.length > 0) return { afterId: o.afterId }
  if (keys[0] === "ts") {
    const ts = o.ts
    const ms = ts instanceof Date ? ts.getTime() : typeof ts === "string" ? Date.parse(ts) : typeof ts === "number" ? ts : Number.NaN
    if (Number.isFinite(ms)) return { ts: ms }
  }
  return undefined
}

/** 0.5 s, 1 s, 2 s, 4 s, ... capped at 30 s, each +/- 20 %. */
export const defaultBackoff: BackoffValues = { initialMs: 500, factor: 2, maxMs: 30_000, jitter: 0.2 }
export const groupBackoffSpec = backoffSpec(defaultBackoff, "retry")

/** The most events a fetch may read, and the most handlers a group may run at once. */
export const maxBatchSize = 10_000
export const maxMaxInFlight = 10_000

/** A handler running longer is interrupted (and a `.sib` handler computing longer fails). */
export const defaultAckTimeoutMs = 30_000

export const subscribeSpec = spec("subscribe", {
  from: custom<StartFrom>("start position", { default: "latest", doc: "Where a group with no stored cursor starts: earliest, latest (only events published after it first subscribes), seq:N (starting with event N), ts:ISO-8601 (the first event stamped at or after it), id:EVENT-ID (starting with that event) or afterId:EVENT-ID (just after it); an event id places every topic of a fan-in group at that point. Ignored once the group has a cursor." },
    (v, path) => startFromOf(v) ?? invalid(path, startFromText, v, typeof v === "string" && !v.includes(":") ? ["earliest", "latest"] : undefined)),
  batchSize: integer({ min: 1, max: maxBatchSize, default: 100, doc: "Events read per fetch." }),
  maxInFlight: integer({ min: 1, max: maxMaxInFlight, defaultDoc: "16; 1 with ordering strict", doc: "Handlers running at once." }),
  ackTimeoutMs: integer({ min: 1, unit: "milliseconds", default: defaultAckTimeoutMs, doc: "A handler running longer is interrupted and counted as a failed attempt." }),
  maxAttempts: integer({ min: 1, default: 5, doc: "Runs before an event becomes a dead letter." }),
  filter: func<(event: never) => boolean>({ shape: "(event) => boolean", doc: "Events for which it returns false are skipped (and count as done)." }),
  topics: custom<ReadonlyArray<string>>("string[]", { doc: "More topics read by the same group (fan-in)." }, (v, path) =>
    Array.isArray(v) && v.every((t) => typeof t === "string") ? v : invalid(path, "an array of topic names", v)),
  ordering: oneOf(["key", "strict", "none"], { default: "key", doc: "key: in order per key, concurrent across keys; strict: one event at a time; none: only maxInFlight bounds it." }),
  backoff: object(groupBackoffSpec.fields, { defaultDoc: "500 ms doubling to 30 s, +/- 20 %", doc: "Retry delays." }),
  onPoison: oneOf(["skip", "hold"], { default: "skip", doc: "After a dead letter, let the key's later events run (skip) or hold them until it is requeued or dropped (hold)." }),
  ackMode: oneOf(["auto", "manual"], { default: "auto", doc: "manual: an event is acked only by ack (the handler returning is not enough)." }),
  leaseMs: integer({ min: 1, unit: "milliseconds", default: 30_000, doc: "How long the group's lease lasts without renewal." }),
  drainTimeoutMs: integer({ min: 1, unit: "milliseconds", default: 10_000, doc: "How long unsubscribe and close wait for running handlers." }),
  maxBufferedBytes: integer({
    min: 1024 * 1024, defaultDoc: "64 MiB",
    doc: "Fetched events not done yet hold at most about this much payload (with the count bound batchSize and maxInFlight give): a group of large events reads smaller pages."
  }),
  commitIntervalMs: integer({ min: 1, unit: "milliseconds", default: 25, doc: "While busy, acks are persisted at most this often; an idle group persists at once." })
})

export const subscribeOptionNames = Object.keys(subscribeSpec.fields) as ReadonlyArray<keyof typeof subscribeSpec.fields>
