/**
 * Language values: what `.sib` code computes with, and what quoted code is as data (macros take and
 * return values). JSON stays JSON: maps are plain objects with string keys (a keyword key `:pid`
 * reads and writes the key "pid"), vectors are arrays, strings, numbers, booleans and nil are the
 * JavaScript ones, so event payloads and records are values as they are. Lists, keywords,
 * symbols, sets and functions are small classes. Code values remember their spans (symbols and
 * lists directly, vectors and maps in a side table), so macro output can keep source locations.
 *
 * Also here: hashing and structural equality, printing, and the conversions between Syntax and
 * values; every walk over a value is paid for through a `Meter`.
 */
import type { Span } from "../diagnostics/Span.ts"
import * as S from "./Syntax.ts"

/**
 * Keywords of the program's text are interned (one object per name) while something holds them:
 * the table keeps weak references. Keywords built from data (`(keyword e.payload.x)`) are not
 * added to it (`Keyword.fromData`): they are plain objects freed with the values holding them, so
 * no stream of distinct names can grow a table. Equality and hashing compare keywords by name.
 */
export class Keyword {
  readonly name: string
  private constructor(name: string) {
    this.name = name
  }
  private static readonly interned = new Map<string, WeakRef<Keyword>>()
  private static readonly collected = new FinalizationRegistry<string>((name) => {
    const ref = Keyword.interned.get(name)
    if (ref !== undefined && ref.deref() === undefined) Keyword.interned.delete(name)
  })
  /** The interned keyword of this name if there is one, else a keyword of its own (not interned). */
  static fromData(name: string): Keyword {
    return Keyword.interned.get(name)?.deref() ?? new Keyword(name)
  }
  static of(name: string): Keyword {
    const known = Keyword.interned.get(name)?.deref()
    if (known !== undefined) return known
    const k = new Keyword(name)
    Keyword.interned.set(name, new WeakRef(k))
    Keyword.collected.register(k, name)
    return k
  }
  /** How many names the intern table holds (for tests of the table's release). */
  static internedCount(): number {
    return Keyword.interned.size
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

/**
 * A set; members compared by `=` (structural), found through `hashOf` buckets, so membership
 * costs one hash and an equality check whatever the member's size once its hash is cached.
 * Immutable: `with` returns a new set.
 */
export class SetValue {
  private readonly buckets: Map<number, Array<Value>>
  private readonly order: Array<Value>
  constructor(members: Iterable<Value>, meter: Meter) {
    this.buckets = new Map()
    this.order = []
    meter.charge(0, costs.set)
    for (const v of members) this.add(v, meter)
  }
  private add(v: Value, meter: Meter): void {
    const h = hashOf(v, meter)
    const bucket = this.buckets.get(h)
    if (bucket === undefined) {
      this.buckets.set(h, [v])
    } else {
      // Each member compared is paid for: colliding members cost what scanning them costs.
      meter.charge(bucket.length, 0)
      for (const x of bucket) if (equals(x, v, meter)) return
      bucket.push(v)
    }
    meter.charge(0, costs.setMember)
    this.order.push(v)
  }
  /** A new set with the members of this one and `more`. */
  with(more: Iterable<Value>, meter: Meter): SetValue {
    // (The caller pays for the copy, as for any collection it builds.)
    const out = new SetValue([], meter)
    meter.charge(0, this.order.length * costs.setMember)
    for (const [h, bucket] of this.buckets) out.buckets.set(h, [...bucket])
    out.order.push(...this.order)
    for (const v of more) out.add(v, meter)
    return out
  }
  get size(): number {
    return this.order.length
  }
  has(v: Value, meter: Meter): boolean {
    const bucket = this.buckets.get(hashOf(v, meter))
    if (bucket === undefined) return false
    meter.charge(bucket.length, 0)
    for (const x of bucket) if (equals(x, v, meter)) return true
    return false
  }
  /** The members in insertion order (not a copy: do not change it). */
  values(): ReadonlyArray<Value> {
    return this.order
  }
}

/**
 * Pays for work on values: `charge(nodes, bytes)` counts the nodes a walk visits and the bytes it
 * builds against a run's budget, and throws (a language error) once the run is over it. Every
 * walk over a value takes one, so no value, however it shares structure, is walked for free.
 */
export interface Meter {
  readonly charge: (nodes: number, bytes: number) => void
}

/** For walks over values that are bounded already (source syntax, a diagnostic's excerpt). */
export const unmetered: Meter = { charge: () => {} }

/** What values are estimated to cost in memory (bytes), for allocation budgets. */
export const costs = {
  /** A collection slot (a vector element, a map entry's value). */
  element: 16,
  /** A map entry's key, besides its characters. */
  entry: 32,
  /** One character of a string (V8 stores some strings with two bytes per character). */
  char: 2,
  /** An object of its own: a keyword, a list, a set, a closure's frame. */
  object: 32,
  /**
   * A map itself, besides its entries: maps are null-prototype objects, which V8 keeps as hash
   * tables (measured: 193 bytes for a map of up to two entries, 48 more per entry after).
   */
  map: 160,
  /** A set itself (its hash table and order), besides its members (measured: 265 bytes empty). */
  set: 256,
  /** A set's member: its slot in the hash table, its bucket and its place in the order (measured: ~80-200 bytes). */
  setMember: 96
} as const

/**
 * What marks the language's functions and host objects: a symbol, which no data (a `.sib` map, a
 * parsed JSON payload) can carry, so data can never pose as a function or a host object.
 */
export const kindOf: unique symbol = Symbol("sibus.kind")

/** A callable value: a `.sib` function or a host function. */
export interface Callable {
  readonly [kindOf]: "fn"
  readonly name: string
  /** Invoked by the interpreter (`callValue`, lang/builtins.ts); `run` is its run state (lang/run.ts). */
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

const spanOfValue = (v: Value): Span | undefined =>
  v instanceof Sym || v instanceof List ? v.span : typeof v === "object" && v !== null ? spans.get(v) : undefined

const withSpan = <V extends object>(v: V, span: Span): V => {
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

/** The string key a value stands for in a map (keywords and strings by name; others printed). */
export const mapKey = (v: Value): string | undefined =>
  typeof v === "string" ? v : v instanceof Keyword ? v.name : typeof v === "number" ? String(v) : undefined

// ---- hashing and equality ---------------------------------------------------------------------

const mix = (h: number, x: number): number => Math.imul((h ^ x) >>> 0, 0x5bd1e995) ^ (h >>> 15)

/** A string's hash over all of it (a hash of part of it lets crafted strings collide at will). */
const stringHash = (s: string): number => {
  let h = 0x811c9dc5 ^ s.length
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619)
  return h >>> 0
}

const numberHash = (n: number): number => (Number.isInteger(n) && Math.abs(n) < 2 ** 31 ? mix(0x1b873593, n | 0) : stringHash(String(n)))

/** Hashes of immutable values, computed once per object: a walk over shared structure costs its distinct nodes. */
const hashes = new WeakMap<object, number>()
let identities = 0

/**
 * A structural hash consistent with `equals` (equal values hash alike: a list and a vector with
 * the same items too; maps and sets regardless of order). Objects cache theirs, so hashing a value
 * visits each distinct node once. Charges the nodes it computes.
 */
const hashOf = (v: Value, meter: Meter): number => {
  if (v === null || v === undefined) return 0x2f0b3c1
  switch (typeof v) {
    case "boolean":
      return v ? 0x4f1bbcdd : 0x27d4eb2f
    case "number":
      return numberHash(v)
    case "string":
      // Strings cannot be cached; hashing one is paid by its length.
      if (v.length > 64) meter.charge(v.length >> 6, 0)
      return stringHash(v)
  }
  const known = hashes.get(v)
  if (known !== undefined) return known
  let h: number
  if (v instanceof Keyword || v instanceof Sym) {
    // Once per keyword (the hash is cached), paid by its name's length as a string's is.
    if (v.name.length > 64) meter.charge(v.name.length >> 6, 0)
    h = mix(v instanceof Keyword ? 0x3c6ef372 : 0x1f83d9ab, stringHash(v.name))
  } else if (v instanceof List || Array.isArray(v)) {
    const items = v instanceof List ? v.items : (v as ReadonlyArray<Value>)
    meter.charge(1 + items.length, 0)
    h = 0x6a09e667 ^ items.length
    for (const x of items) h = mix(h, hashOf(x, meter))
  } else if (v instanceof SetValue) {
    meter.charge(1 + v.size, 0)
    h = 0x510e527f
    for (const x of v.values()) h = (h + hashOf(x, meter)) | 0
  } else if (isMap(v)) {
    const keys = Object.keys(v)
    meter.charge(1 + keys.length, keys.length * costs.element)
    h = 0x9b05688c
    for (const k of keys) {
      // A key is hashed over all of it, paid by its length as a string is.
      if (k.length > 64) meter.charge(k.length >> 6, 0)
      h = (h + mix(stringHash(k), hashOf(v[k]!, meter))) | 0
    }
  } else {
    // Functions and host objects are equal only to themselves.
    h = mix(0x5be0cd19, ++identities)
  }
  hashes.set(v, h)
  return h
}

/**
 * Structural equality (`=`): lists and vectors with equal items are equal, as in Clojure. Pairs of
 * objects found equal are remembered for the rest of the comparison, so values that share
 * structure compare in time linear in their distinct nodes; cached hashes that differ answer at
 * once. Charges the nodes it compares (and long strings by their length).
 */
export const equals = (a: Value, b: Value, meter: Meter): boolean => {
  if (typeof a === "string" && typeof b === "string" && a.length === b.length && a.length > 64) meter.charge(a.length >> 6, 0)
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  return deepEquals(a, b, meter, new Map())
}

const deepEquals = (a: Value, b: Value, meter: Meter, proven: Map<object, Array<object>>): boolean => {
  if (typeof a === "string" && typeof b === "string" && a.length === b.length && a.length > 64) meter.charge(a.length >> 6, 0)
  if (a === b) return true
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false
  const ha = hashes.get(a)
  const hb = hashes.get(b)
  if (ha !== undefined && hb !== undefined && ha !== hb) return false
  const partners = proven.get(a)
  if (partners !== undefined && partners.includes(b)) return true
  meter.charge(1, 0)
  const same = compareNodes(a, b, meter, proven)
  if (same) {
    if (partners === undefined) proven.set(a, [b])
    else partners.push(b)
  }
  return same
}

const sameName = (a: string, b: string, meter: Meter): boolean => {
  if (a.length === b.length && a.length > 64) meter.charge(a.length >> 6, 0)
  return a === b
}

const compareNodes = (a: object, b: object, meter: Meter, proven: Map<object, Array<object>>): boolean => {
  const seqA = a instanceof List ? a.items : Array.isArray(a) ? (a as ReadonlyArray<Value>) : undefined
  const seqB = b instanceof List ? b.items : Array.isArray(b) ? (b as ReadonlyArray<Value>) : undefined
  if (seqA !== undefined || seqB !== undefined) {
    if (seqA === undefined || seqB === undefined || seqA.length !== seqB.length) return false
    meter.charge(seqA.length, 0)
    for (let i = 0; i < seqA.length; i++) if (!deepEquals(seqA[i]!, seqB[i]!, meter, proven)) return false
    return true
  }
  if (a instanceof SetValue || b instanceof SetValue) {
    if (!(a instanceof SetValue && b instanceof SetValue) || a.size !== b.size) return false
    meter.charge(a.size, 0)
    for (const x of a.values()) if (!b.has(x, meter)) return false
    return true
  }
  // Names are compared over all of their text (keywords made from data can be long): paid as strings are.
  if (a instanceof Sym || b instanceof Sym) return a instanceof Sym && b instanceof Sym && sameName(a.name, b.name, meter)
  if (a instanceof Keyword || b instanceof Keyword) return a instanceof Keyword && b instanceof Keyword && sameName(a.name, b.name, meter)
  if (isMap(a) && isMap(b)) {
    const ka = Object.keys(a)
    meter.charge(ka.length, ka.length * costs.element)
    if (ka.length !== Object.keys(b).length) return false
    for (const k of ka) if (!Object.hasOwn(b, k) || !deepEquals(a[k]!, b[k]!, meter, proven)) return false
    return true
  }
  return false
}

/** Truthiness: only nil and false are false. */
export const truthy = (v: Value): boolean => v !== null && v !== false && v !== undefined

export interface PrintOptions {
  /** Charged a node per value printed and the bytes of the text (default: nothing). */
  readonly meter?: Meter | undefined
  /** Longest text: past it, `onLong` decides (default 2,000 characters, then "..."). */
  readonly maxChars?: number | undefined
  /** What happens past `maxChars`: "truncate" (default) ends the text with "...", "fail" calls `tooLong`. */
  readonly tooLong?: (() => never) | undefined
  /**
   * What happens to a value nested deeper than `maxPrintDepth`: by default it prints as "...";
   * this fails instead (text a program computes with must not make two values print alike).
   */
  readonly tooDeep?: (() => never) | undefined
}

/** How deeply printed values nest (as JSON's limit): deeper ones print as "..." or fail (`tooDeep`). */
export const maxPrintDepth = 512

/** Thrown inside `print` to stop at `maxChars`. */
class TextFull {}

const symbolLike = /^[A-Za-z_*+!?<>=/.-][\w*+!?<>=/.-]*$/

/**
 * Printing, readable back where possible (`pr-str`); strings unquoted with `display`. Bounded: the
 * text stops at `maxChars` (a message quoting a value never grows with it), and with a meter every
 * value printed is charged, so printing shared structure costs what the text costs.
 */
/**
 * A number as the reader reads it back: an integer beyond 2^53 - 1 (not exact, so not readable as
 * an integer literal) is written with its exponent, `1.2345678901234567e+19`, the same double.
 */
const numberText = (x: number): string =>
  Number.isInteger(x) && !Number.isSafeInteger(x) && Math.abs(x) < 1e21 ? x.toExponential() : String(x)

export const print = (v: Value, display = false, options: PrintOptions = {}): string => {
  const meter = options.meter ?? unmetered
  const max = options.maxChars ?? 2000
  const parts: Array<string> = []
  let length = 0
  const emit = (text: string) => {
    length += text.length
    if (length > max) {
      if (options.tooLong !== undefined) options.tooLong()
      parts.push(text.slice(0, Math.max(0, text.length - (length - max))))
      throw new TextFull()
    }
    meter.charge(text.length >> 4, text.length * costs.char)
    parts.push(text)
  }
  /**
   * A string in quotes, escaped: only the part that can still show is escaped (an escaped
   * character is never shorter than itself, so what is cut off could not have shown), and the
   * work of escaping it is charged.
   */
  const emitQuoted = (s: string) => {
    const kept = s.length > max - length + 2 ? s.slice(0, max - length + 2) : s
    meter.charge(kept.length >> 4, 0)
    emit(JSON.stringify(kept))
  }
  const each = (items: ReadonlyArray<Value>, depth: number) => {
    for (let i = 0; i < items.length; i++) {
      if (i > 0) emit(" ")
      write(items[i]!, false, depth + 1)
    }
  }
  const write = (x: Value, top: boolean, depth: number): void => {
    meter.charge(1, 0)
    if (depth > maxPrintDepth) return options.tooDeep === undefined ? emit("...") : options.tooDeep()
    if (x === null || x === undefined) return emit("nil")
    switch (typeof x) {
      case "boolean":
        return emit(String(x))
      case "number":
        return emit(Number.isFinite(x) ? numberText(x) : Number.isNaN(x) ? "##NaN" : x > 0 ? "##Inf" : "##-Inf")
      case "string":
        return top && display ? emit(x) : emitQuoted(x)
    }
    if (x instanceof Keyword) return emit(`:${x.name}`)
    if (x instanceof Sym) return emit(x.name)
    if (x instanceof List) {
      emit("(")
      each(x.items, depth)
      return emit(")")
    }
    if (Array.isArray(x)) {
      emit("[")
      each(x, depth)
      return emit("]")
    }
    if (x instanceof SetValue) {
      emit("#{")
      each(x.values(), depth)
      return emit("}")
    }
    if (isCallable(x)) return emit(`#<fn ${x.name}>`)
    if (isHostObject(x)) return emit(`#<${x.kind}>`)
    if (isMap(x)) {
      emit("{")
      let first = true
      for (const k of Object.keys(x)) {
        if (!first) emit(" ")
        first = false
        meter.charge(k.length >> 4, 0)
        if (k.length <= max - length && symbolLike.test(k)) emit(`:${k}`)
        else emitQuoted(k)
        emit(" ")
        write(x[k]!, false, depth + 1)
      }
      return emit("}")
    }
    return emit(`#<${typeof x}>`)
  }
  try {
    write(v, true, 0)
  } catch (e) {
    if (!(e instanceof TextFull)) throw e
    parts.push("...")
  }
  return parts.join("")
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
      return withSpan(new SetValue(s.items.map(syntaxToValue), unmetered), s.span)
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

/** How many forms a conversion back to code may still produce; shared by every expansion of a load. */
export interface FormBudget {
  left: number
}

/**
 * Back from data to code (macro output). Nodes take their own span when they have one, else the
 * macro call site's: a user never sees a location inside a macro's expansion that points nowhere.
 * Each form produced is taken from `budget`, so output that shares structure (a value whose tree
 * is exponentially larger than its objects) stops at the budget instead of being built.
 */
export const valueToSyntax = (v: Value, site: Span, budget: FormBudget): S.Syntax | string => {
  if (--budget.left < 0) return "more forms than the load's expansion budget allows"
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
      const s = valueToSyntax(item, at, budget)
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
  return `${typeName(v)}, which cannot appear in code`
}
