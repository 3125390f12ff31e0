/**
 * The core library: arithmetic and comparison, equality, strings, maps, sequences, higher-order
 * functions and JSON. Collections are immutable: every "update" returns a new value. Higher-order
 * functions stay synchronous unless the function they call returns an effect. Every function pays
 * for what it touches before it does it where it can: a collection or string it builds is checked
 * against the size limits and charged per element (per 16 characters) and by its estimated bytes;
 * a value it walks (comparing, hashing, printing, JSON) is charged per node through the run's
 * budget, so a value sharing structure costs what walking it costs, not what building it cost.
 */
import * as Effect from "effect/Effect"
import type { Span } from "../diagnostics/Span.ts"
import {
  costs, equals, isCallable, isHostObject, isMap, Keyword, List, makeMap, type MapValue, mapKey, type Meter, print, SetValue, Sym, truthy,
  typeName, type Value
} from "../reader/Value.ts"
import { parseExactJson } from "../runtime/json.ts"
import { type Builtin, builtin, callValue } from "./builtins.ts"
import { allocate, checkSize, checkSizeAhead, fail, isEffect, LangError, lift, nowMillis, type RunState, sequence, step, chain } from "./run.ts"

// ---- helpers --------------------------------------------------------------------------------

/**
 * The elements of a sequential value (nil is empty). Maps give [key value] pairs. Vectors, lists
 * and sets are returned as they are; a string or a map is materialized, and paid for first.
 */
export const seqOf = (v: Value, fn: string, run: RunState): ReadonlyArray<Value> => {
  if (v === null) return []
  if (Array.isArray(v)) return v
  if (v instanceof List) return v.items
  if (v instanceof SetValue) return v.values()
  if (typeof v === "string") {
    if (v.length > run.limits.maxCollection) {
      fail("value-size", `${fn}: the string's ${v.length.toLocaleString("en-US")} characters, taken one by one, would be a collection over the limit of ${run.limits.maxCollection.toLocaleString("en-US")}`, [
        "first, second, last, nth, subs, count and split read a long string without taking it apart"
      ])
    }
    checkSizeAhead(run, v.length, "collection")
    return [...v]
  }
  if (isMap(v)) {
    const keys = Object.keys(v)
    checkSizeAhead(run, keys.length * 3, "collection")
    return keys.map((k) => [k, v[k]!])
  }
  return fail("type", `${fn} needs a collection, got ${typeName(v)}`)
}

const meterOf = (run: RunState): Meter => run.budget

/**
 * Strings are sequences of characters (Unicode code points) everywhere in the language: `count`,
 * `subs`, `nth`, `first`, `split` on "" and destructuring agree, and no operation cuts an emoji
 * into lone surrogates. Text without surrogates (almost all) takes JavaScript's own indices.
 */
const hasSurrogates = (text: string): boolean => /[\uD800-\uDFFF]/.test(text)

/** The number of characters of `text`, paid as a scan of it. */
const characterCount = (text: string, run: RunState): number => {
  step(run, text.length >> 6)
  if (!hasSurrogates(text)) return text.length
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // A high surrogate followed by a low one is one character; any lone surrogate counts as one.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

/**
 * The UTF-16 offset where character `n` of `text` starts, counting from the offset `from`
 * (text.length when that is its end, -1 past it), paid as a scan up to it: `first`, `nth` and `subs` read only as far as
 * they need, and never build the string's characters.
 */
const offsetOfCharacter = (text: string, n: number, run: RunState, from = 0): number => {
  step(run, n >> 4)
  let i = from
  for (let k = 0; k < n; k++) {
    if (i >= text.length) return -1
    i += isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1)) ? 2 : 1
  }
  return i
}

/** The character (code point) at index `n` of `text`, or undefined outside it. */
const characterAt = (text: string, n: number, run: RunState): string | undefined => {
  if (!Number.isInteger(n) || n < 0) return undefined
  const at = offsetOfCharacter(text, n, run)
  if (at < 0 || at >= text.length) return undefined
  return text.slice(at, isHigh(text.charCodeAt(at)) && at + 1 < text.length && isLow(text.charCodeAt(at + 1)) ? at + 2 : at + 1)
}

/** The last character of `text` (a surrogate pair whole), or undefined when it is empty. */
const lastCharacter = (text: string): string | undefined => {
  if (text.length === 0) return undefined
  const end = text.length - 1
  return isLow(text.charCodeAt(end)) && end > 0 && isHigh(text.charCodeAt(end - 1)) ? text.slice(end - 1) : text.slice(end)
}

const num = (v: Value, fn: string): number =>
  typeof v === "number" ? v : fail("type", `${fn} needs numbers, got ${typeName(v)} (${print(v)})`)

const str = (v: Value, fn: string): string => (typeof v === "string" ? v : fail("type", `${fn} needs a string, got ${typeName(v)}`))

/**
 * The map key a value stands for, paid for: a map reads its key whole to find it (1 step per 16
 * characters, as reading text is; a key of a few characters costs nothing more).
 */
const readKey = (k: Value, run: RunState): string | undefined => {
  const key = mapKey(k)
  if (key !== undefined && key.length >= 64) step(run, key.length >> 4)
  return key
}

const keyOfArg = (k: Value, fn: string, run: RunState): string =>
  readKey(k, run) ?? fail("type", `${fn}: a map key must be a keyword, string or number, got ${typeName(k)}`)

/** The map view of a value for reading: maps and records; host objects expose their fields. */
const readable = (v: Value): Readonly<Record<string, Value>> | undefined =>
  isMap(v) ? v : isHostObject(v) ? v.fields : undefined

const getIn = (m: Value, k: Value, run: RunState): Value => {
  if (m === null) return null
  if (Array.isArray(m) || m instanceof List) {
    const items = m instanceof List ? m.items : m
    return typeof k === "number" && Number.isInteger(k) && k >= 0 && k < items.length ? items[k]! : null
  }
  if (m instanceof SetValue) return m.has(k, meterOf(run)) ? k : null
  const r = readable(m)
  if (r === undefined) return null
  const key = readKey(k, run)
  return key !== undefined && Object.hasOwn(r, key) ? r[key]! : null
}

