/**
 * The core library: arithmetic and comparison, equality, strings, maps, sequences, higher-order
 * functions and JSON. Collections are immutable: every "update" returns a new value. Higher-order
 * functions stay synchronous unless the function they call returns an effect. Functions that build
 * collections or strings check the run's size limit; those that walk them count steps.
 */
import * as Effect from "effect/Effect"
import type { Span } from "../diagnostics/Span.ts"
import {
  equals, isCallable, isHostObject, isMap, Keyword, List, makeMap, type MapValue, mapKey, print, SetValue, Sym, truthy, typeName,
  type Value
} from "../reader/Value.ts"
import { type Builtin, builtin, callValue } from "./builtins.ts"
import { checkSize, checkSizeAhead, fail, isEffect, lift, nowMillis, type RunState, sequence, step, chain } from "./runtime.ts"

// ---- helpers --------------------------------------------------------------------------------

/** The elements of a sequential value (nil is empty). Maps give [key value] pairs. */
export const seqOf = (v: Value, fn: string): ReadonlyArray<Value> => {
  if (v === null) return []
  if (Array.isArray(v)) return v
  if (v instanceof List) return v.items
  if (v instanceof SetValue) return v.values()
  if (typeof v === "string") return [...v]
  if (isMap(v)) return Object.keys(v).map((k) => [k, v[k]!])
  return fail("type", `${fn} needs a collection, got ${typeName(v)}`)
}

const num = (v: Value, fn: string): number =>
  typeof v === "number" ? v : fail("type", `${fn} needs numbers, got ${typeName(v)} (${print(v)})`)

const str = (v: Value, fn: string): string => (typeof v === "string" ? v : fail("type", `${fn} needs a string, got ${typeName(v)}`))

const keyOfArg = (k: Value, fn: string): string =>
  mapKey(k) ?? fail("type", `${fn}: a map key must be a keyword, string or number, got ${typeName(k)}`)

/** The map view of a value for reading: maps and records; host objects expose their fields. */
const readable = (v: Value): Readonly<Record<string, Value>> | undefined =>
  isMap(v) ? v : isHostObject(v) ? v.fields : undefined

export const getIn = (m: Value, k: Value): Value => {
  if (m === null) return null
  if (Array.isArray(m) || m instanceof List) {
    const items = m instanceof List ? m.items : m
    return typeof k === "number" && Number.isInteger(k) && k >= 0 && k < items.length ? items[k]! : null
  }
  if (m instanceof SetValue) return m.has(k) ? k : null
  const r = readable(m)
  if (r === undefined) return null
  const key = mapKey(k)
  return key !== undefined && Object.hasOwn(r, key) ? r[key]! : null
}

const copyMap = (m: Value, fn: string): Record<string, Value> => {
  if (m === null) return Object.create(null)
  if (!isMap(m)) fail("type", `${fn} needs a map, got ${typeName(m)}`)
  const out: Record<string, Value> = Object.create(null)
  for (const k of Object.keys(m)) out[k] = (m as MapValue)[k]!
  return out
}

const assoc1 = (m: Value, k: Value, v: Value, run: RunState, fn: string): Value => {
  if (Array.isArray(m)) {
    if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > m.length) fail("index", `${fn}: index ${print(k)} is outside the vector (size ${m.length})`)
    const out = [...m]
    out[k as number] = v
    checkSize(run, out.length, "collection")
    return out
  }
  const out = copyMap(m, fn)
  out[keyOfArg(k, fn)] = v
  checkSize(run, Object.keys(out).length, "collection")
  return out
}

/** Maps `f` over items, effectfully only if needed. */
const mapItems = (items: ReadonlyArray<Value>, f: (x: Value, i: number) => unknown, run: RunState): unknown => {
  step(run, items.length)
  return sequence(items.length, (i) => f(items[i]!, i))
}

/**
 * Calls `f` on the items in order until a result satisfies `stop` (then `found(result)`), or the
 * items run out (then `otherwise`); effectful results are waited for one at a time.
 */
const firstWhere = (
  items: ReadonlyArray<Value>, f: (x: Value) => unknown, stop: (r: Value) => boolean,
  found: (r: Value) => Value, otherwise: Value, run: RunState
): unknown => {
  const from = (i: number): unknown => {
    for (; i < items.length; i++) {
      step(run)
      const r = f(items[i]!)
      if (isEffect(r)) {
        const next = i + 1
        return Effect.flatMap(r, (v) => lift(stop(v as Value) ? found(v as Value) : from(next)))
      }
      if (stop(r as Value)) return found(r as Value)
    }
    return otherwise
  }
  return from(0)
}

