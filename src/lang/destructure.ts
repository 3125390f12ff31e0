/**
 * Destructuring, as a pure Syntax -> Syntax rewrite done when `let`, `loop` and `fn` expand: a
 * binding whose name is a pattern becomes plain bindings of fresh names. Patterns:
 * - a vector `[a b & more :as all]`: elements by position (nil past the end), the rest as a list
 *   (nil when empty), the whole value;
 * - a map `{:keys [a b] :strs [c] :or {a 1} :as m}` or `{x :x y "y"}`: values by key (`:keys`
 *   reads keyword keys, `:strs` string keys; both name the same map entry), defaults for missing
 *   ones, the whole value.
 * Patterns nest. The reads go through protected names (`sib/get`, `sib/nth`, `sib/nthrest`), so
 * a program redefining `get` does not change destructuring. A pattern that cannot be read is a
 * located Expand diagnostic.
 */
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import * as S from "../reader/Syntax.ts"

export type Destructured<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly diagnostic: Diagnostic }

const bad = (at: S.Syntax, message: string, hints: ReadonlyArray<string> = []): Destructured<never> => ({
  ok: false,
  diagnostic: diagnostic("Expand", "expand/destructure", message, at.span, { hints })
})

/** True when the binding target is a pattern rather than a name. */
export const isPattern = (s: S.Syntax): boolean => s.kind === "vector" || s.kind === "map"

const call = (at: S.Syntax, name: string, ...args: Array<S.Syntax>) => S.list([S.symbol(name, at.span), ...args], at.span)

/**
 * `target value` as plain `name value` pairs (appended to `out`). A plain name stays as it is; a
 * pattern binds its value to a fresh name first, then reads its parts from that name.
 */
const bind = (target: S.Syntax, value: S.Syntax, fresh: (base: string) => string, out: Array<S.Syntax>): Destructured<true> => {
  if (target.kind === "symbol") {
    out.push(target, value)
    return { ok: true, value: true }
  }
  if (target.kind !== "vector" && target.kind !== "map") {
    return bad(target, `cannot bind ${S.describe(target)}: a binding is a name, a vector pattern or a map pattern`, ["[a b & more] or {:keys [a b]}"])
  }
  const whole = S.symbol(fresh(target.kind === "vector" ? "vec" : "map"), target.span)
  out.push(whole, value)
  return target.kind === "vector" ? bindVector(target, whole, fresh, out) : bindMap(target, whole, fresh, out)
}

const bindVector = (pattern: S.SVector, whole: S.SSymbol, fresh: (base: string) => string, out: Array<S.Syntax>): Destructured<true> => {
  const items = pattern.items
  let position = 0
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    if (item.kind === "symbol" && item.name === "&") {
      const rest = items[i + 1]
      if (rest === undefined) return bad(item, "& in a vector pattern needs a name (or pattern) for the rest after it", ["[a b & more]"])
      const r = bind(rest, call(item, "sib/nthrest", whole, S.number(position, item.span)), fresh, out)
      if (!r.ok) return r
      i++
      continue
    }
    if (item.kind === "keyword" && item.name === "as") {
      const name = items[i + 1]
      if (name?.kind !== "symbol" || i + 2 !== items.length) return bad(item, ":as in a vector pattern comes last, followed by one name", ["[a b :as all]"])
      out.push(name, whole)
      break
    }
    const r = bind(item, call(item, "sib/nth", whole, S.number(position, item.span), S.nil(item.span)), fresh, out)
    if (!r.ok) return r
    position++
  }
  return { ok: true, value: true }
}