/** A copy of a map with room for `extra` more entries, paid for first. */
const copyMap = (m: Value, fn: string, run: RunState, extra: number): Record<string, Value> => {
  if (m === null) {
    checkSizeAhead(run, extra, "collection")
    return Object.create(null)
  }
  if (!isMap(m)) fail("type", `${fn} needs a map, got ${typeName(m)}`)
  const keys = Object.keys(m)
  checkSizeAhead(run, keys.length + extra, "collection")
  const out: Record<string, Value> = Object.create(null)
  for (const k of keys) out[k] = (m as MapValue)[k]!
  return out
}

const assoc1 = (m: Value, k: Value, v: Value, run: RunState, fn: string): Value => {
  if (Array.isArray(m)) {
    if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k > m.length) fail("index", `${fn}: index ${print(k)} is outside the vector (size ${m.length})`)
    checkSizeAhead(run, m.length + 1, "collection")
    const out = [...m]
    out[k as number] = v
    return out
  }
  const out = copyMap(m, fn, run, 1)
  out[keyOfArg(k, fn, run)] = v
  return out
}

/** Maps `f` over items, effectfully only if needed. */
const mapItems = (items: ReadonlyArray<Value>, f: (x: Value, i: number) => unknown, run: RunState): unknown => {
  checkSizeAhead(run, items.length, "collection")
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

/**
 * Text in Unicode code point order (JavaScript's own compares UTF-16 units: an emoji, a surrogate
 * pair, would come before U+E000 to U+FFFF). At the first unit that differs, surrogates move above
 * the units that follow them, which orders the two as their code points.
 */
const textOrder = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    const fx = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x
    const fy = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y
    return fx - fy
  }
  return a.length - b.length
}

const compare = (a: Value, b: Value, fn: string, run: RunState): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "string" && typeof b === "string") {
    // Comparing text walks its common prefix: paid by the shorter one's length.
    const n = Math.min(a.length, b.length)
    if (n > 64) step(run, n >> 6)
    return a === b ? 0 : textOrder(a, b)
  }
  return fail("type", `${fn} compares numbers with numbers or strings with strings, got ${typeName(a)} and ${typeName(b)}`)
}

const comparison = (name: string, test: (c: number) => boolean, doc: string): Builtin =>
  builtin({
    name, group: "core", arglists: ["[x & more]"], doc, example: `(${name} 1 2 3) ;=> ${test(-1)}`,
    impl: (args, run) => {
      step(run, args.length)
      for (let i = 0; i + 1 < args.length; i++) if (!test(compare(args[i]!, args[i + 1]!, name, run))) return false
      return true
    }
  })

/**
 * Converts a value to JSON data (for publishing and json/stringify). Each node is charged as it is
 * converted, and each string by its length (the JSON text will hold it once per occurrence), so a
 * value sharing structure stops at the budget instead of becoming an exponentially large text.
 */
export const toJson = (v: Value, where: string, meter: Meter): unknown => {
  meter.charge(1, costs.element)
  return jsonOf(v, where, meter, 0)
}

/**
 * Deepest nesting a program writes as JSON (a payload, json/stringify) or reads (json/parse): a
 * payload's limit (src/runtime/json.ts), so what a program builds can be published.
 */
const maxJsonDepth = 512

const tooDeep = (where: string) =>
  fail("json", `${where}: the value nests vectors and maps deeper than ${maxJsonDepth.toLocaleString("en-US")} levels (the nesting limit of JSON a program writes)`)

/** The conversion, the node itself paid for: each container pays for its children, each string for its text. */
const jsonOf = (v: Value, where: string, meter: Meter, depth: number): unknown => {
  if (v === null || typeof v === "boolean") return v
  if (typeof v === "string") {
    // Its bytes now (the JSON text will hold it once per occurrence); a step per 64 characters.
    if (v.length > 16) meter.charge(v.length >> 6, v.length * costs.char)
    return v
  }
  if (typeof v === "number") {
    return Number.isFinite(v) ? v : fail("json", `${where}: ${v} cannot be written as JSON`)
  }
  if (v instanceof Keyword || v instanceof Sym) {
    // Written as its name, as a string is: paid the same (a keyword made from data can be long).
    if (v.name.length > 16) meter.charge(v.name.length >> 6, v.name.length * costs.char)
    return v.name
  }
  const items = v instanceof List ? v.items : Array.isArray(v) ? v : v instanceof SetValue ? v.values() : undefined
  if (depth >= maxJsonDepth && (items !== undefined || isMap(v))) return tooDeep(where)
  if (items !== undefined) {
    meter.charge(items.length, items.length * costs.element)
    return items.map((x) => jsonOf(x, where, meter, depth + 1))
  }
  if (isMap(v)) {
    const keys = Object.keys(v)
    let bytes = keys.length * costs.entry
    for (const k of keys) bytes += k.length * costs.char
    meter.charge(keys.length, bytes)
    const out: Record<string, unknown> = {}
    for (const k of keys) {
      const x = jsonOf(v[k]!, where, meter, depth + 1)
      // An own "__proto__" entry is data: defined, never assigned (which would set the prototype).
      if (k === "__proto__") Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true })
      else out[k] = x
    }
    return out
  }
  return fail("json", `${where}: ${typeName(v)} cannot be written as JSON`)
}

const fromJson = (v: unknown, meter: Meter): Value => {
  meter.charge(1, costs.element)
  if (Array.isArray(v)) return v.map((x) => fromJson(x, meter))
  if (v !== null && typeof v === "object") {
    const out: Record<string, Value> = Object.create(null)
    for (const k of Object.keys(v)) out[k] = fromJson((v as Record<string, unknown>)[k], meter)
    return out
  }
  return v as Value
}

