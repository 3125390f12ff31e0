/**
 * Topics: names, options and what a defined topic does with a payload. A topic need not be defined
 * to be published to; defining one attaches a payload schema (checked on every publish),
 * partitions (a partition is chosen from the key) and the retention and compaction settings the
 * store keeps. The options are checked against their spec (src/options/topic.ts).
 */
import * as Exit from "effect/Exit"
import type * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import { check, problemText } from "../options/spec.ts"
import { defaultDeleteRetentionMs, storedTopic, topicOptionsProblem, topicSpec } from "../options/topic.ts"
import type { Json } from "../store/records.ts"
import { TopicError } from "./errors.ts"

export { defaultDeleteRetentionMs }

const topicNamePattern = /^[A-Za-z0-9._-]{1,255}$/

/** Why `name` is not a valid topic name, or undefined when it is. */
export const topicNameProblem = (name: unknown): string | undefined => {
  if (typeof name !== "string") return `a topic name must be a string, got ${name === null ? "null" : typeof name}`
  if (name.length === 0) return "a topic name cannot be empty"
  if (name.length > 255) return `a topic name has at most 255 characters, this one has ${name.length}`
  if (!topicNamePattern.test(name)) {
    const bad = [...name].find((ch) => !/[A-Za-z0-9._-]/.test(ch))
    return `a topic name may contain only letters, digits, ".", "_" and "-" (found ${JSON.stringify(bad)})`
  }
  return undefined
}

export interface Retention {
  /** Events older than this may be pruned. */
  readonly maxAgeMs?: number | undefined
  /** At most this many events are kept. */
  readonly maxCount?: number | undefined
  /**
   * Default true: an expired event is kept until every group with a cursor on the topic has
   * processed it. With false it is deleted anyway; a group that had not processed it goes on from
   * the oldest remaining event, and the skip is logged and counted (`sib groups`).
   */
  readonly retainUntilConsumed?: boolean | undefined
}

export interface TopicOptions {
  /** Every payload must decode with this schema. */
  readonly schema?: Schema.ConstraintDecoder<unknown> | undefined
  /** Every payload must pass this check (a problem description, or undefined when it is fine). */
  readonly validate?: ((payload: unknown) => string | undefined) | undefined
  readonly retention?: Retention | undefined
  /** Keep only the latest event per key (a key is then required on publish). */
  readonly compaction?: boolean | undefined
  /**
   * On a compacted topic, how long (ms) a tombstone (an event with a `null` payload) stays before
   * compaction deletes it and its key disappears (default one day; 0: once every group has it).
   */
  readonly deleteRetentionMs?: number | undefined
  /** The payload field whose value keys an event published without a key (e.g. "pid"). */
  readonly keyField?: string | undefined
  /** Number of partitions; an event's partition is a hash of its key. */
  readonly partitions?: number | undefined
  readonly description?: string | undefined
}

export interface Topic {
  readonly name: string
  readonly options: TopicOptions
  /** The key an event gets when published without one (from `keyField`), if any. */
  readonly keyOf: (payload: unknown) => string | undefined
  /** A problem with `payload` under the topic's schema, or undefined. */
  readonly checkPayload: (payload: unknown) => string | undefined
  /** The partition of an event with this key, or undefined when the topic is not partitioned. */
  readonly partitionOf: (key: string | undefined) => number | undefined
}


/** FNV-1a over UTF-16 units: stable across processes and versions. */
const hashKey = (key: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export const makeTopic = (name: string, options: TopicOptions = {}): Topic => {
  const problem = topicNameProblem(name)
  if (problem !== undefined) throw new TopicError({ topic: String(name), detail: problem })
  const checked = check(topicSpec, options)
  const across = checked.ok ? topicOptionsProblem(options) : undefined
  const optionProblem = !checked.ok ? checked.problem : across?.problem
  if (optionProblem !== undefined) throw new TopicError({ topic: name, detail: problemText(optionProblem), problem: optionProblem })
  const decode = options.schema === undefined ? undefined : SchemaParser.decodeUnknownExit(options.schema)
  const format = SchemaIssue.makeFormatterDefault()
  const partitions = options.partitions
  const keyField = options.keyField
  return {
    name,
    options,
    keyOf: (payload) => {
      if (keyField === undefined || typeof payload !== "object" || payload === null || !Object.hasOwn(payload, keyField)) return undefined
      const v = (payload as Record<string, unknown>)[keyField]
      return v === null || v === undefined || typeof v === "object" ? undefined : String(v)
    },
    checkPayload: (payload) => {
      const invalid = options.validate?.(payload)
      if (invalid !== undefined) return `payload does not match the topic's schema: ${invalid}`
      if (decode === undefined) return undefined
      const exit = decode(payload, { errors: "all" })
      if (Exit.isSuccess(exit)) return undefined
      const issue = Exit.findErrorOption(exit)
      return `payload does not match the topic's schema: ${issue._tag === "Some" ? format(issue.value) : "invalid"}`
    },
    partitionOf: (key) =>
      partitions === undefined ? undefined : key === undefined ? 0 : hashKey(key) % partitions
  }
}

/** The settings of a topic as stored (and shown by `sib topics`). */
export const topicConfig = (topic: Topic): Json => {
  const o = topic.options
  const config: Record<string, Json> = {}
  if (o.retention !== undefined) {
    const r: Record<string, Json> = {}
    if (o.retention.maxAgeMs !== undefined) r.maxAgeMs = o.retention.maxAgeMs
    if (o.retention.maxCount !== undefined) r.maxCount = o.retention.maxCount
    if (o.retention.retainUntilConsumed !== undefined) r.retainUntilConsumed = o.retention.retainUntilConsumed
    config.retention = r
  }
  if (o.compaction !== undefined) config.compaction = o.compaction
  if (o.deleteRetentionMs !== undefined) config.deleteRetentionMs = o.deleteRetentionMs
  if (o.keyField !== undefined) config.keyField = o.keyField
  if (o.partitions !== undefined) config.partitions = o.partitions
  if (o.schema !== undefined || o.validate !== undefined) config.schema = true
  if (o.description !== undefined) config.description = o.description
  return config
}

/**
 * The settings of a stored topic that every publisher obeys (compaction's key rule, key field,
 * partitions), from its stored config; a schema is not stored, so it is not among them. Unknown or
 * invalid values are left out.
 */
export const publishOptionsOfConfig = (config: Json): TopicOptions => {
  const stored = storedTopic(config)
  return {
    ...(stored.compaction ? { compaction: true } : {}),
    ...(stored.keyField !== undefined ? { keyField: stored.keyField } : {}),
    ...(stored.partitions !== undefined ? { partitions: stored.partitions } : {})
  }
}
