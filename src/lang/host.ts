/**
 * Host values: what the embedding application registers by name (a function, or an object whose
 * function members are methods and whose other members are fields) as language values. Data is
 * copied in (plain objects and arrays become maps and vectors; a JS function inside data is
 * refused), so only registered functions and methods can ever be called, through the `Callable`
 * they are wrapped in; arguments go out as plain data, converted node by node and charged. A call
 * that returns a Promise or an Effect is waited for, through the run's `hostWait` when it has one.
 */
import * as Effect from "effect/Effect"
import {
  type Callable, costs, type HostObject, hostObjectOf, isHostObject, Keyword, kindOf, List, type Meter, SetValue, type Value
} from "../reader/Value.ts"
import { LangError } from "./langError.ts"
import { isEffect, type RunState } from "./run.ts"

/** A function the embedding application registers by name: it may return a value, a Promise or an Effect. */
export type HostFunction = (...args: ReadonlyArray<unknown>) => unknown

/**
 * What the application may expose by name: a function, or an object whose function members are
 * methods (`(.send mailer ...)`) and whose other members are fields (`mailer.from`).
 */
export type HostValue = HostFunction | HostObject | { readonly [member: string]: unknown }

/**
 * Host arguments: keywords become their names, lists and sets arrays (converted node by node, each
 * charged: a list sharing structure pays per occurrence); maps and vectors are passed as they are.
 */
const toHost = (v: Value, meter: Meter): unknown => {
  if (v instanceof Keyword) return v.name
  if (v instanceof List || v instanceof SetValue) {
    const items = v instanceof List ? v.items : v.values()
    meter.charge(1 + items.length, items.length * costs.element)
    return items.map((x) => toHost(x, meter))
  }
  return v
}

export const hostFunction = (name: string, f: HostFunction): Callable => ({
  [kindOf]: "fn",
  name,
  invoke: (run, args) => {
    const meter = (run as RunState).budget
    const hostArgs = args.map((a) => toHost(a, meter))
    let out: unknown
    try {
      out = f(...hostArgs)
    } catch (e) {
      throw new LangError("host", `${name} failed: ${e instanceof Error ? e.message : String(e)}`)
    }
    const call = isEffect(out)
      ? Effect.mapError(out, (e) => new LangError("host", `${name} failed: ${e instanceof Error ? e.message : String(e)}`))
      : out instanceof Promise
      ? Effect.tryPromise({ try: () => out as Promise<unknown>, catch: (e) => new LangError("host", `${name} failed: ${e instanceof Error ? e.message : String(e)}`) })
      : undefined
    if (call === undefined) return out === undefined ? null : out
    // A run may bound how long it waits (a test's body, whose clock does not move while it waits).
    const wait = (run as RunState).services.hostWait
    return wait === undefined ? call : wait(name, call)
  }
})

/** A registered value the language cannot take (a function nested in a field, a cycle). */
export class HostValueError extends Error {}

const isPlainObject = (v: object): boolean => {
  const proto = Object.getPrototypeOf(v)
  return proto === null || proto === Object.prototype
}

/**
 * A field's value as language data: plain objects and arrays copied (maps without a prototype),
 * other objects (class instances) kept opaque. A function inside is refused: only a registered
 * function, or a registered object's own function members (its methods), may ever be called, so
 * no JS function can be reached as data and handed to the runtime (as a filter, say).
 */
const hostData = (v: unknown, path: string, seen: Set<object>): Value => {
  if (typeof v === "function") {
    throw new HostValueError(`${path} is a function inside a field; only a registered function or a registered object's own function members (its methods) can be called`)
  }
  if (v === undefined) return null
  if (typeof v !== "object" || v === null) return v as Value
  if (!Array.isArray(v) && !isPlainObject(v)) return v as Value
  if (seen.has(v)) throw new HostValueError(`${path} refers back to itself; registered data must not have cycles`)
  seen.add(v)
  try {
    if (Array.isArray(v)) return v.map((x, i) => hostData(x, `${path}[${i}]`, seen))
    const out: Record<string, Value> = Object.create(null)
    for (const [k, x] of Object.entries(v)) out[k] = hostData(x, `${path}.${k}`, seen)
    return out
  } finally {
    seen.delete(v)
  }
}

/** A plain object as a host object: its own function members are methods, the rest fields (as data). */
export const hostObject = (kind: string, members: { readonly [member: string]: unknown }): HostObject => {
  const fields: Record<string, Value> = Object.create(null)
  const methods: Record<string, Callable> = Object.create(null)
  for (const [name, member] of Object.entries(members)) {
    if (typeof member === "function") methods[name] = hostFunction(`.${name}`, member.bind(members) as HostFunction)
    else fields[name] = hostData(member, `${kind}.${name}`, new Set([members]))
  }
  return hostObjectOf(kind, fields, methods)
}

/** The language value of a registered name; throws `HostValueError` for a value it cannot take. */
export const hostEntry = (name: string, v: HostValue): Value =>
  typeof v === "function" ? hostFunction(name, v as HostFunction) : isHostObject(v) ? v : hostObject(name, v)

/**
 * Stand-ins for declared host names (`declare-host` in `sib check` and `sib test`, where no
 * application gives them): a stand-in is called as a function, and is also what `(.method name ...)`
 * calls, whatever the method. Each method is made by its stand-in's own function from the method's
 * name alone (a string it only prints): no object's members are looked up, so no prototype is
 * reachable through it.
 */
const standIns = new WeakMap<Callable, (method: string) => Callable>()

/** Makes `standIn` answer every method call through `method`. */
export const standInWithMethods = (standIn: Callable, method: (name: string) => Callable): Callable => {
  standIns.set(standIn, method)
  return standIn
}

/** The method of a stand-in (see `standInWithMethods`), or undefined when `v` is not one. */
export const standInMethod = (v: unknown, name: string): Callable | undefined => {
  const method = typeof v === "object" && v !== null ? standIns.get(v as Callable) : undefined
  return method?.(name)
}