const compare = (a: Value, b: Value, fn: string): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0
  return fail("type", `${fn} compares numbers with numbers or strings with strings, got ${typeName(a)} and ${typeName(b)}`)
}

const comparison = (name: string, test: (c: number) => boolean, doc: string): Builtin =>
  builtin({
    name, group: "core", arglists: ["[x & more]"], doc, example: `(${name} 1 2 3) ;=> ${test(-1)}`,
    impl: (args) => {
      for (let i = 0; i + 1 < args.length; i++) if (!test(compare(args[i]!, args[i + 1]!, name))) return false
      return true
    }
  })

/** Converts a value to JSON data (for publishing and json/stringify). */
export const toJson = (v: Value, where: string): unknown => {
  if (v === null || typeof v === "boolean" || typeof v === "string") return v
  if (typeof v === "number") {
    return Number.isFinite(v) ? v : fail("json", `${where}: ${v} cannot be written as JSON`)
  }
  if (v instanceof Keyword) return v.name
  if (v instanceof Sym) return v.name
  if (v instanceof List) return v.items.map((x) => toJson(x, where))
  if (Array.isArray(v)) return v.map((x) => toJson(x, where))
  if (v instanceof SetValue) return v.values().map((x) => toJson(x, where))
  if (isMap(v)) {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: toJson(v[k]!, where), enumerable: true, writable: true, configurable: true })
    return out
  }
  return fail("json", `${where}: ${typeName(v)} cannot be written as JSON`)
}

const fromJson = (v: unknown): Value => {
  if (Array.isArray(v)) return v.map(fromJson)
  if (v !== null && typeof v === "object") {
    const out: Record<string, Value> = Object.create(null)
    for (const k of Object.keys(v)) out[k] = fromJson((v as Record<string, unknown>)[k])
    return out
  }
  return v as Value
}

const formatString = (fmt: string, args: ReadonlyArray<Value>): string => {
  let i = 0
  return fmt.replace(/%(%|s|d|(?:\.(\d+))?f)/g, (whole, kind: string, digits: string | undefined) => {
    if (kind === "%") return "%"
    if (i >= args.length) fail("format", `format: ${whole} has no argument (only ${args.length} given)`)
    const a = args[i++]!
    if (kind === "s") return print(a, true)
    if (kind === "d") return String(Math.trunc(num(a, "format %d")))
    return num(a, "format %f").toFixed(digits === undefined ? 6 : Number(digits))
  })
}

// ---- the library ----------------------------------------------------------------------------

