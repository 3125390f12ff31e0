/**
 * Language values: what `.sib` code computes with, and what quoted code is as data (macros take and
 * return values). JSON stays JSON: maps are plain objects with string keys (a keyword key `:pid`
 * reads and writes the key "pid"), vectors are arrays, strings, numbers, booleans and nil are the
 * JavaScript ones, so event payloads and records are values as they are. Lists, keywords,
 * symbols, sets and functions are small classes. Code values remember their spans (symbols and
 * lists directly, vectors and maps in a side table), so macro output can keep source locations.
 *
 * Also here: structural equality, printing, and the conversions between Syntax and values.
 */
import type { Span } from "../diagnostics/Span.ts"
import * as S from "./Syntax.ts"

export class Keyword {
  readonly name: string
  private constructor(name: string) {
    this.name = name
  }
  private static readonly interned = new Map<string, Keyword>()
  static of(name: string): Keyword {
    let k = Keyword.interned.get(name)
    if (k === undefined) Keyword.interned.set(name, (k = new Keyword(name)))
    return k
  }
  toString() {
    return `:${this.name}`
  }
}

export class Sym {
  readonly name: string
  readonly span: Span | undefined
  constructor(name: string, span?: Span) {
    this.name = name
    this.span = span
  }
  toString() {
    return this.name
  }
}

/** A list (code, or data made by `list`); immutable. */
export class List {
  readonly items: ReadonlyArray<Value>
  readonly span: Span | undefined
  constructor(items: ReadonlyArray<Value>, span?: Span) {
    this.items = items
    this.span = span
  }
}

/** A set; members compared by `=` (structural), stored by their printed key. */
export class SetValue {
  readonly members: ReadonlyMap<string, Value>
  constructor(members: Iterable<Value>) {
    const m = new Map<string, Value>()
    for (const v of members) m.set(keyOf(v), v)
    this.members = m
  }
  has(v: Value): boolean {
    return this.members.has(keyOf(v))
  }
  values(): Array<Value> {
    return [...this.members.values()]
  }
}

/**
 * What marks the language's functions and host objects: a symbol, which no data (a `.sib` map, a
 * parsed JSON payload) can carry, so data can never pose as a function or a host object.
 */
export const kindOf: unique symbol = Symbol("sibus.kind")

/** A callable value: a `.sib` function or a host function. */
export interface Callable {
  readonly [kindOf]: "fn"
  readonly name: string
  /** Invoked by the interpreter; see compile/runtime.ts. */
  readonly invoke: (run: unknown, args: ReadonlyArray<Value>, span: Span) => unknown
}

export const callable = (name: string, invoke: Callable["invoke"]): Callable => ({ [kindOf]: "fn", name, invoke })

export const isCallable = (v: unknown): v is Callable =>
  typeof v === "object" && v !== null && (v as { [kindOf]?: unknown })[kindOf] === "fn"

/** An object the embedding app exposes (`bus`, a delivery context): methods and fields by name. */
export interface HostObject {
  readonly [kindOf]: "host"
  readonly kind: string
  readonly fields: Readonly<Record<string, Value>>
  readonly methods: Readonly<Record<string, Callable>>
}

export const hostObjectOf = (kind: string, fields: HostObject["fields"], methods: HostObject["methods"]): HostObject =>
  ({ [kindOf]: "host", kind, fields, methods })

export const isHostObject = (v: unknown): v is HostObject =>
  typeof v === "object" && v !== null && (v as { [kindOf]?: unknown })[kindOf] === "host"

export type MapValue = { readonly [key: string]: Value }

export type Value =
  | null
  | boolean
  | number
  | string
  | Keyword
  | Sym
  | List
  | ReadonlyArray<Value>
  | MapValue
  | SetValue
  | Callable
  | HostObject

const spans = new WeakMap<object, Span>()

export const spanOfValue = (v: Value): Span | undefined =>
  v instanceof Sym || v instanceof List ? v.span : typeof v === "object" && v !== null ? spans.get(v) : undefined

