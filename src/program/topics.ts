/**
 * Declaring topics: `define-topic`, whose options are checked by the runtime's spec (every
 * problem reported, each under its option) and whose `:schema` literal becomes the stored payload
 * schema every process checks. A definition registers into the program builder at load; it is
 * made on the bus when the program starts.
 */
import { costs, isMap, Keyword, makeMap, type Meter, typeName, type Value } from "../reader/Value.ts"
import { TopicError } from "../runtime/busErrors.ts"
import { makeTopic } from "../runtime/Topic.ts"
import { didYouMeanWord } from "../diagnostics/suggest.ts"
import { type PayloadSchema, schemaTypeAliases, schemaTypeNames } from "../options/payloadSchema.ts"
import { defineTopicProblem, defineTopicSpec } from "../options/defineTopicSpec.ts"
import { checkAll, names } from "../options/spec.ts"
import { builtin } from "../lang/builtins.ts"
import { collecting, literalProblems, optionErrors, optionFailure } from "./callErrors.ts"
import { services, topicName, topLevel } from "./domainOperands.ts"
import { fail, failAll, LangError, type CallPart } from "../lang/langError.ts"

// ---- payload schemas --------------------------------------------------------------------------

/**
 * A `.sib` schema literal (:string, :int, ..., {:field type}, [type]; `:field?` optional) as the
 * stored payload schema every process checks (`options/payloadSchema.ts`). Every bad type is kept
 * in `errors`, placed under it (`path`: the option path to it, `schema.b.c`), with the closest
 * type. Each node is charged as it is converted: a literal that shares structure pays per use.
 */
const payloadSchemaOf = (spec: Value, path: ReadonlyArray<string>, meter: Meter, errors: Array<LangError>): PayloadSchema | undefined => {
  meter.charge(1, costs.object)
  const where = path.filter((p) => !/^\d+$/.test(p)).map((p) => `:${p.endsWith("?") ? p.slice(0, -1) : p}`).join(" ")
  const part: CallPart = { path: path.join("."), part: "value" }
  if (spec instanceof Keyword || typeof spec === "string") {
    const name = spec instanceof Keyword ? spec.name : spec
    if (schemaTypeNames.includes(name)) return name
    const alias = Object.hasOwn(schemaTypeAliases, name.toLowerCase()) ? schemaTypeAliases[name.toLowerCase()] : undefined
    errors.push(new LangError("schema", `define-topic: unknown type ${spec instanceof Keyword ? `:${name}` : JSON.stringify(name)} in ${where}`, [
      ...(alias !== undefined ? [`did you mean :${alias}?`] : didYouMeanWord(name, schemaTypeNames, (t) => `:${t}`)),
      `types: ${schemaTypeNames.map((t) => `:${t}`).join(" ")}, a map of fields, or [type]`
    ], undefined, { part }))
    return undefined
  }
  if (Array.isArray(spec) && spec.length === 1) {
    const item = payloadSchemaOf(spec[0]!, [...path, "0"], meter, errors)
    return item === undefined ? undefined : [item]
  }
  if (isMap(spec)) {
    const keys = Object.keys(spec)
    meter.charge(keys.length + (where.length >> 4), keys.length * costs.entry)
    const fields: Record<string, PayloadSchema> = {}
    let ok = true
    for (const k of keys) {
      const field = payloadSchemaOf(spec[k]!, [...path, k], meter, errors)
      if (field === undefined) ok = false
      else fields[k] = field
    }
    return ok ? fields : undefined
  }
  errors.push(new LangError("schema", `define-topic: ${where}: a schema is a type keyword (:string, :int, ...), a map of fields or [type], got ${Array.isArray(spec) ? `a vector of ${spec.length} items` : typeName(spec)}`, Array.isArray(spec) ? ["a vector type has one item type: [:string]"] : [], undefined, { part }))
  return undefined
}

// ---- define-topic -----------------------------------------------------------------------------

const topicOptionNames = names(defineTopicSpec)

/** An option value as plain data for its spec: keywords by their name. */
const plainOption = (v: Value): unknown => (v instanceof Keyword ? v.name : v)