const arithmetic: Array<Builtin> = [
  builtin({
    name: "+", group: "core", arglists: ["[& xs]"], doc: "The sum of the numbers (0 with none).", example: "(+ 1 2 3) ;=> 6",
    impl: (args) => {
      let s = 0
      for (const a of args) s += num(a, "+")
      return s
    }
  }),
  builtin({
    name: "-", group: "core", arglists: ["[x]", "[x & ys]"], doc: "Negation of x, or x minus the others.", example: "(- 10 3 2) ;=> 5",
    impl: (args) => {
      const first = num(args[0]!, "-")
      if (args.length === 1) return -first
      let s = first
      for (let i = 1; i < args.length; i++) s -= num(args[i]!, "-")
      return s
    }
  }),
  builtin({
    name: "*", group: "core", arglists: ["[& xs]"], doc: "The product of the numbers (1 with none).", example: "(* 2 3 4) ;=> 24",
    impl: (args) => {
      let s = 1
      for (const a of args) s *= num(a, "*")
      return s
    }
  }),
  builtin({
    name: "/", group: "core", arglists: ["[x & ys]"], doc: "x divided by the others. Dividing by zero is an error.", example: "(/ 10 4) ;=> 2.5",
    impl: (args) => {
      let s = num(args[0]!, "/")
      if (args.length === 1) return s === 0 ? fail("divide-by-zero", "division by zero") : 1 / s
      for (let i = 1; i < args.length; i++) {
        const d = num(args[i]!, "/")
        if (d === 0) fail("divide-by-zero", "division by zero")
        s /= d
      }
      return s
    }
  }),
  builtin({
    name: "mod", group: "core", arglists: ["[n d]"], doc: "n modulo d, with the sign of d.", example: "(mod -7 3) ;=> 2",
    impl: ([n, d]) => {
      const b = num(d!, "mod")
      if (b === 0) fail("divide-by-zero", "mod by zero")
      const a = num(n!, "mod")
      return ((a % b) + b) % b
    }
  }),
  builtin({ name: "inc", group: "core", arglists: ["[x]"], doc: "The number plus one.", example: "(inc 41) ;=> 42", impl: ([x]) => num(x!, "inc") + 1 }),
  builtin({ name: "dec", group: "core", arglists: ["[x]"], doc: "The number minus one.", example: "(dec 43) ;=> 42", impl: ([x]) => num(x!, "dec") - 1 }),
  builtin({
    name: "max", group: "core", arglists: ["[x & more]"], doc: "The largest number.", example: "(max 3 9 4) ;=> 9",
    impl: (args) => args.reduce<number>((m, a) => Math.max(m, num(a, "max")), Number.NEGATIVE_INFINITY)
  }),
  builtin({
    name: "min", group: "core", arglists: ["[x & more]"], doc: "The smallest number.", example: "(min 3 9 4) ;=> 3",
    impl: (args) => args.reduce<number>((m, a) => Math.min(m, num(a, "min")), Number.POSITIVE_INFINITY)
  }),
  comparison("<", (c) => c < 0, "True when each argument is less than the next (numbers, or strings)."),
  comparison(">", (c) => c > 0, "True when each argument is greater than the next."),
  comparison("<=", (c) => c <= 0, "True when each argument is at most the next."),
  comparison(">=", (c) => c >= 0, "True when each argument is at least the next."),
  builtin({
    name: "=", group: "core", arglists: ["[x & more]"], doc: "Structural equality: maps, vectors and lists with equal contents are equal.",
    example: "(= {:a [1 2]} {:a [1 2]}) ;=> true",
    impl: (args) => args.every((a, i) => i === 0 || equals(args[0]!, a))
  }),
  builtin({
    name: "not=", group: "core", arglists: ["[x & more]"], doc: "(not (= x ...)).", example: "(not= 1 2) ;=> true",
    impl: (args) => !args.every((a, i) => i === 0 || equals(args[0]!, a))
  }),
  builtin({ name: "not", group: "core", arglists: ["[x]"], doc: "True when x is false or nil.", example: "(not nil) ;=> true", impl: ([x]) => !truthy(x!) })
]

const predicates: Array<Builtin> = [
  ["nil?", (v: Value) => v === null, "True when x is nil.", "(nil? (get {} :a)) ;=> true"],
  ["string?", (v: Value) => typeof v === "string", "True when x is a string.", "(string? \"stt\") ;=> true"],
  ["number?", (v: Value) => typeof v === "number", "True when x is a number.", "(number? \"42\") ;=> false"],
  ["boolean?", (v: Value) => typeof v === "boolean", "True when x is true or false.", "(boolean? false) ;=> true"],
  ["keyword?", (v: Value) => v instanceof Keyword, "True when x is a keyword.", "(keyword? :pid) ;=> true"],
  ["map?", (v: Value) => isMap(v), "True when x is a map.", "(map? {:pid 42}) ;=> true"],
  ["vector?", (v: Value) => Array.isArray(v), "True when x is a vector.", "(vector? '(1 2)) ;=> false"],
  ["list?", (v: Value) => v instanceof List, "True when x is a list.", "(list? '(1 2)) ;=> true"],
  ["set?", (v: Value) => v instanceof SetValue, "True when x is a set.", "(set? #{1 2}) ;=> true"],
  ["fn?", (v: Value) => isCallable(v), "True when x is a function.", "(fn? inc) ;=> true"]
].map(([name, test, doc, example]) =>
  builtin({ name: name as string, group: "core", arglists: ["[x]"], doc: doc as string, example: example as string, impl: ([x]) => (test as (v: Value) => boolean)(x!) })
)

