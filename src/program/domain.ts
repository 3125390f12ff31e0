/**
 * The domain forms: define-topic, publish!, subscribe!, latest, log, every!, after!, and the `bus`
 * host object. At the top level (load mode) they register into the program builder; inside
 * handlers, timers and tests they act on the bus through Effects. A publish inside a handler is
 * caused by the event being handled.
 */
import * as Effect from "effect/Effect"
import type { Span } from "../diagnostics/Span.ts"
import {
  type Callable, costs, type HostObject, isCallable, isHostObject, isMap, Keyword, kindOf, List, makeMap, mapKey, type Meter, print, typeName, type Value
} from "../reader/Value.ts"
import type { BusShape } from "../runtime/Bus.ts"
import type { DeliveryContext } from "../runtime/ConsumerGroup.ts"
import { PublishError, SubscribeError as SubscribeErrorClass, TopicError } from "../runtime/busErrors.ts"
import { resolveOptions, subscribeOptionNames } from "../runtime/subscribeOptions.ts"
import type { SubscribeOptions } from "../runtime/subscribeOptions.ts"
import { prepare, type PublishOptions } from "../runtime/publish.ts"
import { makeTopic, topicNameProblem } from "../runtime/Topic.ts"
import type { Event } from "../store/records.ts"
import { didYouMean, didYouMeanWord } from "../diagnostics/suggest.ts"
import { type PayloadSchema, schemaTypeAliases, schemaTypeNames } from "../options/payloadSchema.ts"
import { defineTopicProblem, defineTopicSpec } from "../options/defineTopicSpec.ts"
import { publishOptionNames } from "../options/publishSpec.ts"
import { checkAll, type Naming, names, type OptionProblem, durationValue, problemText } from "../options/spec.ts"
import { subscribeSpec } from "../options/subscribeSpec.ts"
import { type Builtin, builtin, builtinOf, callValue } from "../lang/builtins.ts"
import { Closure } from "../lang/Closure.ts"
import { standInWithMethods } from "../lang/host.ts"
import { toJson } from "../lang/jsonValues.ts"
import { seqOf } from "../lang/operands.ts"
import type { FilterServices, ProgramBuilder } from "./Program.ts"
import { admitLogLine } from "./logRate.ts"
import { fail, failAll, isEffect, isLimit, LangError, makeRun, type CallPart, type RunState, step } from "../lang/run.ts"

/** What domain forms find in `RunState.services`. */
export interface DomainServices {
  /** Load mode: where registrations go. */
  readonly builder?: ProgramBuilder
  /** Run modes: the bus. */
  readonly bus?: BusShape
  /** Inside a handler: the delivery being handled. */
  readonly delivery?: DeliveryContext
  readonly event?: Event
  /** Where `log` lines go instead of the runtime's log (a test keeps them for its report). */
  readonly log?: ((line: string) => void) | undefined
}

const services = (run: RunState) => run.services as DomainServices

const keywordName = (name: string) => `:${name}`

const topLevel = ["load"] as const
const running = ["handler", "timer", "test"] as const

/** A topic given by name or by the descriptor define-topic returned. */
export const topicName = (v: Value, fn: string): string => {
  const name = typeof v === "string" ? v : isMap(v) && typeof v.name === "string" ? v.name : undefined
  if (name === undefined) fail("type", `${fn}: a topic is a name or a descriptor from define-topic, got ${typeName(v)}`)
  const problem = topicNameProblem(name)
  if (problem !== undefined) fail("topic", `${fn}: ${problem}`)
  return name!
}

/**
 * Options given as `:key value` pairs or as one map, keyed by name. The record has no prototype,
 * so every name given (even `__proto__`) is an own key that the option checks see and refuse.
 */
