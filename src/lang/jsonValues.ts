/**
 * Values as JSON: toJson (for publishing and json/stringify) and back (json/parse), both paid per
 * node and both refusing nesting deeper than a payload may hold, and the json builtins (with `now`,
 * which the reference lists after them). The JSON text itself is parsed by src/runtime/json.ts.
 */
import { costs, isMap, Keyword, List, type Meter, SetValue, Sym, typeName, type Value } from "../reader/Value.ts"
import { parseExactJson } from "../runtime/json.ts"
import { type Builtin, builtin } from "./builtins.ts"
import { str } from "./operands.ts"
import { fail } from "./langError.ts"
import { checkSize, checkSizeAhead, nowMillis } from "./run.ts"

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
    meter.charge(0, costs.map)
    const out: Record<string, Value> = Object.create(null)
    for (const k of Object.keys(v)) out[k] = fromJson((v as Record<string, unknown>)[k], meter)
    return out
  }
  return v as Value
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

export const json: Array<Builtin> = [
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
