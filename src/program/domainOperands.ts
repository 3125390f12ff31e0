/**
 * What the domain forms share: the services they find in a run (`DomainServices`), the modes they
 * run in, and how they read their arguments: a topic (by name or descriptor), options (`:name
 * value` pairs or one map), a duration, whether an argument is the `bus`, and whether a function
 * can be called with so many arguments. The forms live in domain.ts, topics.ts, publishing.ts,
 * subscriptions.ts and timers.ts; how they report problems is callErrors.ts's.
 */
import { type Callable, isHostObject, isMap, Keyword, List, mapKey, print, typeName, type Value } from "../reader/Value.ts"
import type { BusShape } from "../runtime/Bus.ts"
import type { DeliveryContext } from "../runtime/ConsumerGroup.ts"
import { topicNameProblem } from "../runtime/Topic.ts"
import type { Event } from "../store/records.ts"
import { durationValue } from "../options/spec.ts"
import { builtinOf } from "../lang/builtins.ts"
import { Closure } from "../lang/Closure.ts"
import { seqOf } from "../lang/operands.ts"
import type { ProgramBuilder } from "./Program.ts"
import { fail } from "../lang/langError.ts"
import { type RunState, step } from "../lang/run.ts"

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

export const services = (run: RunState) => run.services as DomainServices

export const topLevel = ["load"] as const

export const running = ["handler", "timer", "test"] as const

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
export const optionsOf = (extra: ReadonlyArray<Value>, fn: string, run: RunState): Record<string, Value> => {
  if (extra.length === 0) return Object.create(null)
  if (extra.length === 1) {
    if (extra[0] === null) return Object.create(null)
    if (isMap(extra[0])) {
      const keys = Object.keys(extra[0])
      // Copying the map walks all of it: paid for, as any copy is.
      step(run, keys.length)
      const out: Record<string, Value> = Object.create(null)
      for (const k of keys) out[k] = extra[0][k]!
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

export const durationMs = (v: Value, fn: string): number => {
  const ms = durationValue(v)
  if (ms !== undefined) return ms
  return fail("duration", `${fn}: ${print(v)} is not a duration`, ["write it as milliseconds (500) or as \"500ms\", \"5s\", \"2m\", \"1h\", \"1d\""])
}

/** How to write a keyword or number as the string expected, if it is one. */
export const asString = (v: Value): Array<string> =>
  v instanceof Keyword || typeof v === "number" ? [`write it as a string: ${JSON.stringify(mapKey(v))}`] : []

export const isBus = (v: Value | undefined): boolean => isHostObject(v) && v.kind === "bus"

/**
 * Why `f` cannot be called with `n` arguments, in words such as "fn takes [a b]", or undefined: a
 * function of the language by its parameters (keyword parameters take only `:name value` pairs
 * or one map after the fixed ones, so they fit only when no argument is left over for them), a
 * built-in by its arity. A host function does not say what it takes: it is taken as it is.
 */
export const arityProblem = (f: Callable, n: number): string | undefined => {
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