export const withSpan = <V extends object>(v: V, span: Span): V => {
  spans.set(v, span)
  return v
}

/** A map from entries; keys are strings (keywords by their name). Null prototype: no pollution. */
export const makeMap = (entries: Iterable<readonly [string, Value]>): MapValue => {
  const out: Record<string, Value> = Object.create(null)
  for (const [k, v] of entries) out[k] = v
  return out
}

export const isMap = (v: unknown): v is MapValue => {
  if (typeof v !== "object" || v === null || Array.isArray(v) || kindOf in v) return false
  const proto = Object.getPrototypeOf(v)
  return proto === null || proto === Object.prototype
}

export const isVector = (v: unknown): v is ReadonlyArray<Value> => Array.isArray(v)

/** The string key a value stands for in a map (keywords and strings by name; others printed). */
export const mapKey = (v: Value): string | undefined =>
  typeof v === "string" ? v : v instanceof Keyword ? v.name : typeof v === "number" ? String(v) : undefined

/** A canonical key for set membership and structural hashing. */
export const keyOf = (v: Value): string => {
  if (v === null) return "nil"
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false"
    case "number":
      return `n${v}`
    case "string":
      return `s${JSON.stringify(v)}`
  }
  if (v instanceof Keyword) return `k${v.name}`
  if (v instanceof Sym) return `y${v.name}`
  if (v instanceof List) return `l(${v.items.map(keyOf).join(",")})`
  if (Array.isArray(v)) return `v[${v.map(keyOf).join(",")}]`
  if (v instanceof SetValue) return `#{${[...v.members.keys()].sort().join(",")}}`
  if (isMap(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${keyOf(v[k]!)}`).join(",")}}`
  return `o${String((v as { name?: string }).name ?? "?")}`
}

/** Structural equality (`=`): lists and vectors with equal items are equal, as in Clojure. */
export const equals = (a: Value, b: Value): boolean => {
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  const seqA = a instanceof List ? a.items : Array.isArray(a) ? a : undefined
  const seqB = b instanceof List ? b.items : Array.isArray(b) ? b : undefined
  if (seqA !== undefined || seqB !== undefined) {
    if (seqA === undefined || seqB === undefined || seqA.length !== seqB.length) return false
    for (let i = 0; i < seqA.length; i++) if (!equals(seqA[i]!, seqB[i]!)) return false
    return true
  }
  if (a instanceof SetValue || b instanceof SetValue) {
    if (!(a instanceof SetValue && b instanceof SetValue) || a.members.size !== b.members.size) return false
    for (const k of a.members.keys()) if (!b.members.has(k)) return false
    return true
  }
  if (a instanceof Sym || b instanceof Sym) return a instanceof Sym && b instanceof Sym && a.name === b.name
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a)
    if (ka.length !== Object.keys(b).length) return false
    for (const k of ka) if (!Object.hasOwn(b, k) || !equals(a[k]!, b[k]!)) return false
    return true
  }
  return false
}

/** Truthiness: only nil and false are false. */
export const truthy = (v: Value): boolean => v !== null && v !== false && v !== undefined

/** Printing, readable back where possible (`pr-str`); strings unquoted with `display`. */
export const print = (v: Value, display = false, depth = 0): string => {
  if (depth > 64) return "..."
  if (v === null || v === undefined) return "nil"
  switch (typeof v) {
    case "boolean":
      return String(v)
    case "number":
      return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? "##NaN" : v > 0 ? "##Inf" : "##-Inf"
    case "string":
      return display ? v : JSON.stringify(v)
  }
  if (v instanceof Keyword) return `:${v.name}`
  if (v instanceof Sym) return v.name
  if (v instanceof List) return `(${v.items.map((x) => print(x, false, depth + 1)).join(" ")})`
  if (Array.isArray(v)) return `[${v.map((x) => print(x, false, depth + 1)).join(" ")}]`
  if (v instanceof SetValue) return `#{${v.values().map((x) => print(x, false, depth + 1)).join(" ")}}`
  if (isCallable(v)) return `#<fn ${v.name}>`
  if (isHostObject(v)) return `#<${v.kind}>`
  if (isMap(v)) {
    return `{${Object.keys(v).map((k) => `${/^[A-Za-z_*+!?<>=/.-][\w*+!?<>=/.-]*$/.test(k) ? `:${k}` : JSON.stringify(k)} ${print(v[k]!, false, depth + 1)}`).join(" ")}}`
  }
  return `#<${typeof v}>`
}