const optionsOf = (extra: ReadonlyArray<Value>, fn: string, run: RunState): Record<string, Value> => {
  if (extra.length === 0) return Object.create(null)
  if (extra.length === 1) {
    if (extra[0] === null) return Object.create(null)
    if (isMap(extra[0])) {
      const out: Record<string, Value> = Object.create(null)
      for (const k of Object.keys(extra[0])) out[k] = extra[0][k]!
      return out
    }
    // Options passed on from a `& opts` rest parameter: a list of :name value pairs.
    if (extra[0] instanceof List || Array.isArray(extra[0])) return optionsOf(seqOf(extra[0], fn, run), fn, run)
  }
  if (extra.length % 2 === 1) fail("options", `${fn}: options are :name value pairs or one map`)
  const out: Record<string, Value> = Object.create(null)
  for (let i = 0; i < extra.length; i += 2) {
    const k = extra[i]
    const name = k instanceof Keyword ? k.name : typeof k === "string" ? k : undefined
    if (name === undefined) fail("options", `${fn}: expected an option name such as :key, got ${print(k!)}`)
    // Given twice, one value would be dropped without a word: say which.
    if (Object.hasOwn(out, name!)) fail("options", `${fn}: the option :${name} is given twice`)
    out[name!] = extra[i + 1]!
  }
  return out
}

const durationMs = (v: Value, fn: string): number => {
  const ms = durationValue(v)
  if (ms !== undefined) return ms
  return fail("duration", `${fn}: ${print(v)} is not a duration`, ["write it as milliseconds (500) or as \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\""])
}

/** Option names as `.sib` writes them: `:name`, and a nested one as `:backoff :initialMs`. */
const sibNaming: Naming = { name: (n) => `:${n}`, path: (p) => p.split(".").map((n) => `:${n}`).join(" ") }

/**
 * An option problem the runtime's spec found, in `.sib`'s words (option names as keywords), as
 * language errors placed under the option they are about: one per unknown name (with the closest
 * valid names), one per value that does not fit (with the closest word when it is one of a few).
 */
const optionErrors = (code: string, fn: string, problem: OptionProblem): ReadonlyArray<LangError> => {
  if (problem._tag === "conflict") {
    const message = problem.message.startsWith(`${fn}:`) ? problem.message : `${fn}: ${problem.message}`
    return [new LangError(code, message, problem.hint === undefined ? [] : [problem.hint], undefined, {
      part: problem.path === "" ? undefined : { path: problem.path, part: "entry" }
    })]
  }
  if (problem._tag === "invalid") {
    const hints = problem.choices !== undefined && typeof problem.got === "string" ? didYouMeanWord(problem.got, problem.choices, (c) => JSON.stringify(c)) : []
    return [new LangError(code, `${fn}: ${problemText(problem, sibNaming)}`, hints, undefined, { part: { path: problem.path, part: "entry" } })]
  }
  const where = problem.path === "" ? "" : ` in ${sibNaming.path(problem.path)}`
  return problem.names.map((n) =>
    new LangError(code, `${fn}: unknown option ${keywordName(n)}${where}`, [
      ...didYouMean(n, problem.valid, keywordName),
      `valid options${where}: ${problem.valid.map(keywordName).join(" ")}`
    ], undefined, { part: { path: problem.path === "" ? n : `${problem.path}.${n}`, part: "name" } }))
}

/**
 * The errors of option values written literally in a call (see `Builtin.options.literalProblems`):
 * values that do not fit, and unknown names in nested option maps. Rules across options are left
 * to the run (other options may be given in variables), as are unknown top-level names (the
 * compiler reports those).
 */
const literalProblems = (code: string, fn: string, problems: ReadonlyArray<OptionProblem>): ReadonlyArray<LangError> =>
  problems.filter((p) => p._tag === "invalid" || (p._tag === "unknown" && p.path !== "")).flatMap((p) => optionErrors(code, fn, p))

/** Fails with every problem given (see `optionErrors`). */
const optionFailure = (code: string, fn: string, ...problems: ReadonlyArray<OptionProblem>): never =>
  failAll(problems.flatMap((p) => optionErrors(code, fn, p)))

/**
 * Runs a check, keeping the language error it fails with in `errors` (placed under `part` when it
 * has no part of its own), so that a form reports every problem found, not only its first. A limit is never kept:
 * it ends the run.
 */
const collecting = <A>(errors: Array<LangError>, check: () => A, part?: CallPart): A | undefined => {
  try {
    return check()
  } catch (e) {
    if (!(e instanceof LangError) || isLimit(e)) throw e
    errors.push(part === undefined || e.part !== undefined ? e : new LangError(e.code, e.message, e.hints, e.data, { part, more: e.more }))
    errors.push(...e.more)
    return undefined
  }
}

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