const strings: Array<Builtin> = [
  builtin({
    name: "str", group: "strings", arglists: ["[& xs]"], doc: "Concatenates the values as text (nil is empty, strings unquoted).",
    example: "(str \"pid \" 42) ;=> \"pid 42\"",
    impl: (args, run) => {
      let out = ""
      for (const a of args) {
        out += a === null ? "" : print(a, true)
        checkSizeAhead(run, out.length, "string")
      }
      checkSize(run, out.length, "string")
      return out
    }
  }),
  builtin({
    name: "format", group: "strings", arglists: ["[fmt & args]"], doc: "Fills %s (any value), %d (integer), %f / %.2f (number) and %% in fmt.",
    example: "(format \"%s took %.1f ms\" \"fetch\" 12.345) ;=> \"fetch took 12.3 ms\"",
    impl: ([fmt, ...args], run) => {
      const out = formatString(str(fmt!, "format"), args)
      checkSize(run, out.length, "string")
      return out
    }
  }),
  builtin({ name: "upper-case", group: "strings", arglists: ["[s]"], doc: "s in upper case.", example: "(upper-case \"ok\") ;=> \"OK\"", impl: ([s]) => str(s!, "upper-case").toUpperCase() }),
  builtin({ name: "lower-case", group: "strings", arglists: ["[s]"], doc: "s in lower case.", example: "(lower-case \"OK\") ;=> \"ok\"", impl: ([s]) => str(s!, "lower-case").toLowerCase() }),
  builtin({
    name: "split", group: "strings", arglists: ["[s separator]"], doc: "The parts of s between separators, as a vector.", example: "(split \"a,b\" \",\") ;=> [\"a\" \"b\"]",
    impl: ([s, sep], run) => {
      const parts = str(s!, "split").split(str(sep!, "split"))
      checkSize(run, parts.length, "collection")
      return parts
    }
  }),
  builtin({
    name: "join", group: "strings", arglists: ["[separator coll]"], doc: "The elements of coll as text, separated.", example: "(join \", \" [1 2 3]) ;=> \"1, 2, 3\"",
    impl: ([sep, coll], run) => {
      const separator = str(sep!, "join")
      const parts = seqOf(coll!, "join").map((x) => (x === null ? "" : print(x, true)))
      checkSizeAhead(run, parts.reduce((n, p) => n + p.length + separator.length, 0), "string")
      const out = parts.join(separator)
      checkSize(run, out.length, "string")
      return out
    }
  }),
  builtin({
    name: "keyword", group: "strings", arglists: ["[name]"], doc: "The keyword with this name.", example: "(keyword \"pid\") ;=> :pid",
    impl: ([n]) => (n instanceof Keyword ? n : Keyword.of(str(n!, "keyword")))
  }),
  builtin({
    name: "name", group: "strings", arglists: ["[x]"], doc: "The name of a keyword or symbol (a string stays itself).", example: "(name :pid) ;=> \"pid\"",
    impl: ([x]) => (x instanceof Keyword || x instanceof Sym ? x.name : str(x!, "name"))
  })
]

