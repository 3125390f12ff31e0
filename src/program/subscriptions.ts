/**
 * Subscribing: `subscribe!` (and the bus object's `.subscribe`) registers a durable consumer group,
 * its handler checked by arity, its options by the runtime's spec and its `:filter` made a
 * synchronous predicate run with a budget of its own; `watch!` registers a live subscription with
 * no group. Both belong at the top level and start with the program (start.ts runs them).
 */
import type { Span } from "../diagnostics/Span.ts"
import { type Callable, isCallable, Keyword, List, typeName, type Value } from "../reader/Value.ts"
import { SubscribeError as SubscribeErrorClass } from "../runtime/busErrors.ts"
import { resolveOptions, subscribeOptionNames } from "../runtime/subscribeOptions.ts"
import type { SubscribeOptions } from "../runtime/subscribeOptions.ts"
import type { Event } from "../store/records.ts"
import { checkAll } from "../options/spec.ts"
import { subscribeSpec } from "../options/subscribeSpec.ts"
import { builtin, builtinOf, callValue } from "../lang/builtins.ts"
import { Closure } from "../lang/Closure.ts"
import { toJson } from "../lang/jsonValues.ts"
import { seqOf } from "../lang/operands.ts"
import type { FilterServices } from "./Program.ts"
import { collecting, failOn, literalProblems, optionErrors, optionFailure } from "./callErrors.ts"
import { arityProblem, isBus, optionsOf, services, topicName, topLevel } from "./domainOperands.ts"
import { fail, failAll, LangError, type CallPart } from "../lang/langError.ts"
import { isEffect, makeRun, type RunState } from "../lang/run.ts"

// ---- subscribe! -------------------------------------------------------------------------------

/**
 * How many arguments a handler is called with: the event alone for a function of the language
 * with one fixed parameter or none (and no `&`), else the event and its delivery context (as
 * `start.ts` calls it).
 */
const handlerArguments = (h: Callable): 1 | 2 =>
  h instanceof Closure && h.params.fixed < 2 && h.params.rest === undefined && h.params.keywords === undefined ? 1 : 2

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

export const doSubscribe = (run: RunState, span: Span, topics: Value, group: Value, handler: Value, options: Record<string, Value>, fn: string): unknown => {
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

export const subscribe = builtin({
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

// ---- watch! -----------------------------------------------------------------------------------

export const watch = builtin({
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