const defineTopic = builtin({
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

// ---- publish! ---------------------------------------------------------------------------------


/** How to write a keyword or number as the string expected, if it is one. */
const asString = (v: Value): Array<string> =>
  v instanceof Keyword || typeof v === "number" ? [`write it as a string: ${JSON.stringify(mapKey(v))}`] : []

/**
 * What is wrong with an option that must be a vector (or list) of strings, as a message starting
 * `${fn}: ${rule}` and its hints, or undefined (also for nil: the option is not given).
 */
const stringsProblem = (v: Value | undefined, fn: string, rule: string): { readonly message: string; readonly hints: ReadonlyArray<string> } | undefined => {
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) && !(v instanceof List)) {
    return { message: `${fn}: ${rule}, got ${typeName(v)}`, hints: typeof v === "string" ? [`write it as a vector: [${JSON.stringify(v)}]`] : [] }
  }
  const bad = (v instanceof List ? v.items : v as ReadonlyArray<Value>).find((x) => typeof x !== "string")
  return bad === undefined ? undefined : { message: `${fn}: ${rule}, got ${typeName(bad)} in it`, hints: asString(bad) }
}

const publishOptions = (o: Record<string, Value>, fn: string, run: RunState): PublishOptions => {
  for (const k of Object.keys(o)) {
    if (!publishOptionNames.includes(k)) {
      fail("options", `${fn}: unknown option :${k}`, [
        ...didYouMean(k, publishOptionNames, keywordName),
        `valid options: ${publishOptionNames.map((n) => `:${n}`).join(" ")}`
      ])
    }
  }
  const out: { -readonly [K in keyof PublishOptions]: PublishOptions[K] } = {}
  // An event's key and id are strings, as in every other API: another value is refused, never
  // turned into text here (a number keyed 7 and a string keyed "7" would be one key).
  const errors: Array<LangError> = []
  for (const name of ["key", "id"] as const) {
    const v = o[name]
    if (v === undefined || v === null) continue
    if (typeof v === "string") out[name] = v
    else {
      errors.push(new LangError("type", `${fn}: :${name} must be a string, got ${typeName(v)}`, [
        v instanceof Keyword || typeof v === "number" ? `write it as a string: ${JSON.stringify(mapKey(v))} (or (str x) for a computed one)` : `build one string from it, e.g. (str ...)`
      ], undefined, { part: { path: name, part: "entry" } }))
    }
  }
  // Headers, tags and causes are strings too: checked here, in .sib's words, before the runtime's
  // own check (which speaks of JavaScript values) sees them.
  const headers = o.headers
  if (headers !== undefined && headers !== null) {
    if (!isMap(headers)) {
      errors.push(new LangError("type", `${fn}: :headers must be a map of strings, got ${typeName(headers)}`, [], undefined, { part: { path: "headers", part: "entry" } }))
    } else {
      for (const k of Object.keys(headers)) {
        const v = headers[k]!
        if (typeof v === "string") continue
        errors.push(new LangError("type", `${fn}: the header ${keywordName(k)} must be a string, got ${typeName(v)}`, asString(v), undefined, {
          part: { path: `headers.${k}`, part: "value" }
        }))
      }
    }
  }
  const tags = stringsProblem(o.tags, fn, ":tags must be a vector of strings")
  if (tags !== undefined) errors.push(new LangError("type", tags.message, tags.hints, undefined, { part: { path: "tags", part: "entry" } }))
  const causes = typeof o.causedBy === "string" ? undefined : stringsProblem(o.causedBy, fn, ":causedBy must be an event id or a vector of them (strings)")
  if (causes !== undefined) errors.push(new LangError("type", causes.message, causes.hints, undefined, { part: { path: "causedBy", part: "entry" } }))
  if (errors.length > 0) failAll(errors)
  if (headers !== undefined && headers !== null) out.headers = toJson(headers, `${fn} :headers`, run.budget) as Record<string, string>
  if (o.tags !== undefined && o.tags !== null) out.tags = toJson(o.tags, `${fn} :tags`, run.budget) as Array<string>
  if (o.causedBy !== undefined && o.causedBy !== null) out.causedBy = toJson(o.causedBy, `${fn} :causedBy`, run.budget) as Array<string>
  return out
}