const collections: Array<Builtin> = [
  builtin({
    name: "get", group: "collections", arglists: ["[m k]", "[m k default]"], doc: "The value of key k in map m (keywords and strings name the same key), the element at index k of a vector, or default (nil).",
    example: "(get {:pid 42} :pid) ;=> 42",
    impl: ([m, k, d]) => {
      const v = getIn(m!, k!)
      return v === null && d !== undefined ? d : v
    }
  }),
  builtin({
    name: "get-in", group: "collections", arglists: ["[m path]", "[m path default]"], doc: "Follows the keys of path into nested maps and vectors.",
    example: "(get-in {:a {:b 1}} [:a :b]) ;=> 1",
    impl: ([m, path, d], run) => {
      let v: Value = m!
      const keys = seqOf(path!, "get-in")
      step(run, keys.length)
      for (const k of keys) {
        v = getIn(v, k)
        if (v === null) break
      }
      return v === null && d !== undefined ? d : v
    }
  }),
  builtin({
    name: "assoc", group: "collections", arglists: ["[m k v & kvs]"], doc: "m with k set to v (and more pairs). Works on maps and on vector indexes.",
    example: "(assoc {:a 1} :b 2) ;=> {:a 1 :b 2}",
    impl: ([m, ...kvs], run) => {
      if (kvs.length % 2 === 1) fail("arity", "assoc needs a value for every key")
      let out: Value = m!
      for (let i = 0; i < kvs.length; i += 2) out = assoc1(out, kvs[i]!, kvs[i + 1]!, run, "assoc")
      return out
    }
  }),
  builtin({
    name: "assoc-in", group: "collections", arglists: ["[m path v]"], doc: "m with the value at the nested path set to v (missing maps are created).",
    example: "(assoc-in {} [:a :b] 1) ;=> {:a {:b 1}}",
    impl: ([m, path, v], run) => {
      const keys = seqOf(path!, "assoc-in")
      if (keys.length === 0) fail("arity", "assoc-in needs a non-empty path")
      step(run, keys.length)
      const go = (node: Value, i: number): Value =>
        i === keys.length - 1 ? assoc1(node, keys[i]!, v!, run, "assoc-in") : assoc1(node, keys[i]!, go(getIn(node, keys[i]!), i + 1), run, "assoc-in")
      return go(m!, 0)
    }
  }),
  builtin({
    name: "dissoc", group: "collections", arglists: ["[m & ks]"], doc: "m without the keys.", example: "(dissoc {:a 1 :b 2} :a) ;=> {:b 2}",
    impl: ([m, ...ks]) => {
      const out = copyMap(m!, "dissoc")
      for (const k of ks) delete out[keyOfArg(k, "dissoc")]
      return out
    }
  }),
  builtin({
    name: "update", group: "collections", arglists: ["[m k f & args]"], doc: "m with k set to (f (get m k) args...).",
    example: "(update {:n 1} :n inc) ;=> {:n 2}",
    impl: ([m, k, f, ...args], run, span) => chain(callValue(f!, [getIn(m!, k!), ...args], run, span), (v) => assoc1(m!, k!, v, run, "update"))
  }),
  builtin({
    name: "merge", group: "collections", arglists: ["[& maps]"], doc: "One map with the entries of all; later maps win. nil is skipped.",
    example: "(merge {:a 1} {:b 2} {:a 3}) ;=> {:a 3 :b 2}",
    impl: (maps, run) => {
      const out: Record<string, Value> = Object.create(null)
      for (const m of maps) {
        if (m === null) continue
        if (!isMap(m)) fail("type", `merge needs maps, got ${typeName(m)}`)
        for (const k of Object.keys(m)) out[k] = (m as MapValue)[k]!
      }
      checkSize(run, Object.keys(out).length, "collection")
      return out
    }
  }),
  builtin({ name: "keys", group: "collections", arglists: ["[m]"], doc: "The keys of a map, as a vector of strings.", example: "(keys {:a 1}) ;=> [\"a\"]", impl: ([m]) => (m === null ? [] : Object.keys(readable(m!) ?? fail("type", `keys needs a map, got ${typeName(m!)}`))) }),
  builtin({
    name: "vals", group: "collections", arglists: ["[m]"], doc: "The values of a map, as a vector.", example: "(vals {:a 1}) ;=> [1]",
    impl: ([m]) => {
      if (m === null) return []
      const r = readable(m!) ?? fail("type", `vals needs a map, got ${typeName(m!)}`)
      return Object.keys(r).map((k) => r[k]!)
    }
  }),
  builtin({
    name: "count", group: "collections", arglists: ["[coll]"], doc: "The number of elements (characters of a string, entries of a map; nil is 0).",
    example: "(count [1 2 3]) ;=> 3",
    impl: ([c]) => {
      if (c === null) return 0
      if (typeof c === "string") return c.length
      if (Array.isArray(c)) return c.length
      if (c instanceof List) return c.items.length
      if (c instanceof SetValue) return c.members.size
      if (isMap(c)) return Object.keys(c).length
      return fail("type", `count needs a collection, got ${typeName(c!)}`)
    }
  }),
  builtin({ name: "first", group: "collections", arglists: ["[coll]"], doc: "The first element, or nil.", example: "(first [1 2]) ;=> 1", impl: ([c]) => seqOf(c!, "first")[0] ?? null }),
  builtin({ name: "second", group: "collections", arglists: ["[coll]"], doc: "The second element, or nil.", example: "(second [1 2]) ;=> 2", impl: ([c]) => seqOf(c!, "second")[1] ?? null }),
  builtin({
    name: "last", group: "collections", arglists: ["[coll]"], doc: "The last element, or nil.", example: "(last [1 2]) ;=> 2",
    impl: ([c]) => {
      const s = seqOf(c!, "last")
      return s[s.length - 1] ?? null
    }
  }),
  builtin({
    name: "nth", group: "collections", arglists: ["[coll i]", "[coll i default]"], doc: "The element at index i; without a default, an index outside the collection is an error.",
    example: "(nth [:a :b] 1) ;=> :b",
    impl: ([c, i, d]) => {
      const s = seqOf(c!, "nth")
      const n = num(i!, "nth")
      if (Number.isInteger(n) && n >= 0 && n < s.length) return s[n]!
      return d !== undefined ? d : fail("index", `nth: index ${n} is outside the collection (size ${s.length})`)
    }
  }),
  builtin({ name: "rest", group: "collections", arglists: ["[coll]"], doc: "All but the first element, as a list.", example: "(rest [1 2 3]) ;=> (2 3)", impl: ([c]) => new List(seqOf(c!, "rest").slice(1)) }),
  builtin({
    name: "cons", group: "collections", arglists: ["[x coll]"], doc: "A list of x followed by the elements of coll.", example: "(cons 1 [2 3]) ;=> (1 2 3)",
    impl: ([x, c], run) => {
      const items = [x!, ...seqOf(c!, "cons")]
      checkSize(run, items.length, "collection")
      return new List(items)
    }
  }),
  builtin({
    name: "conj", group: "collections", arglists: ["[coll & xs]"], doc: "coll with xs added: at the end of a vector, the front of a list, into a set; a map takes [k v] pairs or maps.",
    example: "(conj [1 2] 3) ;=> [1 2 3]",
    impl: ([c, ...xs], run) => {
      if (c === null || Array.isArray(c)) {
        const out = [...(c ?? []) as ReadonlyArray<Value>, ...xs]
        checkSize(run, out.length, "collection")
        return out
      }
      if (c instanceof List) {
        const out = [...[...xs].reverse(), ...c.items]
        checkSize(run, out.length, "collection")
        return new List(out)
      }
      if (c instanceof SetValue) {
        const out = new SetValue([...c.values(), ...xs])
        checkSize(run, out.members.size, "collection")
        return out
      }
      if (isMap(c)) {
        let out: Value = c
        for (const x of xs) {
          if (Array.isArray(x) && x.length === 2) out = assoc1(out, x[0]!, x[1]!, run, "conj")
          else if (isMap(x)) for (const k of Object.keys(x)) out = assoc1(out, k, x[k]!, run, "conj")
          else fail("type", "conj onto a map takes [key value] vectors or maps")
        }
        return out
      }
      return fail("type", `conj needs a collection, got ${typeName(c!)}`)
    }
  }),
  builtin({
    name: "concat", group: "collections", arglists: ["[& colls]"], doc: "The elements of all the collections, in order, as a list.",
    example: "(concat [1] '(2 3)) ;=> (1 2 3)",
    impl: (colls, run) => {
      const parts = colls.map((c) => seqOf(c, "concat"))
      checkSizeAhead(run, parts.reduce((n, p) => n + p.length, 0), "collection")
      const out: Array<Value> = []
      for (const p of parts) for (const x of p) out.push(x)
      checkSize(run, out.length, "collection")
      return new List(out)
    }
  }),
  builtin({
    name: "into", group: "collections", arglists: ["[to from]"], doc: "`to` with every element of `from` conj'ed onto it.", example: "(into #{} [1 1 2]) ;=> #{1 2}",
    impl: ([to, from], run, span) => {
      const conj = collections.find((b) => b.name === "conj")!
      return conj.impl([to!, ...seqOf(from!, "into")], run, span)
    }
  }),
  builtin({
    name: "contains?", group: "collections", arglists: ["[coll k]"], doc: "True when the map has key k, the set has member k, or the vector has index k.",
    example: "(contains? {:a nil} :a) ;=> true",
    impl: ([c, k]) => {
      if (c === null) return false
      if (c instanceof SetValue) return c.has(k!)
      if (Array.isArray(c)) return typeof k === "number" && Number.isInteger(k) && k >= 0 && k < c.length
      const r = readable(c!)
      const key = mapKey(k!)
      return r !== undefined && key !== undefined && Object.hasOwn(r, key)
    }
  }),
  builtin({
    name: "empty?", group: "collections", arglists: ["[coll]"], doc: "True for nil and empty collections or strings.", example: "(empty? []) ;=> true",
    impl: ([c]) => (c === null ? true : typeof c === "string" ? c.length === 0 : seqOf(c!, "empty?").length === 0)
  }),
  builtin({
    name: "range", group: "collections", arglists: ["[end]", "[start end]", "[start end step]"], doc: "The numbers from start (0) up to but not including end, by step (1), as a vector.",
    example: "(range 3) ;=> [0 1 2]",
    impl: (args, run) => {
      const [start, end, by] = args.length === 1 ? [0, num(args[0]!, "range"), 1] : [num(args[0]!, "range"), num(args[1]!, "range"), args[2] === undefined ? 1 : num(args[2], "range")]
      if (by === 0) fail("range", "range: the step cannot be 0")
      const size = Math.max(0, Math.ceil((end - start) / by))
      checkSize(run, size, "collection")
      const out = new Array<Value>(size)
      for (let i = 0; i < size; i++) out[i] = start + i * by
      return out
    }
  }),
  builtin({ name: "list", group: "collections", arglists: ["[& xs]"], doc: "A list of the arguments.", example: "(list 1 2) ;=> (1 2)", impl: (xs) => new List([...xs]) }),
  builtin({ name: "vector", group: "collections", arglists: ["[& xs]"], doc: "A vector of the arguments.", example: "(vector 1 2) ;=> [1 2]", impl: (xs) => [...xs] }),
  builtin({ name: "vec", group: "collections", arglists: ["[coll]"], doc: "A vector of the elements of coll.", example: "(vec '(1 2)) ;=> [1 2]", impl: ([c]) => [...seqOf(c!, "vec")] }),
  builtin({
    name: "hash-map", group: "collections", arglists: ["[& kvs]"], doc: "A map of the key/value pairs.", example: "(hash-map :a 1) ;=> {:a 1}",
    impl: (kvs, run) => {
      if (kvs.length % 2 === 1) fail("arity", "hash-map needs a value for every key")
      const out: Record<string, Value> = Object.create(null)
      for (let i = 0; i < kvs.length; i += 2) out[keyOfArg(kvs[i]!, "hash-map")] = kvs[i + 1]!
      checkSize(run, kvs.length / 2, "collection")
      return out
    }
  }),
  builtin({ name: "hash-set", group: "collections", arglists: ["[& xs]"], doc: "A set of the arguments.", example: "(hash-set 1 2 1) ;=> #{1 2}", impl: (xs) => new SetValue(xs) }),
  builtin({
    name: "sort", group: "collections", arglists: ["[coll]"], doc: "The elements in ascending order (numbers or strings), as a vector.", example: "(sort [3 1 2]) ;=> [1 2 3]",
    impl: ([c], run) => {
      const items = [...seqOf(c!, "sort")]
      step(run, items.length)
      return items.sort((a, b) => compare(a, b, "sort"))
    }
  })
]

