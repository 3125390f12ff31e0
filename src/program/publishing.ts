/**
 * Publishing: `publish!` (and the bus object's `.publish`). At the top level it registers an
 * initial publish, checked now as the bus will check it at start; inside a handler the event is
 * caused by the one being handled and written with its acknowledgement; elsewhere it publishes on
 * the bus. Options are read and checked in `.sib`'s words before the runtime's own check.
 */
import * as Effect from "effect/Effect"
import type { Span } from "../diagnostics/Span.ts"
import { isMap, Keyword, List, mapKey, typeName, type Value } from "../reader/Value.ts"
import { PublishError } from "../runtime/busErrors.ts"
import { prepare, type PublishOptions } from "../runtime/publish.ts"
import { makeTopic } from "../runtime/Topic.ts"
import { didYouMean } from "../diagnostics/suggest.ts"
import { publishOptionNames } from "../options/publishSpec.ts"
import { builtin } from "../lang/builtins.ts"
import { toJson } from "../lang/jsonValues.ts"
import { keywordName } from "./callErrors.ts"
import { asString, isBus, optionsOf, services, topicName } from "./domainOperands.ts"
import { publishDelay } from "./publishRate.ts"
import { fail, failAll, LangError } from "../lang/langError.ts"
import { type RunState, step } from "../lang/run.ts"

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
      fail("options", `${fn}: unknown option ${keywordName(k)}`, [
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

/**
 * Steps a publish costs beside its payload: writing an event and delivering it take far more work
 * than a call (tens of microseconds against tenths of one), so a program that publishes in a loop
 * (a group or a watch feeding its own topic) reaches its budget after a bounded amount of real work.
 */
export const publishSteps = 100

/** Publishes now (run modes) or registers an initial publish (load mode). */
export const doPublish = (run: RunState, span: Span, topicArg: Value, payloadArg: Value, options: Record<string, Value>, fn: string): unknown => {
  const topic = topicName(topicArg, fn)
  step(run, publishSteps)
  // Converting the payload charges its nodes and text: what a run buffers for publishing counts in
  // its memory budget, so no run can pile up publishes past it.
  const bytesBefore = run.budget.bytes
  const payload = toJson(payloadArg, `${fn} payload`, run.budget)
  const opts = publishOptions(options, fn, run)
  // The event's bytes as its run's memory counts them: the payload and its headers, tags and causes.
  const bytes = run.budget.bytes - bytesBefore
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
  // Programs publish at most publishBytesPerSecond together (after a burst): past it, a publish
  // waits. A test's runs (its body, and the runs that carry its expectations) are bounded by the
  // test's own budgets (and run on its clock, which only the test moves).
  const inTest = run.mode === "test" || run.services["expectations"] !== undefined
  const wait = inTest ? 0 : publishDelay(bytes, run.clock)
  const paced = wait === 0 ? effect : Effect.andThen(Effect.sleep(wait), effect)
  return Effect.map(paced, (e) => e as unknown as Value)
}

export const publish = builtin({
  name: "publish!", group: "domain", arglists: ["[topic payload & options]", "[bus topic payload & options]"],
  doc: "Publishes an event. Options (:name value pairs or one map): :key, :headers, :tags, :id, :causedBy. At the top level the event is published when the program starts, in one batch with the program's other top-level publishes, and the form's value is nil (the event does not exist yet while the program loads). Inside a handler it is caused by the handled event and written in the transaction that acknowledges it: if the handler fails it is never written, and the returned event has no :seq yet. On a compacted topic it needs a :key, and a nil payload is a tombstone. Programs share a pace of 8 MiB of payload a second (64 MiB at once, estimated as a run's memory counts it; tests excepted): past it a publish waits.",
  example: "(publish! \"heartbeat.received\" {:pid 42 :name \"stt\"} :key \"42\")",
  options: { from: 2, names: publishOptionNames },
  impl: (args, run, span) => {
    const rest = isBus(args[0]) ? args.slice(1) : args
    if (rest.length < 2) fail("arity", "publish! needs a topic and a payload", ["(publish! topic payload :key k)"])
    return doPublish(run, span, rest[0]!, rest[1]!, optionsOf(rest.slice(2), "publish!", run), "publish!")
  }
})
