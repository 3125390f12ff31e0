/**
 * Topics: names, options and what a defined topic does with a payload. A topic need not be defined
 * to be published to; defining one attaches a payload schema (checked on every publish),
 * partitions (a partition is chosen from the key) and the retention and compaction settings the
 * store keeps. The options are checked against their spec (src/options/topicSpec.ts).
 */
import * as Exit from "effect/Exit"
import type * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import { compileSchema, describeSchema, type PayloadSchema, sameSchema, schemaOfEffect, type StoredSchema } from "../options/payloadSchema.ts"
import { check, problemText } from "../options/spec.ts"
import { defaultDeleteRetentionMs, storedTopic, topicOptionsProblem, topicSpec } from "../options/topicSpec.ts"
import type { Json } from "../store/records.ts"
import { TopicError } from "./busErrors.ts"

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
  /**
   * Every payload must decode with this schema. Its description (through its JSON Schema; see
   * `payloadSchema.ts`) is stored, so other processes check what it can say.
   */
  readonly schema?: Schema.ConstraintDecoder<unknown> | undefined
  /** Every payload must pass this check (a problem description, or undefined when it is fine); this process only. */
  readonly validate?: ((payload: unknown) => string | undefined) | undefined
  /** A declarative payload schema, stored with the topic and checked by every process publishing to it. */
  readonly payloadSchema?: PayloadSchema | undefined
  /** Replace stored settings that differ from this definition (otherwise such a definition is refused). */
  readonly redefine?: boolean | undefined
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
  /**
   * The partition of an event with this key (a keyless one: with this id), or undefined when the
   * topic is not partitioned.
   */
  readonly partitionOf: (key: string | undefined, id: string) => number | undefined
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

export const makeTopic = (name: string, given?: TopicOptions | null): Topic => {
  // No options and null alike (as for a publish's options).
  const options: TopicOptions = given ?? {}
  const problem = topicNameProblem(name)
  if (problem !== undefined) throw new TopicError({ topic: String(name), detail: problem })
  const checked = check(topicSpec, options)
  const across = checked.ok ? topicOptionsProblem(options) : undefined
  const optionProblem = !checked.ok ? checked.problem : across?.problem
  if (optionProblem !== undefined) throw new TopicError({ topic: name, detail: problemText(optionProblem), problem: optionProblem })
  const decode = options.schema === undefined ? undefined : SchemaParser.decodeUnknownExit(options.schema)
  const declared = options.payloadSchema === undefined ? undefined : compileSchema(options.payloadSchema)
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
      const invalid = validated(options.validate, payload) ?? declared?.(payload)
      if (invalid !== undefined) return `payload does not match the topic's schema: ${invalid}`
      if (decode === undefined) return undefined
      const exit = decode(payload, { errors: "all" })
      if (Exit.isSuccess(exit)) return undefined
      const issue = Exit.findErrorOption(exit)
      return `payload does not match the topic's schema: ${issue._tag === "Some" ? format(issue.value) : "invalid"}`
    },
    // A keyless event has no order to keep: its id spreads such events over the partitions.
    partitionOf: (key, id) =>
      partitions === undefined ? undefined : hashKey(key ?? id) % partitions
  }
}

/**
 * The application's own check of a payload: what it says is wrong, or undefined. A check that
 * throws refuses the payload too (a publish is refused with the reason, never failed with a bare
 * error, and nothing is written); what it returns other than a string, undefined or null is a
 * refusal.
 */
const validated = (validate: ((payload: unknown) => string | undefined) | undefined, payload: unknown): string | undefined => {
  if (validate === undefined) return undefined
  let verdict: unknown
  try {
    verdict = validate(payload)
  } catch (e) {
    return `its validate function threw: ${e instanceof Error ? e.message : String(e)}`
  }
  if (verdict === undefined || verdict === null) return undefined
  return typeof verdict === "string" ? verdict : `its validate function returned ${typeof verdict}, not a string or undefined`
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
  const schema = storedSchemaOfOptions(o)
  if (schema !== undefined) config.schema = schema as Json
  if (o.description !== undefined) config.description = o.description
  return config
}

/** What a topic's options store about its schema: the declared one, the description of an Effect Schema, or opaque (a function). */
const storedSchemaOfOptions = (o: TopicOptions): StoredSchema | undefined =>
  o.payloadSchema ?? (o.schema !== undefined ? schemaOfEffect(o.schema as unknown as Parameters<typeof schemaOfEffect>[0]) : o.validate !== undefined ? "opaque" : undefined)

/**
 * The settings of a stored topic that every publisher obeys (compaction's key rule, key field,
 * partitions, the payload schema unless it is opaque), from its stored config. Unknown or invalid
 * values are left out.
 */
export const publishOptionsOfConfig = (config: Json): TopicOptions => {
  const stored = storedTopic(config)
  return {
    ...(stored.compaction ? { compaction: true } : {}),
    ...(stored.keyField !== undefined ? { keyField: stored.keyField } : {}),
    ...(stored.partitions !== undefined ? { partitions: stored.partitions } : {}),
    ...(stored.schema !== undefined && stored.schema !== "opaque" ? { payloadSchema: stored.schema } : {})
  }
}

/** Whether a topic's config sets anything beyond a description (a bare definition sets nothing). */
export const hasSettings = (config: Json): boolean =>
  typeof config === "object" && config !== null && !Array.isArray(config) && Object.keys(config).some((k) => k !== "description")

/**
 * How a definition differs from the stored settings of its topic, one line per setting
 * (`retention.maxCount: stored 100, defined 50`); empty when they agree. A schema stored by a
 * version that did not describe schemas agrees with any; descriptions are not compared.
 */
export const definitionChanges = (stored: Json, defined: Json): ReadonlyArray<string> => {
  const a = storedTopic(stored)
  const b = storedTopic(defined)
  const show = (v: unknown) => (v === undefined ? "none" : typeof v === "string" ? JSON.stringify(v) : String(v))
  const changes: Array<string> = []
  const compare = (name: string, x: unknown, y: unknown) => {
    if (x !== y) changes.push(`${name}: stored ${show(x)}, defined ${show(y)}`)
  }
  compare("compaction", a.compaction, b.compaction)
  compare("deleteRetentionMs", a.deleteRetentionMs, b.deleteRetentionMs)
  compare("keyField", a.keyField, b.keyField)
  compare("partitions", a.partitions, b.partitions)
  compare("retention.maxAgeMs", a.retention?.maxAgeMs, b.retention?.maxAgeMs)
  compare("retention.maxCount", a.retention?.maxCount, b.retention?.maxCount)
  // Defaults compare as their values: retention without retainUntilConsumed retains until consumed.
  compare("retention.retainUntilConsumed", a.retention === undefined ? undefined : a.retention.retainUntilConsumed ?? true,
    b.retention === undefined ? undefined : b.retention.retainUntilConsumed ?? true)
  // A description is documentation, not a setting: the latest definition's is kept.
  const legacy = typeof stored === "object" && stored !== null && !Array.isArray(stored) && (stored as Record<string, Json>)["schema"] === true
  if (!legacy) {
    const x = a.schema
    const y = b.schema
    if (x === undefined || y === undefined ? x !== y : !sameSchema(x, y)) {
      changes.push(`schema: stored ${x === undefined ? "none" : describeSchema(x)}, defined ${y === undefined ? "none" : describeSchema(y)}`)
    }
  }
  return changes
}