const higherOrder: Array<Builtin> = [
  builtin({
    name: "map", group: "collections", arglists: ["[f coll]"], doc: "A vector of (f x) for each element x.", example: "(map inc [1 2 3]) ;=> [2 3 4]",
    impl: ([f, c], run, span) => mapItems(seqOf(c!, "map"), (x) => callValue(f!, [x], run, span), run)
  }),
  builtin({
    name: "filter", group: "collections", arglists: ["[pred coll]"], doc: "A vector of the elements for which (pred x) is true.", example: "(filter odd? [1 2 3]) ;=> [1 3]",
    impl: ([f, c], run, span) => {
      const items = seqOf(c!, "filter")
      return chain(mapItems(items, (x) => callValue(f!, [x], run, span), run), (keep) =>
        items.filter((_, i) => truthy((keep as ReadonlyArray<Value>)[i]!)))
    }
  }),
  builtin({
    name: "reduce", group: "collections", arglists: ["[f coll]", "[f init coll]"], doc: "Combines the elements with (f acc x), from init (or the first element).",
    example: "(reduce + 0 [1 2 3]) ;=> 6",
    impl: (args, run, span) => {
      const f = args[0]!
      const items = seqOf(args.length === 3 ? args[2]! : args[1]!, "reduce")
      // No init and no elements: (f) with no arguments, as in Clojure ((reduce + []) is 0).
      if (args.length === 2 && items.length === 0) return callValue(f, [], run, span)
      let acc: Value = args.length === 3 ? args[1]! : (items[0] ?? null)
      const start = args.length === 3 ? 0 : 1
      step(run, items.length)
      for (let i = start; i < items.length; i++) {
        const r = callValue(f, [acc, items[i]!], run, span)
        if (isEffect(r)) {
          const rest = (from: number, value: Value): unknown => {
            let a = value
            for (let j = from; j < items.length; j++) {
              const x = callValue(f, [a, items[j]!], run, span)
              if (isEffect(x)) return Effect.flatMap(x, (v) => lift(rest(j + 1, v as Value)))
              a = x as Value
            }
            return a
          }
          return Effect.flatMap(r, (v) => lift(rest(i + 1, v as Value)))
        }
        acc = r as Value
      }
      return acc
    }
  }),
  builtin({
    name: "some", group: "collections", arglists: ["[pred coll]"], doc: "The first true (pred x), or nil.", example: "(some even? [1 3 4]) ;=> true",
    impl: ([f, c], run, span) => firstWhere(seqOf(c!, "some"), (x) => callValue(f!, [x], run, span), truthy, (r) => r, null, run)
  }),
  builtin({
    name: "every?", group: "collections", arglists: ["[pred coll]"], doc: "True when (pred x) is true for every element.", example: "(every? number? [1 2]) ;=> true",
    impl: ([f, c], run, span) => firstWhere(seqOf(c!, "every?"), (x) => callValue(f!, [x], run, span), (r) => !truthy(r), () => false, true, run)
  }),
  builtin({
    name: "apply", group: "core", arglists: ["[f args]", "[f x & args]"], doc: "Calls f with the arguments, the last of which is a collection spread into them.",
    example: "(apply + 1 [2 3]) ;=> 6",
    impl: ([f, ...rest], run, span) => {
      const spread = [...rest.slice(0, -1), ...seqOf(rest[rest.length - 1]!, "apply")]
      return callValue(f!, spread, run, span)
    }
  }),
  builtin({ name: "identity", group: "core", arglists: ["[x]"], doc: "Its argument, unchanged (useful with map and filter).", example: "(identity 1) ;=> 1", impl: ([x]) => x! }),
  builtin({ name: "odd?", group: "core", arglists: ["[n]"], doc: "True for odd integers.", example: "(odd? 3) ;=> true", impl: ([n]) => Math.abs(num(n!, "odd?") % 2) === 1 }),
  builtin({ name: "even?", group: "core", arglists: ["[n]"], doc: "True for even integers.", example: "(even? 4) ;=> true", impl: ([n]) => num(n!, "even?") % 2 === 0 })
]