/** Publishes now (run modes) or registers an initial publish (load mode). */
/**
 * Steps a publish costs beside its payload: writing an event and delivering it take far more work
 * than a call (tens of microseconds against tenths of one), so a program that publishes in a loop
 * (a group or a watch feeding its own topic) reaches its budget after a bounded amount of real work.
 */
export const publishSteps = 100

const doPublish = (run: RunState, span: Span, topicArg: Value, payloadArg: Value, options: Record<string, Value>, fn: string): unknown => {
  const topic = topicName(topicArg, fn)
  step(run, publishSteps)
  // Converting the payload charges its nodes and text: what a run buffers for publishing counts in
  // its memory budget, so no run can pile up publishes past it.
  const payload = toJson(payloadArg, `${fn} payload`, run.budget)
  const opts = publishOptions(options, fn, run)
  const s = services(run)
  if (run.mode === "load") {
    // Checked now, as the bus will check it at start (schema, key, headers, tags): a program
    // whose initial publish would be refused does not load.
    const defined = s.builder!.topics.find((t) => t.name === topic)
    const checked = prepare(topic, payload, opts, defined === undefined ? undefined : makeTopic(topic, defined.options), { maxPayloadBytes: Number.POSITIVE_INFINITY }, {
      id: () => "load-check", ts: 0, sid: ""
    })
    if (checked instanceof PublishError) fail("publish", `${fn}: ${checked.detail}`)
    s.builder!.publishes.push({ topic, payload, options: opts, span })
    return null
  }
  if (run.mode === "macro") return fail("mode", `${fn} cannot run inside a macro`)
  if (s.bus === undefined) return fail("filter", `${fn} cannot run in a subscribe filter (a filter only decides)`)
  const withKey = opts
  const effect = s.delivery !== undefined ? s.delivery.publish(topic, payload, withKey) : s.bus!.publish(topic, payload, withKey)
  return Effect.map(effect, (e) => e as unknown as Value)
}


const isBus = (v: Value | undefined): boolean => isHostObject(v) && v.kind === "bus"

const publish = builtin({
  name: "publish!", group: "domain", arglists: ["[topic payload & options]", "[bus topic payload & options]"],
  doc: "Publishes an event. Options (:name value pairs or one map): :key, :headers, :tags, :id, :causedBy. At the top level the event is published when the program starts, in one batch with the program's other top-level publishes, and the form's value is nil (the event does not exist yet while the program loads). Inside a handler it is caused by the handled event and written in the transaction that acknowledges it: if the handler fails it is never written, and the returned event has no :seq yet. On a compacted topic it needs a :key, and a nil payload is a tombstone.",
  example: "(publish! \"heartbeat.received\" {:pid 42 :name \"stt\"} :key \"42\")",
  options: { from: 2, names: publishOptionNames },
  impl: (args, run, span) => {
    const rest = isBus(args[0]) ? args.slice(1) : args
    if (rest.length < 2) fail("arity", "publish! needs a topic and a payload", ["(publish! topic payload :key k)"])
    return doPublish(run, span, rest[0]!, rest[1]!, optionsOf(rest.slice(2), "publish!", run), "publish!")
  }
})

// ---- functions the runtime calls --------------------------------------------------------------

/**
 * Why `f` cannot be called with `n` arguments, in words such as "fn takes [a b]", or undefined: a
 * function of the language by its parameters (keyword parameters take only `:name value` pairs
 * or one map after the fixed ones, so they fit only when no argument is left over for them), a
 * built-in by its arity. A host function does not say what it takes: it is taken as it is.
 */
const arityProblem = (f: Callable, n: number): string | undefined => {
  if (f instanceof Closure) {
    const p = f.params
    const fits = p.keywords === undefined && p.rest !== undefined ? p.fixed <= n : p.fixed === n
    return fits ? undefined : `${f.name} takes ${p.shape}`
  }
  const b = builtinOf(f)
  if (b === undefined || (n >= b.min && n <= b.max)) return undefined
  const takes = b.min === b.max ? `${b.min} argument${b.min === 1 ? "" : "s"}` : b.max === Number.POSITIVE_INFINITY ? `at least ${b.min} arguments` : `${b.min} to ${b.max} arguments`
  return `${b.name} takes ${takes}`
}