/** Text of a value for str, format and join: metered, and failing past the string limit. */
const textOf = (v: Value, run: RunState, room: number): string =>
  print(v, true, {
    meter: run.budget,
    maxChars: Math.max(0, room),
    tooLong: () => fail("value-size", `a string would be over the limit of ${run.limits.maxString.toLocaleString("en-US")} characters`)
  })

/** `%d`: a number's integer part (its fraction dropped), all its digits (1e21 is 1000000000000000000000, not "1e+21"). */
const integerDigits = (v: Value): string => {
  const n = Math.trunc(num(v, "format %d"))
  if (!Number.isFinite(n)) fail("format", `format: %d needs a finite number, got ${print(v)}`)
  return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString()
}

/** `%f`: a number with `digits` decimals, in digits (toFixed writes 1e21 and above in exponent form). */
const fixedDigits = (n: number, digits: number): string => {
  if (!Number.isFinite(n) || Math.abs(n) < 1e21) return n.toFixed(digits)
  // So large a double has no fraction: its integer digits, then zeros.
  return `${BigInt(n).toString()}${digits === 0 ? "" : `.${"0".repeat(digits)}`}`
}

const formatString = (fmt: string, args: ReadonlyArray<Value>, run: RunState): string => {
  let i = 0
  let length = fmt.length
  // Anything else after a % is refused, not left in the text with its argument dropped.
  return fmt.replace(/%(%|s|d|(?:\.(\d+))?f|\.?\d*[\s\S]?)/g, (whole, kind: string, digits: string | undefined) => {
    if (kind === "%") return "%"
    if (kind !== "s" && kind !== "d" && !kind.endsWith("f")) {
      fail("format", `format: ${JSON.stringify(whole)} is not a directive format knows: %s (any value), %d (integer), %f or %.2f (number), %% (a % sign)`)
    }
    if (digits !== undefined && Number(digits) > 100) fail("format", `format: ${whole} asks for more than 100 decimals`)
    if (i >= args.length) fail("format", `format: ${whole} has no argument (only ${args.length} given)`)
    const a = args[i++]!
    if (kind === "s") {
      const text = textOf(a, run, run.limits.maxString - length)
      length += text.length
      return text
    }
    const out = kind === "d" ? integerDigits(a) : fixedDigits(num(a, "format %f"), digits === undefined ? 6 : Math.min(100, Number(digits)))
    length += out.length
    if (length > run.limits.maxString) fail("value-size", `a string would be over the limit of ${run.limits.maxString.toLocaleString("en-US")} characters`)
    allocate(run, out.length * costs.char)
    return out
  })
}

/** `text` without whitespace at either end, for a parse: trimming reads it, so it costs a step per 16 characters. */
const trimmed = (text: string, run: RunState): string => {
  step(run, text.length >> 4)
  return text.trim()
}

/**
 * How deeply a JSON text's arrays and objects nest, up to `max + 1` (then it stops): read before
 * JSON.parse, whose time grows with the nesting far faster than with the text's length.
 */
const jsonDepth = (text: string, max: number): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // a backslash escapes the next character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) {
      if (++depth > deepest && (deepest = depth) > max) return deepest
    } else if (c === 93 || c === 125) depth--
  }
  return deepest
}


/** Searching `text` for `part` (split, includes?, replace): at worst every position compares all of `part`. */
const searchCost = (run: RunState, text: string, part: string): void => {
  step(run, Math.ceil((text.length / 16) * Math.max(1, part.length / 16)))
}

/** Upper or lower case: paid for first (the result may be longer than the text: "ß" is "SS"). */
const changeCase = (v: Value, fn: "upper-case" | "lower-case", run: RunState): string => {
  const text = str(v, fn)
  checkSizeAhead(run, text.length, "string")
  const out = fn === "upper-case" ? text.toUpperCase() : text.toLowerCase()
  if (out.length > text.length) checkSize(run, out.length, "string")
  return out
}

// ---- the library ----------------------------------------------------------------------------

/**
 * Integer arithmetic is exact or an error: numbers are doubles, which hold integers exactly only up
 * to 2^53 - 1, so an operation of exact integers whose result lies beyond fails instead of silently
 * rounding (as Clojure's long arithmetic throws on overflow). An operand with a fraction, or already
 * beyond that range, makes the operation a double's (rounded, possibly ##Inf, as in Clojure).
 */
const exact = (result: number, a: number, b: number, fn: string): number =>
  Number.isSafeInteger(result) || !Number.isSafeInteger(a) || !Number.isSafeInteger(b)
    ? result
    : fail("overflow", `${fn}: integer overflow (${a} and ${b} give a result beyond ±9,007,199,254,740,991, the largest integer a number holds exactly)`)