const json: Array<Builtin> = [
  builtin({
    name: "json/parse", group: "json", arglists: ["[s]"], doc: "The value of a JSON text (objects become maps with string keys).", example: "(json/parse \"{\\\"a\\\": 1}\") ;=> {:a 1}",
    impl: ([s]) => {
      try {
        return fromJson(JSON.parse(str(s!, "json/parse")))
      } catch (e) {
        return fail("json", `json/parse: ${e instanceof Error ? e.message : String(e)}`)
      }
    }
  }),
  builtin({
    name: "json/stringify", group: "json", arglists: ["[x]"], doc: "x as JSON text (keywords become strings, sets and lists arrays).", example: "(json/stringify {:a [1 2]}) ;=> \"{\\\"a\\\":[1,2]}\"",
    impl: ([x], run) => {
      const out = JSON.stringify(toJson(x!, "json/stringify"))
      checkSize(run, out.length, "string")
      return out
    }
  }),
  builtin({
    name: "now", group: "core", arglists: ["[]"], doc: "The current time in epoch milliseconds (from the runtime's Clock: a TestClock in tests).",
    example: "(now)",
    impl: (_, run) => nowMillis(run)
  })
]

/** Protected aliases used by quasiquote and core macros; user definitions cannot shadow them. */
const internal = (name: string, of: string): Builtin => {
  const target = [...arithmetic, ...collections, ...higherOrder].find((b) => b.name === of)!
  return { ...target, name }
}

export const coreBuiltins: ReadonlyArray<Builtin> = [
  ...arithmetic, ...predicates, ...strings, ...collections, ...higherOrder, ...json
]

export const protectedBuiltins: ReadonlyArray<Builtin> = [
  internal("sib/list", "list"), internal("sib/cons", "cons"), internal("sib/concat", "concat"), internal("sib/vec", "vec"),
  internal("sib/=", "="),
  { ...collections.find((b) => b.name === "hash-map")!, name: "sib/apply-hash-map", arglists: ["[kvs]"], min: 1, max: 1,
    impl: ([kvs], run, span) => collections.find((b) => b.name === "hash-map")!.impl(seqOf(kvs!, "hash-map"), run, span) },
  { ...collections.find((b) => b.name === "hash-set")!, name: "sib/apply-hash-set", arglists: ["[xs]"], min: 1, max: 1,
    impl: ([xs]) => new SetValue(seqOf(xs!, "hash-set")) }
]

export { makeMap }
export type { Span }