/**
 * How many arguments a handler is called with: the event alone for a function of the language
 * with one fixed parameter or none (and no `&`), else the event and its delivery context (as
 * `start.ts` calls it).
 */
const handlerArguments = (h: Callable): 1 | 2 =>
  h instanceof Closure && h.params.fixed < 2 && h.params.rest === undefined && h.params.keywords === undefined ? 1 : 2

/** Fails with an error placed under a part of the call (an argument, an option). */
const failOn = (part: CallPart, code: string, message: string, hints: ReadonlyArray<string> = []): never => {
  throw new LangError(code, message, hints, undefined, { part })
}

// ---- subscribe! -------------------------------------------------------------------------------

/** A `.sib` filter as a synchronous predicate: a run of its own, with its own budget. */
const predicateOf = (f: Callable, run: RunState, span: Span, filterServices: FilterServices | undefined) => (event: Event): boolean => {
  // A filter runs as part of delivery, not of loading: domain forms act as in a handler (and being
  // effectful, they are refused below); its errors fail the event's attempt like a handler's. While
  // a test runs the program, its expect and expect= are the test's.
  const sub = makeRun("handler", run.limits, run.clock, run.random, { event, filter: true, expectations: filterServices?.expectations })
  try {
    const out = callValue(f, [event as unknown as Value], sub, span)
    if (isEffect(out)) fail("filter", "a subscribe filter must not publish or call effectful functions")
    return out !== null && out !== false
  } finally {
    sub.budget.release()
  }
}

const doSubscribe = (run: RunState, span: Span, topics: Value, group: Value, handler: Value, options: Record<string, Value>, fn: string): unknown => {
  if (run.mode !== "load") fail("mode", `${fn} belongs at the top level of a program`)
  // Every problem of the subscription is reported, each under what it is about when that is written.
  const errors: Array<LangError> = []
  const topicList = collecting(errors, () =>
    Array.isArray(topics) || topics instanceof List ? seqOf(topics, fn, run).map((t) => topicName(t, fn)) : [topicName(topics, fn)])
  if (typeof group !== "string") collecting(errors, () => fail("type", `${fn}: the group name must be a string, got ${typeName(group)}`))
  const handlerAt: CallPart = { argument: 2 }
  if (!isCallable(handler)) collecting(errors, () => failOn(handlerAt, "type", `${fn}: the handler must be a function of [event ctx], got ${typeName(handler)}`))
  const handlerProblem = isCallable(handler) ? arityProblem(handler, handlerArguments(handler)) : undefined
  if (handlerProblem !== undefined) {
    collecting(errors, () =>
      failOn(handlerAt, "arity", `${fn}: a handler is called with the event and its delivery context, but ${handlerProblem}`, [
        handler instanceof Closure
          ? "write it as (fn [e] ...) or (fn [e ctx] ...)"
          : `a built-in is called with both: wrap it in a function of the event, (fn [e] (${builtinOf(handler as Callable)?.name ?? "f"} e))`
      ]))
  }
  const raw: Record<string, unknown> = Object.create(null)
  for (const [k, v] of Object.entries(options)) {
    if (k === "filter") {
      // Only a function of the language may be a filter: never a JS function reached as data.
      if (v !== null && !isCallable(v)) {
        collecting(errors, () => fail("type", `${fn}: :filter must be a function of the event, got ${typeName(v)}`), { path: k, part: "entry" })
        continue
      }
      const filterProblem = v === null ? undefined : arityProblem(v as Callable, 1)
      if (filterProblem !== undefined) {
        collecting(errors, () => fail("arity", `${fn}: a filter is called with the event alone, but ${filterProblem}`, ["write it as (fn [e] ...)"]), { path: k, part: "entry" })
        continue
      }
      raw[k] = v === null ? undefined : predicateOf(v as Callable, run, span, services(run).builder?.filterServices)
    } else {
      raw[k] = v instanceof Keyword ? v.name : collecting(errors, () => toJson(v, `${fn} :${k}`, run.budget), { path: k, part: "entry" })
    }
  }
  for (const p of checkAll(subscribeSpec, raw).problems) errors.push(...optionErrors("subscribe", fn, p))
  if (errors.length > 0 || topicList === undefined) return failAll(errors)
  const resolved = resolveOptions(group as string, topicList, raw as SubscribeOptions)
  if (resolved instanceof SubscribeErrorClass) {
    if (resolved.problem !== undefined) optionFailure("subscribe", fn, resolved.problem)
    fail("subscribe", `${fn}: ${resolved.detail}`)
  }
  const earlier = services(run).builder!.subscriptions.find((x) => x.group === group)
  if (earlier !== undefined) {
    fail("subscribe", `${fn}: group ${group as string} is already subscribed at ${earlier.span.file}:${earlier.span.line}:${earlier.span.column}`, [
      "a group consumes its topics once; give this subscription another group name, or list several topics in one subscribe!"
    ])
  }
  const builder = services(run).builder!
  if (builder.subscriptions.length >= run.limits.maxGroups) {
    fail("subscribe", `${fn}: a program subscribes at most ${run.limits.maxGroups} groups (maxGroups)`, ["a group can read several topics: list them in one subscribe!"])
  }
  builder.subscriptions.push({ topics: topicList, group: group as string, handler: handler as Callable, options: raw as SubscribeOptions, span })
  return null
}