const arithmetic: Array<Builtin> = [
  builtin({
    name: "+", group: "core", arglists: ["[& xs]"], doc: "The sum of the numbers (0 with none).", example: "(+ 1 2 3) ;=> 6",
    impl: (args) => {
      let s = 0
      for (const a of args) {
        const x = num(a, "+")
        s = exact(s + x, s, x, "+")
      }
      return s
    }
  }),
  builtin({
    name: "-", group: "core", arglists: ["[x]", "[x & ys]"], doc: "Negation of x, or x minus the others.", example: "(- 10 3 2) ;=> 5",
    impl: (args) => {
      const first = num(args[0]!, "-")
      if (args.length === 1) return -first
      let s = first
      for (let i = 1; i < args.length; i++) {
        const x = num(args[i]!, "-")
        s = exact(s - x, s, x, "-")
      }
      return s
    }
  }),
  builtin({
    name: "*", group: "core", arglists: ["[& xs]"], doc: "The product of the numbers (1 with none).", example: "(* 2 3 4) ;=> 24",
    impl: (args) => {
      let s = 1
      for (const a of args) {
        const x = num(a, "*")
        s = exact(s * x, s, x, "*")
      }
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
  builtin({ name: "inc", group: "core", arglists: ["[x]"], doc: "The number plus one.", example: "(inc 41) ;=> 42", impl: ([x]) => {
    const n = num(x!, "inc")
    return exact(n + 1, n, 1, "inc")
  } }),
  builtin({ name: "dec", group: "core", arglists: ["[x]"], doc: "The number minus one.", example: "(dec 43) ;=> 42", impl: ([x]) => {
    const n = num(x!, "dec")
    return exact(n - 1, n, 1, "dec")
  } }),
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
    impl: (args, run) => args.every((a, i) => i === 0 || equals(args[0]!, a, run.budget))
  }),
  builtin({
    name: "not=", group: "core", arglists: ["[x & more]"], doc: "(not (= x ...)).", example: "(not= 1 2) ;=> true",
    impl: (args, run) => !args.every((a, i) => i === 0 || equals(args[0]!, a, run.budget))
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
      for (const a of args) if (a !== null) out += textOf(a, run, run.limits.maxString - out.length)
      return out
    }
  }),
  builtin({
    name: "format", group: "strings", arglists: ["[fmt & args]"], doc: "Fills %s (any value), %d (a number's integer part, its fraction dropped), %f / %.2f (a number with 6 or N decimals, at most 100, in digits however large) and %% in fmt; any other % is an error.",
    example: "(format \"%s took %.1f ms\" \"fetch\" 12.345) ;=> \"fetch took 12.3 ms\"",
    impl: ([fmt, ...args], run) => {
      const f = str(fmt!, "format")
      checkSizeAhead(run, f.length, "string")
      const out = formatString(f, args, run)
      checkSize(run, out.length, "string")
      return out
    }
  }),
  builtin({ name: "upper-case", group: "strings", arglists: ["[s]"], doc: "s in upper case.", example: "(upper-case \"ok\") ;=> \"OK\"", impl: ([s], run) => changeCase(s!, "upper-case", run) }),
  builtin({ name: "lower-case", group: "strings", arglists: ["[s]"], doc: "s in lower case.", example: "(lower-case \"OK\") ;=> \"ok\"", impl: ([s], run) => changeCase(s!, "lower-case", run) }),
  builtin({
    name: "split", group: "strings", arglists: ["[s separator]"], doc: "The parts of s between separators, as a vector.", example: "(split \"a,b\" \",\") ;=> [\"a\" \"b\"]",
    impl: ([s, sep], run) => {
      const text = str(s!, "split")
      const separator = str(sep!, "split")
      // The parts hold the text's characters once more; an empty separator makes one per character.
      // Searching may compare the separator at every position: paid as text x separator length.
      checkSizeAhead(run, text.length, "string")
      searchCost(run, text, separator)
      if (separator.length === 0) checkSizeAhead(run, text.length, "collection")
      // On "", one part per character (not per UTF-16 unit: an emoji stays whole).
      const parts = separator.length === 0 ? [...text] : text.split(separator, run.limits.maxCollection + 1)
      checkSize(run, parts.length, "collection")
      return parts
    }
  }),
  builtin({
    name: "join", group: "strings", arglists: ["[separator coll]"], doc: "The elements of coll as text, separated.", example: "(join \", \" [1 2 3]) ;=> \"1, 2, 3\"",
    impl: ([sep, coll], run) => {
      const separator = str(sep!, "join")
      const items = seqOf(coll!, "join", run)
      let length = 0
      const parts = items.map((x) => {
        const text = x === null ? "" : textOf(x, run, run.limits.maxString - length)
        length += text.length + separator.length
        return text
      })
      checkSizeAhead(run, length, "string")
      return parts.join(separator)
    }
  }),
  builtin({
    name: "keyword", group: "strings", arglists: ["[name]"], doc: "The keyword with this name.", example: "(keyword \"pid\") ;=> :pid",
    impl: ([n], run) => {
      if (n instanceof Keyword) return n
      const name = str(n!, "keyword")
      allocate(run, costs.object + name.length * costs.char)
      return Keyword.fromData(name)
    }
  }),
  builtin({
    name: "name", group: "strings", arglists: ["[x]"], doc: "The name of a keyword or symbol (a string stays itself).", example: "(name :pid) ;=> \"pid\"",
    impl: ([x]) => (x instanceof Keyword || x instanceof Sym ? x.name : str(x!, "name"))
  })
]

