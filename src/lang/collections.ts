/**
 * Collections and the functions over them: reading, "updating" (every update returns a new value:
 * maps and vectors are copied, paid for first), sequences, and the higher-order functions (map,
 * filter, reduce, some, every?, apply), which stay synchronous unless the function they call
 * returns an effect. identity, odd? and even? sit here as the helpers they are for map and filter.
 */
import * as Effect from "effect/Effect"
import { costs, isMap, List, type MapValue, print, SetValue, truthy, typeName, type Value } from "../reader/Value.ts"
import { type Builtin, builtin, callValue } from "./builtins.ts"
import { getIn, keyOfArg, num, readable, readKey, seqOf } from "./operands.ts"
import { compare } from "./order.ts"
import { fail } from "./langError.ts"
import { allocate, chain, checkSize, checkSizeAhead, isEffect, lift, type RunState, sequence, step } from "./run.ts"
import { characterAt, characterCount, lastCharacter } from "./text.ts"

// ---- helpers --------------------------------------------------------------------------------

/** A copy of a map with room for `extra` more entries, paid for first. */
const copyMap = (m: Value, fn: string, run: RunState, extra: number): Record<string, Value> => {
  if (m === null) {
    checkSizeAhead(run, extra, "collection")
    allocate(run, costs.map)
    return Object.create(null)
  }
  if (!isMap(m)) fail("type", `${fn} needs a map, got ${typeName(m)}`)
  const keys = Object.keys(m)
  checkSizeAhead(run, keys.length + extra, "collection")
  allocate(run, costs.map)
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

// ---- the library ----------------------------------------------------------------------------

export const collections: Array<Builtin> = [
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
      allocate(run, costs.map)
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
      allocate(run, costs.map)
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

export const higherOrder: Array<Builtin> = [
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