const subscribe = builtin({
  name: "subscribe!", group: "domain", arglists: ["[topic group handler & options]", "[bus topic group handler & options]"],
  doc: `Starts a durable consumer group when the program starts. topic is a name, a descriptor or a vector of them (fan-in); handler is a function of [event ctx]. Options (:name value pairs or one map) are the runtime's (see the README's subscribe options): ${subscribeOptionNames.map((n) => `:${n}`).join(" ")}.`,
  example: "(subscribe! \"heartbeat.received\" \"ops\" on-heartbeat :from \"earliest\")",
  modes: topLevel, modeHint: "subscribe at the top level of a program",
  options: { from: 3, names: subscribeOptionNames, literalProblems: (given) => literalProblems("subscribe", "subscribe!", checkAll(subscribeSpec, given).problems) },
  impl: (args, run, span) => {
    const rest = isBus(args[0]) ? args.slice(1) : args
    if (rest.length < 3) fail("arity", "subscribe! needs a topic, a group and a handler", ["(subscribe! topic group handler :from \"earliest\")"])
    return doSubscribe(run, span, rest[0]!, rest[1]!, rest[2]!, optionsOf(rest.slice(3), "subscribe!", run), "subscribe!")
  }
})

// ---- the rest ---------------------------------------------------------------------------------

const latest = builtin({
  name: "latest", group: "domain", arglists: ["[topic key]"],
  doc: "The payload of the latest event with this key on the topic (a compacted topic holds the current state per key), or nil when the key has no event or its latest is a tombstone (a nil payload). One indexed read.",
  example: "(latest \"process.state\" \"42\")",
  modes: running, modeHint: "latest reads the bus, so it runs inside handlers, timers and tests",
  impl: ([topic, key], run) => {
    const name = topicName(topic!, "latest")
    if (services(run).bus === undefined) return fail("filter", "latest cannot run in a subscribe filter (a filter only decides)")
    // A key is a string, as publish! requires: another value is refused, never turned into text.
    if (typeof key !== "string") {
      return failOn({ argument: 1 }, "type", `latest: the key must be a string, got ${typeName(key!)}`, [
        ...asString(key!).map((h) => `${h} (or (str x) for a computed one)`)
      ])
    }
    const k = key
    return Effect.map(services(run).bus!.latestByKey(name, [k]), (m) => (m.get(k)?.payload ?? null) as Value)
  }
})

/** The longest log line a program writes; longer ones are cut. */
const maxLogChars = 10_000

