/**
 * The core library: arithmetic and comparison, equality, strings, maps, sequences, higher-order
 * functions and JSON. Collections are immutable: every "update" returns a new value. Higher-order
 * functions stay synchronous unless the function they call returns an effect. Every function pays
 * for what it touches before it does it where it can: a collection or string it builds is checked
 * against the size limits and charged per element (per 16 characters) and by its estimated bytes;
 * a value it walks (comparing, hashing, printing, JSON) is charged per node through the run's
 * budget, so a value sharing structure costs what walking it costs, not what building it cost.
 *
 * This module holds arithmetic and comparison, equality, the predicates and errors, and assembles
 * the library (coreBuiltins, and the protected names quasiquote, core macros and destructuring
 * use) from text.ts, collections.ts and jsonValues.ts; operands.ts reads the builtins' arguments.
 */
import type { Span } from "../diagnostics/Span.ts"
import { costs, equals, isCallable, isMap, Keyword, List, makeMap, print, SetValue, truthy, type Value } from "../reader/Value.ts"
import { type Builtin, builtin } from "./builtins.ts"
import { collections, higherOrder } from "./collections.ts"
import { json } from "./jsonValues.ts"
import { getIn, num, seqOf, str } from "./operands.ts"
import { compare } from "./order.ts"
import { fail, LangError } from "./langError.ts"
import { allocate, checkSizeAhead, step } from "./run.ts"
import { moreStrings, strings } from "./text.ts"

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
    impl: ([message, data], run) => {
      allocate(run, costs.map + 2 * costs.entry)
      return makeMap([["message", str(message!, "ex-info")], ["data", data ?? null]])
    }
  }),
  builtin({ name: "ex-message", group: "core", arglists: ["[error]"], doc: "The message of a caught error (or of ex-info's value).", example: "(ex-message (ex-info \"x\" {})) ;=> \"x\"", impl: ([e], run) => getIn(e!, "message", run) }),
  builtin({ name: "ex-data", group: "core", arglists: ["[error]"], doc: "The data of a caught error (nil when it has none).", example: "(ex-data (ex-info \"x\" {:a 1})) ;=> {:a 1}", impl: ([e], run) => getIn(e!, "data", run) })
]

export const coreBuiltins: ReadonlyArray<Builtin> = [
  ...arithmetic, ...predicates, ...strings, ...moreStrings, ...collections, ...higherOrder, ...json, ...errors
]

/** Protected aliases used by quasiquote and core macros; user definitions cannot shadow them. */
const internal = (name: string, of: string): Builtin => {
  const target = [...arithmetic, ...collections, ...higherOrder].find((b) => b.name === of)!
  return { ...target, name }
}

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
