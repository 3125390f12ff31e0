/**
 * The options of `.sib`'s `define-topic`: the topic options in the language's own spelling (a
 * retention in days or a duration, `:key` for the key field, `:schema` as a map of field types),
 * resolved into `TopicOptions` by the domain form. Keywords given as values are read by name.
 */
import { boolean, conflict, custom, duration, type Invalid, integer, object, spec, string } from "./spec.ts"
import { retentionSpec } from "./topicSpec.ts"

export const defineTopicSpec = spec("define-topic", {
  retention: object(retentionSpec.fields, { doc: "{:maxAgeMs n :maxCount n :retainUntilConsumed false}: the events kept." }),
  retentionDays: integer({ min: 1, doc: "Events older than this many days may be pruned." }),
  retentionMs: integer({ min: 1, unit: "milliseconds", doc: "Events older than this may be pruned." }),
  maxCount: integer({ min: 1, doc: "At most this many events are kept." }),
  retainUntilConsumed: boolean({ defaultDoc: "true", doc: "Expired events are kept until every group has processed them; false deletes them anyway (the groups count them as skipped)." }),
  compaction: boolean({ defaultDoc: "false", doc: "Keep the latest event per key; a nil payload is a tombstone." }),
  deleteRetention: duration({ defaultDoc: "\"1d\"", doc: "How long a tombstone stays before its key is deleted (\"1h\", \"30m\", ...)." }),
  deleteRetentionMs: integer({ min: 0, unit: "milliseconds", doc: "The same, in milliseconds (0: once every group has it)." }),
  key: string({ pattern: /^.+$/, patternDoc: "a field name (a keyword such as :pid, or a string)", doc: "The payload field that keys events published without a key." }),
  schema: custom("field map", { doc: "A map of field types (:string :number :int :boolean :map :vector :any, nested maps, [type]; :name? may be absent or nil), stored with the topic and checked by every process publishing to it." }, (v) => v),
  partitions: integer({ min: 1, max: 65_536, doc: "Number of partitions; an event's partition is a hash of its key." }),
  description: string({ doc: "Shown by `sib topics`." }),
  redefine: boolean({ defaultDoc: "false", doc: "Replace stored settings that differ from this definition (without it, such a definition is refused with the differences)." })
})

/** The rules across define-topic's options. */
export const defineTopicProblem = (o: {
  readonly retention?: { readonly maxAgeMs?: number | undefined; readonly maxCount?: number | undefined; readonly retainUntilConsumed?: boolean | undefined } | undefined
  readonly retentionDays?: number | undefined
  readonly retentionMs?: number | undefined
  readonly maxCount?: number | undefined
  readonly retainUntilConsumed?: boolean | undefined
  readonly compaction?: boolean | undefined
  readonly deleteRetention?: number | undefined
  readonly deleteRetentionMs?: number | undefined
}): Invalid | undefined => {
  const r = o.retention
  if (r !== undefined && r.maxAgeMs === undefined && r.maxCount === undefined && r.retainUntilConsumed === undefined) {
    return conflict("retention", "define-topic: :retention {} sets no limit: give :maxAgeMs or :maxCount (or both)", "leave :retention out to keep every event")
  }
  const limited = r?.maxAgeMs !== undefined || r?.maxCount !== undefined || o.retentionDays !== undefined || o.retentionMs !== undefined || o.maxCount !== undefined
  if ((o.retainUntilConsumed !== undefined || r?.retainUntilConsumed !== undefined) && !limited) {
    return conflict("retainUntilConsumed", "define-topic: :retainUntilConsumed needs a retention limit", "add :retentionDays n, :retentionMs n or :maxCount n (or :maxAgeMs / :maxCount inside :retention)")
  }
  if (o.deleteRetention !== undefined && o.deleteRetentionMs !== undefined) {
    return conflict("deleteRetention", "define-topic: give :deleteRetention or :deleteRetentionMs, not both")
  }
  if ((o.deleteRetention !== undefined || o.deleteRetentionMs !== undefined) && o.compaction !== true) {
    return conflict(o.deleteRetention !== undefined ? "deleteRetention" : "deleteRetentionMs",
      `define-topic: :${o.deleteRetention !== undefined ? "deleteRetention" : "deleteRetentionMs"} applies to tombstones on a compacted topic`, "add :compaction true, or leave it out")
  }
  return undefined
}