const log = builtin({
  name: "log", group: "domain", arglists: ["[& values]"],
  doc: "Writes the values (strings as they are, others printed) to the runtime's log, on one line of at most 10,000 characters (a longer one is cut). Programs share a budget of 1 MiB of log a second (8 MiB at once): past it lines are dropped, and a line says how many. In a test the lines are kept with the test: sib test shows those of failing tests (--logs: of every test).",
  example: "(log \"stale process\" pid)",
  impl: (args, run) => {
    // A log line is bounded (a long value is cut) and paid for like any other printing.
    const line = args.map((a) => print(a, true, { meter: run.budget, maxChars: maxLogChars })).join(" ")
    const text = line.length > maxLogChars ? `${line.slice(0, maxLogChars)}...` : line
    const sink = services(run).log
    if (sink !== undefined) {
      sink(text)
      return null
    }
    // The runtime's log (a terminal, a file) takes at most so much a second from programs.
    const lines = admitLogLine(text, run.clock)
    if (lines.length === 0) return null
    return Effect.as(Effect.forEach(lines, (l) => Effect.log(l), { discard: true }), null)
  }
})

/**
 * What stands for a host name a program declares (`declare-host`) where no application gives it
 * (`sib check`, `sib test`): called as a function, or as an object with any method
 * (`(.page pager ...)`), it writes its call to the log (a test keeps the line) and returns nil.
 */
export const hostStandIn = (name: string): Callable =>
  standInWithMethods({
    [kindOf]: "fn",
    name,
    invoke: (run, args, span) => log.impl([`${name} (a declared host function; a stand-in here) called with`, ...args], run as RunState, span)
  }, (method) => ({
    [kindOf]: "fn",
    name: `.${method}`,
    invoke: (run, args, span) => log.impl([`${name}.${method} (a declared host object; a stand-in here) called with`, ...args], run as RunState, span)
  }))

const sleep = builtin({
  name: "sleep!", group: "domain", arglists: ["[interval]"],
  doc: "Pauses the running handler, timer or test for the interval (milliseconds, or \"500ms\", \"5s\", \"2m\", \"1h\") on the runtime's Clock. In a test body it moves the test clock, as advance! does; a handler sleeping in a test wakes when the test advances the clock. A handler's pause counts toward its ack timeout.",
  example: "(sleep! \"250ms\")",
  modes: running, modeHint: "sleep! pauses a handler, a timer or a test",
  impl: ([interval], run) => {
    const ms = durationMs(interval!, "sleep!")
    // A test body drives the test clock itself: sleeping there means moving it (as advance! does).
    if (run.mode === "test") return Effect.as((run.services as { readonly test: { readonly advance: (ms: number) => Effect.Effect<void> } }).test.advance(ms), null)
    return Effect.as(Effect.sleep(ms), null)
  }
})

/** The shortest interval of an `every!` timer: a timer cannot keep the process busy by itself. */
const minTimerIntervalMs = 10

const timer = (kind: "every" | "after"): Builtin => builtin({
  name: `${kind}!`, group: "domain", arglists: ["[interval f]"],
  doc: kind === "every"
    ? "Calls f (with no arguments) every interval (milliseconds, or \"500ms\", \"5s\", \"2m\", \"1h\"; at least 10 ms) while the program runs; on the runtime's Clock, so tests drive it with advance!. Processes running the same program on one database share it: it fires in one of them at a time, the others stand by and take over when that one stops."
    : "Calls f (with no arguments) once, interval after the program starts (in one of the processes running the program on one database; a process that takes the timer over runs it again).",
  example: `(${kind}! "5s" (fn [] (publish! "tick" {:at (now)})))`,
  modes: topLevel, modeHint: "declare timers at the top level of a program",
  impl: ([interval, f], run, span) => {
    // The interval and the function are both checked, each error under the argument it is about.
    const errors: Array<LangError> = []
    const ms = collecting(errors, () => {
      const ms = durationMs(interval!, `${kind}!`)
      if (kind === "every" && ms < minTimerIntervalMs) {
        fail("duration", `every!: an interval of ${ms} ms is under the minimum of ${minTimerIntervalMs} ms`, [`use "${minTimerIntervalMs}ms" or more`])
      }
      return ms
    }, { argument: 0 })
    if (!isCallable(f)) collecting(errors, () => failOn({ argument: 1 }, "type", `${kind}!: expected a function of no arguments, got ${typeName(f!)}`))
    const problem = isCallable(f) ? arityProblem(f, 0) : undefined
    if (problem !== undefined) {
      collecting(errors, () => failOn({ argument: 1 }, "arity", `${kind}!: a timer calls its function with no arguments, but ${problem}`, [`write it as (fn [] ...)`]))
    }
    if (errors.length > 0 || ms === undefined) return failAll(errors)
    const builder = services(run).builder!
    if (builder.timers.length >= run.limits.maxTimers) fail("timer", `${kind}!: a program has at most ${run.limits.maxTimers} timers (maxTimers)`, ["one timer can do several things"])
    builder.timers.push({ kind, ms, fn: f as Callable, span })
    return null
  }
})

