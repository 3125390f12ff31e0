/**
 * Topic options (`defineTopic`, and what `.sib`'s `define-topic` resolves to): the payload checks,
 * retention, compaction with its key field and tombstones, partitions. Rules across fields
 * (tombstone retention needs compaction, retention needs a limit) are checked after the spec.
 */
import { type PayloadSchema, schemaProblem, type StoredSchema, storedSchemaOf } from "./payloadSchema.ts"
import { boolean, conflict, custom, func, integer, invalid, type Invalid, object, spec, string } from "./spec.ts"

/** How long a tombstone stays on a compacted topic by default (one day), so consumers see the delete. */
export const defaultDeleteRetentionMs = 86_400_000

export const retentionSpec = spec("retention", {
  maxAgeMs: integer({ min: 1, unit: "milliseconds", doc: "Events older than this may be pruned." }),
  maxCount: integer({ min: 1, doc: "At most this many events are kept." }),
  retainUntilConsumed: boolean({
    defaultDoc: "true",
    doc: "An expired event is kept until every group with a cursor on the topic has processed it; with false it is deleted anyway, and the groups that had not processed it count it as skipped."
  })
})

export const topicSpec = spec("topic", {
  schema: custom("Effect Schema", { doc: "Every payload must decode with this schema." }, (v, path) =>
    (typeof v === "object" || typeof v === "function") && v !== null && "ast" in v ? v : invalid(path, "an Effect Schema (from effect/Schema)", v)),
  validate: func<(payload: unknown) => string | undefined>({ shape: "(payload) => problem | undefined", doc: "Every payload must pass this check (in this process only: a function is not stored)." }),
  payloadSchema: custom<PayloadSchema>("PayloadSchema", {
    doc: "A declarative payload schema (`{ pid: \"int\", \"name?\": \"string\", tags: [\"string\"] }`), stored with the topic and checked by every process that publishes to it; at most 1,000 types (fields and item types), 32 deep."
  }, (v, path) => {
    const problem = schemaProblem(v, path || "payloadSchema")
    return problem === undefined ? v as PayloadSchema : invalid(path, `a payload schema (${problem})`, v)
  }),
  redefine: boolean({
    defaultDoc: "false",
    doc: "This definition replaces stored settings that differ from it (without it, a definition that differs from the stored one is refused, with the differences)."
  }),
  retention: object(retentionSpec.fields, { doc: "Limits on the events kept (maxAgeMs, maxCount, retainUntilConsumed)." }),
  compaction: boolean({ defaultDoc: "false", doc: "Keep only the latest event per key (a key is then required on publish; a null payload is a tombstone)." }),
  deleteRetentionMs: integer({
    min: 0, unit: "milliseconds", defaultDoc: `${defaultDeleteRetentionMs} (one day)`,
    doc: "On a compacted topic, how long a tombstone stays before compaction deletes it and its key (0: once every group has it)."
  }),
  keyField: string({ pattern: /^.+$/, patternDoc: "the name of a payload field", doc: "The payload field whose value keys an event published without a key." }),
  partitions: integer({ min: 1, max: 65_536, doc: "Number of partitions; an event's partition is a hash of its key." }),
  description: string({ doc: "Shown by `sib topics`." })
})

/** The rules across topic options. */
export const topicOptionsProblem = (o: {
  readonly compaction?: boolean | undefined
  readonly deleteRetentionMs?: number | undefined
  readonly retention?: { readonly maxAgeMs?: number | undefined; readonly maxCount?: number | undefined } | undefined
}): Invalid | undefined => {
  if (o.deleteRetentionMs !== undefined && o.compaction !== true) {
    return conflict("deleteRetentionMs", "deleteRetentionMs applies to tombstones on a compacted topic: set compaction: true, or leave it out")
  }
  if (o.retention !== undefined && o.retention.maxAgeMs === undefined && o.retention.maxCount === undefined) {
    return conflict("retention", "retention needs maxAgeMs or maxCount (or both); leave retention out to keep every event")
  }
  return undefined
}

/**
 * A topic's settings as stored (`topics.config`, written by `topicConfig`), decoded leniently: a
 * value that is not valid is left out (an older or newer writer may have stored it). The one
 * decoder of stored settings: publishers obey `compaction`, `keyField` and `partitions`;
 * maintenance `compaction`, `deleteRetentionMs` and `retention`; `sib topics` shows them all.
 */
export interface StoredTopic {
  readonly compaction: boolean
  readonly deleteRetentionMs: number
  readonly keyField: string | undefined
  readonly partitions: number | undefined
  readonly retention: {
    readonly maxAgeMs: number | undefined
    readonly maxCount: number | undefined
    readonly retainUntilConsumed: boolean
  } | undefined
  readonly description: string | undefined
  /**
   * The payload schema every publisher checks (`payloadSchema.ts`); `"opaque"` when the topic's
   * schema could not be described (its defining process alone checks it).
   */
  readonly schema: StoredSchema | undefined
}

const positiveInt = (v: unknown): number | undefined => (typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : undefined)
const record = (v: unknown): Readonly<Record<string, unknown>> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined

export const storedTopic = (config: unknown): StoredTopic => {
  const c = record(config) ?? {}
  const r = record(c["retention"])
  const maxAgeMs = positiveInt(r?.["maxAgeMs"])
  const maxCount = positiveInt(r?.["maxCount"])
  const d = c["deleteRetentionMs"]
  const keyField = c["keyField"]
  return {
    compaction: c["compaction"] === true,
    deleteRetentionMs: typeof d === "number" && Number.isSafeInteger(d) && d >= 0 ? d : defaultDeleteRetentionMs,
    keyField: typeof keyField === "string" && keyField.length > 0 ? keyField : undefined,
    partitions: positiveInt(c["partitions"]),
    retention: maxAgeMs === undefined && maxCount === undefined ? undefined : { maxAgeMs, maxCount, retainUntilConsumed: r?.["retainUntilConsumed"] !== false },
    description: typeof c["description"] === "string" ? c["description"] : undefined,
    schema: storedSchemaOf(c["schema"])
  }
}