const bindMap = (pattern: S.SMap, whole: S.SSymbol, fresh: (base: string) => string, out: Array<S.Syntax>): Destructured<true> => {
  const items = pattern.items
  if (items.length % 2 === 1) return bad(pattern, "a map pattern needs a key for every name", ["{:keys [a b]} or {a :a b \"b\"}"])
  // Defaults first (`:or {name default}`), so every read below can use them.
  const defaults = new Map<string, S.Syntax>()
  for (let i = 0; i < items.length; i += 2) {
    const k = items[i]!
    if (k.kind === "keyword" && k.name === "or") {
      const map = items[i + 1]!
      if (map.kind !== "map" || map.items.length % 2 === 1) return bad(map, ":or takes a map of names to defaults", ["{:keys [a] :or {a 1}}"])
      for (let j = 0; j < map.items.length; j += 2) {
        const name = map.items[j]!
        if (name.kind !== "symbol") return bad(name, `:or names the bound names, not ${S.describe(name)}`, ["{:keys [a] :or {a 1}}"])
        defaults.set(name.name, map.items[j + 1]!)
      }
    }
  }
  // A default is code placed where its name is read: a name with one is read once, so the default
  // is never copied (copies of copies, pattern inside pattern, grew exponentially at expansion).
  const readOnce = new Set<string>()
  const read = (name: S.SSymbol, key: S.Syntax): S.Syntax | Destructured<never> => {
    const fallback = defaults.get(name.name)
    if (fallback === undefined) return call(name, "sib/get", whole, key)
    if (readOnce.has(name.name)) return bad(name, `${name.name} is bound twice in this map pattern, and it has an :or default`, ["bind each name once: {:keys [a b] :or {a 1}}"])
    readOnce.add(name.name)
    return call(name, "sib/get", whole, key, fallback)
  }
  for (let i = 0; i < items.length; i += 2) {
    const k = items[i]!
    const v = items[i + 1]!
    if (k.kind === "keyword" && (k.name === "keys" || k.name === "strs")) {
      if (v.kind !== "vector") return bad(v, `:${k.name} takes a vector of names`, [`{:${k.name} [a b]}`])
      for (const name of v.items) {
        if (name.kind !== "symbol") return bad(name, `:${k.name} lists names, not ${S.describe(name)}`, [`{:${k.name} [a b]}`])
        const value = read(name, k.name === "keys" ? S.keyword(name.name, name.span) : S.string(name.name, name.span))
        if ("ok" in value) return value
        out.push(name, value)
      }
      continue
    }
    if (k.kind === "keyword" && k.name === "or") continue
    if (k.kind === "keyword" && k.name === "as") {
      if (v.kind !== "symbol") return bad(v, ":as takes one name for the whole map", ["{:keys [a] :as m}"])
      out.push(v, whole)
      continue
    }
    // {name key} or {pattern key}: the entry's value bound to the name (or destructured further).
    if (k.kind === "symbol") {
      const value = read(k, v)
      if ("ok" in value) return value
      out.push(k, value)
      continue
    }
    if (isPattern(k)) {
      const r = bind(k, call(k, "sib/get", whole, v), fresh, out)
      if (!r.ok) return r
      continue
    }
    return bad(k, `a map pattern binds names to keys ({name :key}), or uses :keys, :strs, :or, :as; not ${S.describe(k)}`, ["{:keys [a b]} or {a :a}"])
  }
  return { ok: true, value: true }
}

/** `[target value ...]` with every pattern rewritten into plain bindings. */
export const destructureBindings = (items: ReadonlyArray<S.Syntax>, fresh: (base: string) => string): Destructured<Array<S.Syntax>> => {
  const out: Array<S.Syntax> = []
  for (let i = 0; i + 1 < items.length; i += 2) {
    const r = bind(items[i]!, items[i + 1]!, fresh, out)
    if (!r.ok) return r
  }
  if (items.length % 2 === 1) out.push(items[items.length - 1]!)
  return { ok: true, value: out }
}

/**
 * A parameter list with patterns: each pattern becomes a fresh parameter, destructured by a `let`
 * around the body. Undefined when the list has no pattern (it is used as it is).
 */
