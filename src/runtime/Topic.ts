/**
 * Topics: names, options and the registry of defined topics. A topic need not be defined to be
 * published to; defining one attaches a payload schema (checked on every publish), partitions
 * (a partition is chosen from the key) and the retention and compaction settings the store keeps.
 */
import * as Exit from "effect/Exit"
import type * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import type { Json } from "../store/records.ts"
import { TopicError } from "./errors.ts"

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

/** How long a tombstone stays on a compacted topic by default (one day), so consumers see the delete. */
export const defaultDeleteRetentionMs = 86_400_000

const retentionOptions = ["maxAgeMs", "maxCount", "retainUntilConsumed"]

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

const positiveInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v > 0
const positiveSafeInt = (v: unknown): v is number => positiveInt(v) && Number.isSafeInteger(v)
const describe = (v: unknown): string => (typeof v === "string" ? JSON.stringify(v) : v === null ? "null" : typeof v === "object" ? typeof v : String(v))

/** FNV-1a over UTF-16 units: stable across processes and versions. */
const hashKey = (key: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

const knownOptions = ["schema", "validate", "retention", "compaction", "deleteRetentionMs", "keyField", "partitions", "description"]

export const makeTopic = (name: string, options: TopicOptions = {}): Topic => {
  const problem = topicNameProblem(name)
  if (problem !== undefined) throw new TopicError({ topic: String(name), detail: problem })
  const unknown = Object.keys(options).filter((k) => !knownOptions.includes(k))
  if (unknown.length > 0) {
    throw new TopicError({ topic: name, detail: `unknown option ${unknown.map((k) => JSON.stringify(k)).join(", ")}; valid options: ${knownOptions.join(", ")}` })
  }
  if (options.partitions !== undefined && !positiveInt(options.partitions)) {
    throw new TopicError({ topic: name, detail: "partitions must be a positive integer" })
  }
  const schema = options.schema as unknown
  if (schema !== undefined && !((typeof schema === "object" || typeof schema === "function") && schema !== null && "ast" in schema)) {
    throw new TopicError({ topic: name, detail: "schema must be an Effect Schema (from effect/Schema)" })
  }
  if (options.validate !== undefined && typeof options.validate !== "function") {
    throw new TopicError({ topic: name, detail: "validate must be a function (payload) => problem | undefined" })
  }
  if (options.keyField !== undefined && (typeof options.keyField !== "string" || options.keyField.length === 0)) {
    throw new TopicError({ topic: name, detail: "keyField must be the name of a payload field" })
  }
  if (options.description !== undefined && typeof options.description !== "string") {
    throw new TopicError({ topic: name, detail: "description must be a string" })
  }
  if (options.compaction !== undefined && typeof options.compaction !== "boolean") {
    throw new TopicError({ topic: name, detail: "compaction must be true or false" })
  }
  const deleteRetentionMs = options.deleteRetentionMs
  if (deleteRetentionMs !== undefined) {
    if (typeof deleteRetentionMs !== "number" || !Number.isSafeInteger(deleteRetentionMs) || deleteRetentionMs < 0) {
      throw new TopicError({ topic: name, detail: `deleteRetentionMs must be an integer number of milliseconds >= 0, got ${describe(deleteRetentionMs)}` })
    }
    if (options.compaction !== true) {
      throw new TopicError({ topic: name, detail: "deleteRetentionMs applies to tombstones on a compacted topic: set compaction: true, or leave it out" })
    }
  }
  const retention = options.retention
  if (retention !== undefined && (typeof retention !== "object" || retention === null || Array.isArray(retention))) {
    throw new TopicError({ topic: name, detail: "retention must be an object { maxAgeMs?, maxCount?, retainUntilConsumed? }" })
  }
  if (retention !== undefined) {
    const unknownRetention = Object.keys(retention).filter((k) => !retentionOptions.includes(k))
    if (unknownRetention.length > 0) {
      throw new TopicError({
        topic: name,
        detail: `unknown retention option ${unknownRetention.map((k) => JSON.stringify(k)).join(", ")}; valid options: ${retentionOptions.join(", ")}`
      })
    }
    if (retention.maxAgeMs !== undefined && !positiveSafeInt(retention.maxAgeMs)) {
      throw new TopicError({ topic: name, detail: `retention.maxAgeMs must be a positive integer (milliseconds), got ${describe(retention.maxAgeMs)}` })
    }
    if (retention.maxCount !== undefined && !positiveSafeInt(retention.maxCount)) {
      throw new TopicError({ topic: name, detail: `retention.maxCount must be a positive integer, got ${describe(retention.maxCount)}` })
    }
    if (retention.retainUntilConsumed !== undefined && typeof retention.retainUntilConsumed !== "boolean") {
      throw new TopicError({ topic: name, detail: `retention.retainUntilConsumed must be true or false, got ${describe(retention.retainUntilConsumed)}` })
    }
    if (retention.maxAgeMs === undefined && retention.maxCount === undefined) {
      throw new TopicError({ topic: name, detail: "retention needs maxAgeMs or maxCount (or both); leave retention out to keep every event" })
    }
  }
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
  const c = typeof config === "object" && config !== null && !Array.isArray(config) ? config as Record<string, Json> : {}
  return {
    ...(c.compaction === true ? { compaction: true } : {}),
    ...(typeof c.keyField === "string" && c.keyField.length > 0 ? { keyField: c.keyField } : {}),
    ...(positiveSafeInt(c.partitions) ? { partitions: c.partitions } : {})
  }
}