/** A type name for messages ("a map", "a string"). */
export const typeName = (v: Value): string => {
  if (v === null || v === undefined) return "nil"
  switch (typeof v) {
    case "boolean":
      return "a boolean"
    case "number":
      return "a number"
    case "string":
      return "a string"
  }
  if (v instanceof Keyword) return "a keyword"
  if (v instanceof Sym) return "a symbol"
  if (v instanceof List) return "a list"
  if (Array.isArray(v)) return "a vector"
  if (v instanceof SetValue) return "a set"
  if (isCallable(v)) return "a function"
  if (isHostObject(v)) return `a ${v.kind}`
  if (isMap(v)) return "a map"
  return "a host value"
}

/** Quoting: the value a piece of code stands for as data (symbols and lists keep their spans). */
export const syntaxToValue = (s: S.Syntax): Value => {
  switch (s.kind) {
    case "list":
      return new List(s.items.map(syntaxToValue), s.span)
    case "vector":
      return withSpan(s.items.map(syntaxToValue), s.span)
    case "map": {
      const out: Record<string, Value> = Object.create(null)
      for (let i = 0; i + 1 < s.items.length; i += 2) {
        const k = syntaxToValue(s.items[i]!)
        out[mapKey(k) ?? print(k)] = syntaxToValue(s.items[i + 1]!)
      }
      return withSpan(out, s.span)
    }
    case "set":
      return withSpan(new SetValue(s.items.map(syntaxToValue)), s.span)
    case "symbol":
      return new Sym(s.name, s.span)
    case "keyword":
      return Keyword.of(s.name)
    case "string":
    case "number":
    case "boolean":
      return s.value
    case "nil":
      return null
  }
}

/**
 * Back from data to code (macro output). Nodes take their own span when they have one, else the
 * macro call site's: a user never sees a location inside a macro's expansion that points nowhere.
 */
export const valueToSyntax = (v: Value, site: Span): S.Syntax | string => {
  const at = spanOfValue(v) ?? site
  if (v === null || v === undefined) return S.nil(at)
  switch (typeof v) {
    case "boolean":
      return S.boolean(v, at)
    case "number":
      return S.number(v, at)
    case "string":
      return S.string(v, at)
  }
  const many = (items: ReadonlyArray<Value>): Array<S.Syntax> | string => {
    const out: Array<S.Syntax> = []
    for (const item of items) {
      const s = valueToSyntax(item, at)
      if (typeof s === "string") return s
      out.push(s)
    }
    return out
  }
  if (v instanceof Keyword) return S.keyword(v.name, at)
  if (v instanceof Sym) return S.symbol(v.name, at)
  if (v instanceof List) {
    const items = many(v.items)
    return typeof items === "string" ? items : S.list(items, at)
  }
  if (Array.isArray(v)) {
    const items = many(v)
    return typeof items === "string" ? items : S.vector(items, at)
  }
  if (v instanceof SetValue) {
    const items = many(v.values())
    return typeof items === "string" ? items : S.set(items, at)
  }
  if (isMap(v)) {
    const flat: Array<Value> = []
    for (const k of Object.keys(v)) flat.push(Keyword.of(k), v[k]!)
    const items = many(flat)
    return typeof items === "string" ? items : S.map(items, at)
  }
  return `${typeName(v)} cannot appear in code`
}