export const destructureParams = (
  params: S.SVector | S.SList,
  body: ReadonlyArray<S.Syntax>,
  fresh: (base: string) => string
): Destructured<{ readonly params: S.SVector | S.SList; readonly body: ReadonlyArray<S.Syntax> }> | undefined => {
  const items = params.items
  // Clojure's (defn f ([x] ...) ([x y] ...)): the first "parameter list" holds a vector and a body.
  if (params.kind === "list" && items[0]?.kind === "vector") {
    return bad(params, "a function has one parameter list: functions with one body per number of arguments (multi-arity) are not supported", [
      "define one function per arity, or take optional arguments with [a & more] or [a & {:key default}]"
    ])
  }
  const amp = items.findIndex((p) => p.kind === "symbol" && p.name === "&")
  // Keyword arguments (`& {:key default}`) are not a pattern: leave that part alone.
  const keywordArgs = amp >= 0 && items[amp + 1]?.kind === "map"
  const last = keywordArgs ? amp : items.length
  if (!items.slice(0, last).some(isPattern)) return undefined
  const bindings: Array<S.Syntax> = []
  const plain = items.map((p, i) => {
    if (i >= last || !isPattern(p)) return p
    const name = S.symbol(fresh("arg"), p.span)
    bindings.push(p, name)
    return name
  })
  const rewritten = params.kind === "vector" ? S.vector(plain, params.span) : S.list(plain, params.span)
  return { ok: true, value: { params: rewritten, body: [S.list([S.symbol("let", params.span), S.vector(bindings, params.span), ...body], params.span)] } }
}

/** One kind of pattern as the language reference documents it (its examples are run by the suite). */
export interface PatternDoc {
  readonly name: string
  readonly forms: ReadonlyArray<string>
  readonly doc: string
  readonly example: string
}

/** The patterns, for the language reference (`docs/language.md`). */
export const patternDocs: ReadonlyArray<PatternDoc> = [
  {
    name: "vector pattern", forms: ["[a b & more :as all]"],
    doc: "Binds a vector's (or list's) elements by position, nil past the end; `& name` binds the elements left over as a list (nil when none is left); `:as name`, last, binds the whole value. Wherever a name is bound: `let`, `loop`, `fn` and `defn` parameters, `if-let`, `when-let`.",
    example: "(let [[a b & more :as all] [1 2 3 4]] [a b more all]) ;=> [1 2 (3 4) [1 2 3 4]]"
  },
  {
    name: "map pattern", forms: ["{:keys [a b] :or {b default} :as m}", "{name :key other \"key\"}"],
    doc: "Binds a map's entries: `:keys [a b]` binds a and b to the entries :a and :b; `{name :key}` binds name to the entry :key (any key); `:or {name default}` gives a name its value when its entry is missing or nil (JSON's null: a payload field sent as null takes the default too, unlike Clojure); `:as name` binds the whole map. A missing entry without a default is nil.",
    example: "(let [{:keys [id qty] :or {qty 1} :as order} {:id 7}] [id qty order]) ;=> [7 1 {:id 7}]"
  },
  {
    name: ":strs", forms: ["{:strs [a b]}"],
    doc: "Like `:keys`, read by string keys (as `(get m \"a\")`). Keyword and string keys name the same entry, so it reads the same map entries as `:keys`: it is there for code written with string keys.",
    example: "(let [{:strs [name]} {\"name\" \"ada\"}] name) ;=> \"ada\""
  },
  {
    name: "nested patterns", forms: ["{[first-item] :items {:keys [city]} :address}"],
    doc: "A pattern can stand wherever a name is bound in another pattern: in a vector's positions and rest, and as the name of a map entry.",
    example: "(let [{[first-item] :items {:keys [city]} :address} {:items [\"a\" \"b\"] :address {:city \"Oslo\"}}] [first-item city]) ;=> [\"a\" \"Oslo\"]"
  },
  {
    name: "patterns in parameters", forms: ["(fn [{:keys [payload]} ctx] ...)", "(defn f [[x y] & [z]] ...)"],
    doc: "A function's parameters may be patterns (its argument is destructured when it is called), and so may the rest after `&`; keyword parameters (`& {:key default}`) are not a pattern. A handler of `[{:keys [payload key]}]` reads its event's fields directly.",
    example: "((fn [{:keys [a b]} [x y]] (+ a b x y)) {:a 1 :b 2} [3 4]) ;=> 10"
  },
  {
    name: "patterns in loop", forms: ["(loop [[x & more] coll acc 0] ...)"],
    doc: "A `loop` binding may be a pattern: each `recur` gives a new value, destructured again.",
    example: "(loop [[x & more] [1 2 3] acc 0] (if x (recur more (+ acc x)) acc)) ;=> 6"
  }
]