export const defineTopic = builtin({
  name: "define-topic", group: "domain", arglists: ["[name]", "[name options]"],
  doc: "Declares a topic and returns its descriptor {:name name :opts options}. Options: :retention {:maxAgeMs n :maxCount n :retainUntilConsumed false} (or :retentionDays n, :retentionMs n, :maxCount n; expired events are kept until every group has processed them unless :retainUntilConsumed is false), :compaction true (keep the latest event per key; a nil payload is a tombstone, deleted with its key after :deleteRetention, default \"1d\", or :deleteRetentionMs n) with :key :field (the payload field that keys events published without a key), :schema (a map of field types: :string :number :int :boolean :map :vector :any, nested maps, [type]; a field written :name? may be absent or nil; stored with the topic, so every process publishing to it checks it), :partitions n, :description. A definition whose settings differ from the stored ones is refused with the differences unless it says :redefine true.",
  example: "(define-topic \"process.state\" {:compaction true :key :pid :schema {:pid :int :name :string}})",
  modes: topLevel, modeHint: "declare topics at the top level of a program",
  options: { from: 1, names: topicOptionNames, literalProblems: (given) => literalProblems("topic", "define-topic", checkAll(defineTopicSpec, given).problems) },
  impl: ([name, opts], run, span) => {
    // Every problem of the definition is reported, each under the option it is about.
    const errors: Array<LangError> = []
    const topic = collecting(errors, () => topicName(name!, "define-topic"))
    const o = opts === undefined || opts === null ? {} : isMap(opts) ? opts : fail("topic", `define-topic: options must be a map, got ${typeName(opts!)}`)
    const given: Record<string, unknown> = Object.create(null)
    for (const k of Object.keys(o)) if (o[k] !== null) given[k] = plainOption(o[k]!)
    const checked = checkAll(defineTopicSpec, given)
    for (const p of checked.problems) errors.push(...optionErrors("topic", "define-topic", p))
    const payloadSchema = o.schema === undefined || o.schema === null ? undefined : payloadSchemaOf(o.schema, ["schema"], run.budget, errors)
    if (errors.length > 0 || topic === undefined || checked.value === undefined) return failAll(errors)
    const v = checked.value
    const across = defineTopicProblem(v)
    if (across !== undefined) return optionFailure("topic", "define-topic", across.problem)
    const retention: { maxAgeMs?: number; maxCount?: number; retainUntilConsumed?: boolean } = {}
    if (v.retention?.maxAgeMs !== undefined) retention.maxAgeMs = v.retention.maxAgeMs
    if (v.retention?.maxCount !== undefined) retention.maxCount = v.retention.maxCount
    if (v.retention?.retainUntilConsumed !== undefined) retention.retainUntilConsumed = v.retention.retainUntilConsumed
    if (v.retentionDays !== undefined) retention.maxAgeMs = v.retentionDays * 86_400_000
    if (v.retentionMs !== undefined) retention.maxAgeMs = v.retentionMs
    if (v.maxCount !== undefined) retention.maxCount = v.maxCount
    if (v.retainUntilConsumed !== undefined) retention.retainUntilConsumed = v.retainUntilConsumed
    const deleteRetentionMs = v.deleteRetention !== undefined ? Math.round(v.deleteRetention) : v.deleteRetentionMs
    const earlier = services(run).builder!.topics.find((t) => t.name === topic)
    if (earlier !== undefined) {
      fail("topic", `define-topic: topic ${topic} is already defined at ${earlier.span.file}:${earlier.span.line}:${earlier.span.column}`)
    }
    const options = {
      ...(Object.keys(retention).length > 0 ? { retention } : {}),
      ...(v.compaction !== undefined ? { compaction: v.compaction } : {}),
      ...(deleteRetentionMs !== undefined ? { deleteRetentionMs } : {}),
      ...(v.key !== undefined ? { keyField: v.key } : {}),
      ...(v.partitions !== undefined ? { partitions: v.partitions } : {}),
      ...(v.description !== undefined ? { description: v.description } : {}),
      ...(payloadSchema !== undefined ? { payloadSchema } : {}),
      ...(v.redefine === true ? { redefine: true } : {})
    }
    try {
      makeTopic(topic, options)
    } catch (e) {
      if (e instanceof TopicError && e.problem !== undefined) optionFailure("topic", "define-topic", e.problem)
      fail("topic", `define-topic: ${e instanceof TopicError ? e.detail : String(e)}`)
    }
    services(run).builder!.topics.push({ name: topic, options, span })
    return makeMap([["name", topic], ["opts", makeMap(Object.entries(o))]])
  }
})