const collections: Array<Builtin> = [
  builtin({
    name: "get", group: "collections", arglists: ["[m k]", "[m k default]"], doc: "The value of key k in map m (keywords and strings name the same key), the element at index k of a vector, or default (nil) when there is none or it is nil (a payload field sent as null too, unlike Clojure).",
    example: "(get {:pid 42} :pid) ;=> 42",
    impl: ([m, k, d], run) => {
      const v = getIn(m!, k!, run)
      return v === null && d !== undefined ? d : v
    }
  }),
  builtin({
    name: "get-in", group: "collections", arglists: ["[m path]", "[m path default]"], doc: "Follows the keys of path into nested maps and vectors.",
    example: "(get-in {:a {:b 1}} [:a :b]) ;=> 1",
    impl: ([m, path, d], run) => {
      let v: Value = m!
      const keys = seqOf(path!, "get-in", run)
      step(run, keys.length)
      for (const k of keys) {
        v = getIn(v, k, run)
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
      const keys = seqOf(path!, "assoc-in", run)
      if (keys.length === 0) fail("arity", "assoc-in needs a non-empty path")
      step(run, keys.length)
      const go = (node: Value, i: number): Value =>
        i === keys.length - 1 ? assoc1(node, keys[i]!, v!, run, "assoc-in") : assoc1(node, keys[i]!, go(getIn(node, keys[i]!, run), i + 1), run, "assoc-in")
      return go(m!, 0)
    }
  }),
  builtin({
    name: "dissoc", group: "collections", arglists: ["[m & ks]"], doc: "m without the keys.", example: "(dissoc {:a 1 :b 2} :a) ;=> {:b 2}",
    impl: ([m, ...ks], run) => {
      const out = copyMap(m!, "dissoc", run, 0)
      for (const k of ks) delete out[keyOfArg(k, "dissoc", run)]
      return out
    }
  }),
  builtin({
    name: "update", group: "collections", arglists: ["[m k f & args]"], doc: "m with k set to (f (get m k) args...).",
    example: "(update {:n 1} :n inc) ;=> {:n 2}",
    impl: ([m, k, f, ...args], run, span) => chain(callValue(f!, [getIn(m!, k!, run), ...args], run, span), (v) => assoc1(m!, k!, v, run, "update"))
  }),
  builtin({
    name: "merge", group: "collections", arglists: ["[& maps]"], doc: "One map with the entries of all; later maps win. nil is skipped.",
    example: "(merge {:a 1} {:b 2} {:a 3}) ;=> {:a 3 :b 2}",
    impl: (maps, run) => {
      const given = maps.filter((m) => m !== null).map((m) => (isMap(m) ? m : fail("type", `merge needs maps, got ${typeName(m)}`)))
      const keys = given.map((m) => Object.keys(m))
      checkSizeAhead(run, keys.reduce((n, ks) => n + ks.length, 0), "collection")
      const out: Record<string, Value> = Object.create(null)
      for (let i = 0; i < given.length; i++) for (const k of keys[i]!) out[k] = given[i]![k]!
      return out
    }
  }),
  builtin({
    name: "keys", group: "collections", arglists: ["[m]"], doc: "The keys of a map, as a vector of strings.", example: "(keys {:a 1}) ;=> [\"a\"]",
    impl: ([m], run) => {
      if (m === null) return []
      const keys = Object.keys(readable(m!) ?? fail("type", `keys needs a map, got ${typeName(m!)}`))
      checkSize(run, keys.length, "collection")
      return keys
    }
  }),
  builtin({
    name: "vals", group: "collections", arglists: ["[m]"], doc: "The values of a map, as a vector.", example: "(vals {:a 1}) ;=> [1]",
    impl: ([m], run) => {
      if (m === null) return []
      const r = readable(m!) ?? fail("type", `vals needs a map, got ${typeName(m!)}`)
      const keys = Object.keys(r)
      checkSize(run, keys.length, "collection")
      return keys.map((k) => r[k]!)
    }
  }),
  builtin({
    name: "count", group: "collections", arglists: ["[coll]"], doc: "The number of elements (characters of a string, entries of a map; nil is 0).",
    example: "(count [1 2 3]) ;=> 3",
    impl: ([c], run) => {
      if (c === null) return 0
      if (typeof c === "string") return characterCount(c, run)
      if (Array.isArray(c)) return c.length
      if (c instanceof List) return c.items.length
      if (c instanceof SetValue) return c.size
      if (isMap(c)) {
        const n = Object.keys(c).length
        step(run, n)
        return n
      }
      return fail("type", `count needs a collection, got ${typeName(c!)}`)
    }
  }),
  builtin({
    name: "first", group: "collections", arglists: ["[coll]"], doc: "The first element, or nil.", example: "(first [1 2]) ;=> 1",
    impl: ([c], run) => (typeof c === "string" ? characterAt(c, 0, run) : seqOf(c!, "first", run)[0]) ?? null
  }),
  builtin({
    name: "second", group: "collections", arglists: ["[coll]"], doc: "The second element, or nil.", example: "(second [1 2]) ;=> 2",
    impl: ([c], run) => (typeof c === "string" ? characterAt(c, 1, run) : seqOf(c!, "second", run)[1]) ?? null
  }),
  builtin({
    name: "last", group: "collections", arglists: ["[coll]"], doc: "The last element, or nil.", example: "(last [1 2]) ;=> 2",
    impl: ([c], run) => {
      if (typeof c === "string") return lastCharacter(c) ?? null
      const s = seqOf(c!, "last", run)
      return s[s.length - 1] ?? null
    }
  }),
  builtin({
    name: "nth", group: "collections", arglists: ["[coll i]", "[coll i default]"], doc: "The element at index i; without a default, an index outside the collection is an error.",
    example: "(nth [:a :b] 1) ;=> :b",
    impl: ([c, i, d], run) => {
      const n = num(i!, "nth")
      if (typeof c === "string") {
        const ch = characterAt(c, n, run)
        if (ch !== undefined) return ch
        return d !== undefined ? d : fail("index", `nth: index ${n} is outside the string (length ${characterCount(c, run)})`)
      }
      const s = seqOf(c!, "nth", run)
      if (Number.isInteger(n) && n >= 0 && n < s.length) return s[n]!
      return d !== undefined ? d : fail("index", `nth: index ${n} is outside the collection (size ${s.length})`)
    }
  }),
  builtin({ name: "rest", group: "collections", arglists: ["[coll]"], doc: "All but the first element, as a list.", example: "(rest [1 2 3]) ;=> (2 3)", impl: ([c], run) => {
    const items = seqOf(c!, "rest", run)
    checkSizeAhead(run, items.length, "collection")
    return new List(items.slice(1))
  } }),
  builtin({
    name: "cons", group: "collections", arglists: ["[x coll]"], doc: "A list of x followed by the elements of coll.", example: "(cons 1 [2 3]) ;=> (1 2 3)",
    impl: ([x, c], run) => {
      const rest = seqOf(c!, "cons", run)
      checkSizeAhead(run, rest.length + 1, "collection")
      return new List([x!, ...rest])
    }
  }),
  builtin({
    name: "conj", group: "collections", arglists: ["[coll & xs]"], doc: "coll with xs added: at the end of a vector, the front of a list, into a set; a map takes [k v] pairs or maps.",
    example: "(conj [1 2] 3) ;=> [1 2 3]",
    impl: ([c, ...xs], run) => {
      if (c === null || Array.isArray(c)) {
        const items = (c ?? []) as ReadonlyArray<Value>
        checkSizeAhead(run, items.length + xs.length, "collection")
        return [...items, ...xs]
      }
      if (c instanceof List) {
        checkSizeAhead(run, c.items.length + xs.length, "collection")
        return new List([...[...xs].reverse(), ...c.items])
      }
      if (c instanceof SetValue) {
        checkSizeAhead(run, c.size + xs.length, "collection")
        return c.with(xs, run.budget)
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
      const parts = colls.map((c) => seqOf(c, "concat", run))
      checkSizeAhead(run, parts.reduce((n, p) => n + p.length, 0), "collection")
      const out: Array<Value> = []
      for (const p of parts) for (const x of p) out.push(x)
      return new List(out)
    }
  }),
  builtin({
    name: "into", group: "collections", arglists: ["[to from]"], doc: "`to` with every element of `from` conj'ed onto it.", example: "(into #{} [1 1 2]) ;=> #{1 2}",
    impl: ([to, from], run, span) => {
      const conj = collections.find((b) => b.name === "conj")!
      const items = seqOf(from!, "into", run)
      checkSizeAhead(run, items.length, "collection")
      return conj.impl([to!, ...items], run, span)
    }
  }),
  builtin({
    name: "contains?", group: "collections", arglists: ["[coll k]"], doc: "True when the map has key k, the set has member k, or the vector has index k.",
    example: "(contains? {:a nil} :a) ;=> true",
    impl: ([c, k], run) => {
      if (c === null) return false
      if (c instanceof SetValue) return c.has(k!, run.budget)
      if (Array.isArray(c)) return typeof k === "number" && Number.isInteger(k) && k >= 0 && k < c.length
      const r = readable(c!)
      const key = readKey(k!, run)
      return r !== undefined && key !== undefined && Object.hasOwn(r, key)
    }
  }),
  builtin({
    name: "empty?", group: "collections", arglists: ["[coll]"], doc: "True for nil and empty collections or strings.", example: "(empty? []) ;=> true",
    impl: ([c], run) => {
      if (c === null) return true
      if (typeof c === "string") return c.length === 0
      if (isMap(c)) {
        for (const _ in c) return false
        return true
      }
      return seqOf(c!, "empty?", run).length === 0
    }
  }),
  builtin({
    name: "range", group: "collections", arglists: ["[end]", "[start end]", "[start end step]"], doc: "The numbers from start (0) up to but not including end, by step (1), as a vector.",
    example: "(range 3) ;=> [0 1 2]",
    impl: (args, run) => {
      const [start, end, by] = args.length === 1 ? [0, num(args[0]!, "range"), 1] : [num(args[0]!, "range"), num(args[1]!, "range"), args[2] === undefined ? 1 : num(args[2], "range")]
      if (by === 0) fail("range", "range: the step cannot be 0")
      const size = Math.max(0, Math.ceil((end - start) / by))
      if (!Number.isFinite(size)) {
        fail("range", ![start, end, by].every(Number.isFinite)
          ? "range: start, end and step must be finite numbers"
          : `range: from ${start} to ${end} by ${by} is more numbers than a collection can hold`)
      }
      checkSizeAhead(run, size, "collection")
      const out = new Array<Value>(size)
      for (let i = 0; i < size; i++) out[i] = start + i * by
      return out
    }
  }),
  builtin({
    name: "list", group: "collections", arglists: ["[& xs]"], doc: "A list of the arguments.", example: "(list 1 2) ;=> (1 2)",
    impl: (xs, run) => {
      checkSizeAhead(run, xs.length, "collection")
      return new List([...xs])
    }
  }),
  builtin({
    name: "vector", group: "collections", arglists: ["[& xs]"], doc: "A vector of the arguments.", example: "(vector 1 2) ;=> [1 2]",
    impl: (xs, run) => {
      checkSizeAhead(run, xs.length, "collection")
      return [...xs]
    }
  }),
  builtin({
    name: "vec", group: "collections", arglists: ["[coll]"], doc: "A vector of the elements of coll.", example: "(vec '(1 2)) ;=> [1 2]",
    impl: ([c], run) => {
      if (Array.isArray(c)) return c
      const items = seqOf(c!, "vec", run)
      checkSizeAhead(run, items.length, "collection")
      return [...items]
    }
  }),
  builtin({
    name: "hash-map", group: "collections", arglists: ["[& kvs]"], doc: "A map of the key/value pairs.", example: "(hash-map :a 1) ;=> {:a 1}",
    impl: (kvs, run) => {
      if (kvs.length % 2 === 1) fail("arity", "hash-map needs a value for every key")
      checkSizeAhead(run, kvs.length, "collection")
      const out: Record<string, Value> = Object.create(null)
      for (let i = 0; i < kvs.length; i += 2) out[keyOfArg(kvs[i]!, "hash-map", run)] = kvs[i + 1]!
      return out
    }
  }),
  builtin({
    name: "hash-set", group: "collections", arglists: ["[& xs]"], doc: "A set of the arguments.", example: "(hash-set 1 2 1) ;=> #{1 2}",
    impl: (xs, run) => {
      checkSizeAhead(run, xs.length, "collection")
      return new SetValue(xs, run.budget)
    }
  }),
  builtin({
    name: "sort", group: "collections", arglists: ["[coll]"], doc: "The elements in ascending order (numbers or strings), as a vector.", example: "(sort [3 1 2]) ;=> [1 2 3]",
    impl: ([c], run) => {
      const from = seqOf(c!, "sort", run)
      // NaN is neither below nor above anything: a sort holding it would come out in no order.
      if (from.some((x) => typeof x === "number" && Number.isNaN(x))) fail("type", "sort: NaN has no place in an order (it is neither below nor above any number)")
      checkSizeAhead(run, from.length, "collection")
      step(run, Math.ceil(from.length * Math.log2(from.length + 1)))
      return [...from].sort((a, b) => compare(a, b, "sort", run))
    }
  })
]

const higherOrder: Array<Builtin> = [
  builtin({
    name: "map", group: "collections", arglists: ["[f coll]"], doc: "A vector of (f x) for each element x.", example: "(map inc [1 2 3]) ;=> [2 3 4]",
    impl: ([f, c], run, span) => mapItems(seqOf(c!, "map", run), (x) => callValue(f!, [x], run, span), run)
  }),
  builtin({
    name: "filter", group: "collections", arglists: ["[pred coll]"], doc: "A vector of the elements for which (pred x) is true.", example: "(filter odd? [1 2 3]) ;=> [1 3]",
    impl: ([f, c], run, span) => {
      const items = seqOf(c!, "filter", run)
      return chain(mapItems(items, (x) => callValue(f!, [x], run, span), run), (keep) =>
        items.filter((_, i) => truthy((keep as ReadonlyArray<Value>)[i]!)))
    }
  }),
  builtin({
    name: "reduce", group: "collections", arglists: ["[f coll]", "[f init coll]"], doc: "Combines the elements with (f acc x), from init (or the first element).",
    example: "(reduce + 0 [1 2 3]) ;=> 6",
    impl: (args, run, span) => {
      const f = args[0]!
      const items = seqOf(args.length === 3 ? args[2]! : args[1]!, "reduce", run)
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
    impl: ([f, c], run, span) => firstWhere(seqOf(c!, "some", run), (x) => callValue(f!, [x], run, span), truthy, (r) => r, null, run)
  }),
  builtin({
    name: "every?", group: "collections", arglists: ["[pred coll]"], doc: "True when (pred x) is true for every element.", example: "(every? number? [1 2]) ;=> true",
    impl: ([f, c], run, span) => firstWhere(seqOf(c!, "every?", run), (x) => callValue(f!, [x], run, span), (r) => !truthy(r), () => false, true, run)
  }),
  builtin({
    name: "apply", group: "core", arglists: ["[f args]", "[f x & args]"], doc: "Calls f with the arguments, the last of which is a collection spread into them.",
    example: "(apply + 1 [2 3]) ;=> 6",
    impl: ([f, ...rest], run, span) => {
      const last = seqOf(rest[rest.length - 1]!, "apply", run)
      checkSizeAhead(run, rest.length - 1 + last.length, "collection")
      return callValue(f!, [...rest.slice(0, -1), ...last], run, span)
    }
  }),
  builtin({ name: "identity", group: "core", arglists: ["[x]"], doc: "Its argument, unchanged (useful with map and filter).", example: "(identity 1) ;=> 1", impl: ([x]) => x! }),
  builtin({ name: "odd?", group: "core", arglists: ["[n]"], doc: "True for odd integers.", example: "(odd? 3) ;=> true", impl: ([n]) => Math.abs(num(n!, "odd?") % 2) === 1 }),
  builtin({ name: "even?", group: "core", arglists: ["[n]"], doc: "True for even integers.", example: "(even? 4) ;=> true", impl: ([n]) => num(n!, "even?") % 2 === 0 })
]

const json: Array<Builtin> = [
  builtin({
    name: "json/parse", group: "json", arglists: ["[s]"], doc: "The value of a JSON text (objects become maps with string keys); an integer beyond 2^53 - 1, which a number cannot hold exactly, is an error.", example: "(json/parse \"{\\\"a\\\": 1}\") ;=> {:a 1}",
    impl: ([s], run) => {
      const text = str(s!, "json/parse")
      checkSizeAhead(run, text.length, "string")
      if (jsonDepth(text, maxJsonDepth) > maxJsonDepth) {
        fail("json", `json/parse: the text nests arrays and objects deeper than ${maxJsonDepth.toLocaleString("en-US")} levels (the nesting limit of json/parse)`)
      }
      let parsed: unknown
      try {
        // An integer written beyond 2^53 - 1 would be rounded: refused, as arithmetic refuses it.
        parsed = parseExactJson(text)
      } catch (e) {
        return fail("json", `json/parse: ${e instanceof Error ? e.message : String(e)}`)
      }
      return fromJson(parsed, run.budget)
    }
  }),
  builtin({
    name: "json/stringify", group: "json", arglists: ["[x]"], doc: "x as JSON text (keywords become strings, sets and lists arrays).", example: "(json/stringify {:a [1 2]}) ;=> \"{\\\"a\\\":[1,2]}\"",
    impl: ([x], run) => {
      const out = JSON.stringify(toJson(x!, "json/stringify", run.budget))
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

/** Failing on purpose, and the errors a `catch` binds. */
const errors: Array<Builtin> = [
  builtin({
    name: "throw", group: "core", arglists: ["[error]"],
    doc: "Fails the run with this error: (ex-info message data), a string, or a map with :message (and :data). Uncaught, it is a located failure whose message (with the data) reaches the dead letter; (try ... (catch e ...)) catches it.",
    example: "(try (throw \"out of stock\") (catch e (:message e))) ;=> \"out of stock\"",
    impl: ([e], run) => {
      const error = e!
      if (typeof error === "string") throw new LangError("thrown", error, [], null)
      if (isMap(error) && typeof error.message === "string") {
        const data = Object.hasOwn(error, "data") ? error.data! : null
        throw new LangError("thrown", error.message, [], data)
      }
      throw new LangError("thrown", print(error, false, { meter: run.budget, maxChars: 2000 }), [], null)
    }
  }),
  builtin({
    name: "ex-info", group: "core", arglists: ["[message data]", "[message]"], doc: "An error to throw: {:message message :data data}.",
    example: "(ex-info \"no stock\" {:sku 7}) ;=> {:message \"no stock\" :data {:sku 7}}",
    impl: ([message, data]) => makeMap([["message", str(message!, "ex-info")], ["data", data ?? null]])
  }),
  builtin({ name: "ex-message", group: "core", arglists: ["[error]"], doc: "The message of a caught error (or of ex-info's value).", example: "(ex-message (ex-info \"x\" {})) ;=> \"x\"", impl: ([e], run) => getIn(e!, "message", run) }),
  builtin({ name: "ex-data", group: "core", arglists: ["[error]"], doc: "The data of a caught error (nil when it has none).", example: "(ex-data (ex-info \"x\" {:a 1})) ;=> {:a 1}", impl: ([e], run) => getIn(e!, "data", run) })
]

/** Text: pieces, tests and numbers read from it. */
const moreStrings: Array<Builtin> = [
  builtin({
    name: "subs", group: "strings", arglists: ["[s start]", "[s start end]"], doc: "The characters of s from start (inclusive) to end (exclusive; default the end).",
    example: "(subs \"heartbeat\" 5) ;=> \"beat\"",
    impl: ([s, start, end], run) => {
      const text = str(s!, "subs")
      const length = characterCount(text, run)
      const from = num(start!, "subs")
      const to = end === undefined ? length : num(end, "subs")
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > length || from > to) {
        fail("index", `subs: ${from}..${to} is outside the string (length ${length})`)
      }
      checkSizeAhead(run, to - from, "string")
      if (length === text.length) return text.slice(from, to)
      const begin = offsetOfCharacter(text, from, run)
      return text.slice(begin, offsetOfCharacter(text, to - from, run, begin))
    }
  }),
  builtin({
    name: "trim", group: "strings", arglists: ["[s]"], doc: "s without whitespace at either end.", example: "(trim \"  ok \") ;=> \"ok\"",
    impl: ([s], run) => {
      const text = str(s!, "trim")
      checkSizeAhead(run, text.length, "string")
      return text.trim()
    }
  }),
  builtin({
    name: "includes?", group: "strings", arglists: ["[s part]"], doc: "True when s contains part.", example: "(includes? \"heartbeat\" \"art\") ;=> true",
    impl: ([s, part], run) => {
      const text = str(s!, "includes?")
      const p = str(part!, "includes?")
      searchCost(run, text, p)
      return text.includes(p)
    }
  }),
  builtin({
    name: "starts-with?", group: "strings", arglists: ["[s prefix]"], doc: "True when s starts with prefix.", example: "(starts-with? \"svc.beat\" \"svc.\") ;=> true",
    impl: ([s, prefix], run) => {
      const p = str(prefix!, "starts-with?")
      step(run, p.length >> 4)
      return str(s!, "starts-with?").startsWith(p)
    }
  }),
  builtin({
    name: "ends-with?", group: "strings", arglists: ["[s suffix]"], doc: "True when s ends with suffix.", example: "(ends-with? \"a.png\" \".png\") ;=> true",
    impl: ([s, suffix], run) => {
      const p = str(suffix!, "ends-with?")
      step(run, p.length >> 4)
      return str(s!, "ends-with?").endsWith(p)
    }
  }),
  builtin({
    name: "replace", group: "strings", arglists: ["[s match replacement]"], doc: "s with every occurrence of match (a string, taken literally) replaced.",
    example: "(replace \"a-b-c\" \"-\" \"/\") ;=> \"a/b/c\"",
    impl: ([s, match, replacement], run) => {
      const text = str(s!, "replace")
      const m = str(match!, "replace")
      const r = str(replacement!, "replace")
      if (m.length === 0) fail("replace", "replace: the text to replace cannot be empty")
      searchCost(run, text, m)
      // The result's size is known before building it: occurrences x (replacement - match) more.
      let count = 0
      for (let i = text.indexOf(m); i !== -1; i = text.indexOf(m, i + m.length)) count++
      step(run, text.length >> 4)
      checkSizeAhead(run, text.length + count * (r.length - m.length), "string")
      return text.split(m).join(r)
    }
  }),
  builtin({
    name: "parse-long", group: "strings", arglists: ["[s]"], doc: "The integer written in s (digits with an optional sign; whitespace around it is ignored), or nil when s is not one or is beyond 2^53 - 1.",
    example: "(parse-long \"42\") ;=> 42",
    impl: ([s], run) => {
      const text = trimmed(str(s!, "parse-long"), run)
      if (!/^[-+]?\d{1,16}$/.test(text)) return null
      const n = Number(text)
      return Number.isSafeInteger(n) ? n : null
    }
  }),
  builtin({
    name: "parse-double", group: "strings", arglists: ["[s]"], doc: "The number written in s (as JSON writes numbers, or with a leading + or .; whitespace around it is ignored), or nil when s is not one or is not finite.",
    example: "(parse-double \"2.5\") ;=> 2.5",
    impl: ([s], run) => {
      const text = trimmed(str(s!, "parse-double"), run)
      if (text.length > 64 || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null
      const n = Number(text)
      return Number.isFinite(n) ? n : null
    }
  })
]

export const coreBuiltins: ReadonlyArray<Builtin> = [
  ...arithmetic, ...predicates, ...strings, ...moreStrings, ...collections, ...higherOrder, ...json, ...errors
]

export const protectedBuiltins: ReadonlyArray<Builtin> = [
  internal("sib/list", "list"), internal("sib/cons", "cons"), internal("sib/concat", "concat"), internal("sib/vec", "vec"),
  internal("sib/=", "="),
  { ...collections.find((b) => b.name === "hash-map")!, name: "sib/apply-hash-map", arglists: ["[kvs]"], min: 1, max: 1,
    impl: ([kvs], run, span) => collections.find((b) => b.name === "hash-map")!.impl(seqOf(kvs!, "hash-map", run), run, span) },
  { ...collections.find((b) => b.name === "hash-set")!, name: "sib/apply-hash-set", arglists: ["[xs]"], min: 1, max: 1,
    impl: ([xs], run, span) => collections.find((b) => b.name === "hash-set")!.impl(seqOf(xs!, "hash-set", run), run, span) },
  // What destructuring reads with (lang/destructure.ts).
  internal("sib/get", "get"),
  { ...collections.find((b) => b.name === "nth")!, name: "sib/nth" },
  builtin({
    name: "sib/nthrest", group: "collections", arglists: ["[coll n]"], doc: "(internal: the rest of a vector pattern) the elements from index n as a list, or nil when there are none.",
    impl: ([c, n], run) => {
      const items = seqOf(c!, "a vector pattern", run)
      const from = num(n!, "a vector pattern")
      if (from >= items.length) return null
      checkSizeAhead(run, items.length - from, "collection")
      return new List(items.slice(from))
    }
  })
]

export { makeMap }
export type { Span }