const watch = builtin({
  name: "watch!", group: "domain", arglists: ["[topic f]"],
  doc: "Calls f with every event published to topic (a name, a descriptor or a vector of them) from the moment the program starts, by this process or any other on the database, in seq order: a live subscription, with no group, cursor, ack or retry (a failing call is logged and the next event comes). Every process running the program gets every event. For durable work use subscribe!.",
  example: `(watch! "orders" (fn [e] (log "order" e.payload.id)))`,
  modes: topLevel, modeHint: "declare watches at the top level of a program",
  impl: ([topics, f], run, span) => {
    const errors: Array<LangError> = []
    const topicList = collecting(errors, () =>
      Array.isArray(topics) || topics instanceof List ? seqOf(topics!, "watch!", run).map((t) => topicName(t, "watch!")) : [topicName(topics!, "watch!")], { argument: 0 })
    if (!isCallable(f)) collecting(errors, () => failOn({ argument: 1 }, "type", `watch!: expected a function of the event, got ${typeName(f!)}`))
    const problem = isCallable(f) ? arityProblem(f, 1) : undefined
    if (problem !== undefined) {
      collecting(errors, () => failOn({ argument: 1 }, "arity", `watch!: a watch calls its function with the event, but ${problem}`, [`write it as (fn [e] ...)`]))
    }
    if (errors.length > 0 || topicList === undefined) return failAll(errors)
    const builder = services(run).builder!
    if (builder.watches.length >= run.limits.maxTimers) fail("watch", `watch!: a program has at most ${run.limits.maxTimers} watches (maxTimers)`, ["one watch can take several topics"])
    builder.watches.push({ topics: topicList, fn: f as Callable, span })
    return null
  }
})

export const domainBuiltins: ReadonlyArray<Builtin> = [defineTopic, publish, subscribe, latest, log, sleep, timer("every"), timer("after"), watch]

/** The `bus` host object: `(.publish bus topic payload opts)` and `(.subscribe bus topic group handler opts)`. */
export const busObject: HostObject = {
  [kindOf]: "host",
  kind: "bus",
  fields: {},
  methods: {
    publish: {
      [kindOf]: "fn", name: "publish",
      invoke: (run, args, span) => {
        if (args.length < 2 || args.length > 3) fail("arity", `.publish takes a topic, a payload and optional options, got ${args.length} arguments`)
        return doPublish(run as RunState, span, args[0]!, args[1]!, optionsOf(args.slice(2), ".publish", run as RunState), ".publish")
      }
    },
    subscribe: {
      [kindOf]: "fn", name: "subscribe",
      invoke: (run, args, span) => {
        if (args.length < 3 || args.length > 4) fail("arity", `.subscribe takes a topic, a group, a handler and optional options, got ${args.length} arguments`)
        return doSubscribe(run as RunState, span, args[0]!, args[1]!, args[2]!, optionsOf(args.slice(3), ".subscribe", run as RunState), ".subscribe")
      }
    }
  }
}

/** The handler's `ctx`: fields group and attempt; methods ack and nack. */
export const deliveryObject = (ctx: DeliveryContext): HostObject => ({
  [kindOf]: "host",
  kind: "delivery",
  fields: { group: ctx.group, attempt: ctx.attempt },
  methods: {
    ack: { [kindOf]: "fn", name: "ack", invoke: () => Effect.as(ctx.ack, null) },
    nack: {
      [kindOf]: "fn", name: "nack",
      invoke: (_run, args) => Effect.as(ctx.nack(args[0] === undefined || args[0] === null ? undefined : args[0] === 0 ? 0 : durationMs(args[0], ".nack")), null)
    }
  }
})
