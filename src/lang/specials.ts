/**
 * The special forms: the few forms the compiler knows directly (everything else is a macro or a
 * function). One table holds each form whole: its shapes, doc and example (the language reference
 * is generated from them), which of its parts are code (`expand`: the expander expands those and
 * leaves names, parameter lists and quoted data as written), and how it compiles (`compile`, given
 * the compiler's operations). A form that is not in this table is a call.
 */
import * as Effect from "effect/Effect"
import type { Span } from "../diagnostics/Span.ts"
import * as S from "../reader/Syntax.ts"
import { syntaxToValue, truthy, type Value } from "../reader/Value.ts"
import type { Namespace } from "./Namespace.ts"
import { chain, type Frame, isEffect, lift, type Node, sequenceLast } from "./run.ts"
import { Scope } from "./Scope.ts"

/** What a special's compilation may use of the compiler. */
export interface SpecialCompiler {
  readonly compile: (s: S.Syntax, scope: Scope | undefined, top?: boolean) => Node
  /** Forms evaluated in order; the value is the last one's. */
  readonly body: (forms: ReadonlyArray<S.Syntax>, scope: Scope | undefined) => Node
  readonly fn: (name: string, self: S.SSymbol | undefined, params: S.SVector | S.SList, body: ReadonlyArray<S.Syntax>, scope: Scope | undefined, span: Span) => Node
  readonly methodCall: (method: string, target: S.Syntax | undefined, args: ReadonlyArray<S.Syntax>, form: S.SList, scope: Scope | undefined) => Node
  /** Records a compile error; the node returned fails if it ever runs. */
  readonly error: (code: string, message: string, at: S.Syntax | Span, hints?: ReadonlyArray<string>) => Node
  /** Records a compile error and lets the form's compilation go on (to report more). */
  readonly problem: (code: string, message: string, at: S.Syntax | Span, hints?: ReadonlyArray<string>) => void
  readonly ns: Namespace
}

export interface Special {
  readonly name: string
  readonly shapes: ReadonlyArray<string>
  readonly doc: string
  readonly example: string
  /** Only at the top level of a file. */
  readonly topLevel?: boolean
  /** The form with its code parts expanded by `walk` (the rest as written). */
  readonly expand: (form: S.SList, walk: (s: S.Syntax) => S.Syntax) => S.Syntax
  /** The form as a node; `top` when it is a top-level form (or inside a top-level `do`). */
  readonly compile: (form: S.SList, scope: Scope | undefined, top: boolean, c: SpecialCompiler) => Node
}

const constant = (v: Value): Node => () => v

/** Every part after the head is code. */
const expandArgs = (form: S.SList, walk: (s: S.Syntax) => S.Syntax): S.Syntax =>
  S.list([form.items[0]!, ...form.items.slice(1).map(walk)], form.span)

/** The first `kept` parts after the head are written as they are (names); the rest is code. */
const expandAfter = (kept: number) => (form: S.SList, walk: (s: S.Syntax) => S.Syntax): S.Syntax =>
  S.list([...form.items.slice(0, 1 + kept), ...form.items.slice(1 + kept).map(walk)], form.span)

/** Nothing in the form is expanded (data, names, or forms the loader handles itself). */
const asWritten = (form: S.SList): S.Syntax => form

/** Forms the loader handles at the top level: anywhere else, an error. */
const topLevelOnly = (form: S.SList, _scope: Scope | undefined, _top: boolean, c: SpecialCompiler): Node =>
  c.error("not-top-level", `${(form.items[0] as S.SSymbol).name} belongs at the top level of a file`, form)

const def: Special = {
  name: "def", shapes: ["name value", "name \"doc\" value"], topLevel: true,
  doc: "Defines a global name (it may replace a built-in of the same name).", example: "(def limit 100) ;=> 100",
  expand: (form, walk) => S.list([form.items[0]!, ...(form.items[1] === undefined ? [] : [form.items[1]]), ...form.items.slice(2).map(walk)], form.span),
  compile: (form, scope, top, c) => {
    const args = form.items.slice(1)
    if (!top) return c.error("not-top-level", "def defines a global, so it belongs at the top level", form, ["use let for a local name"])
    const [n, second, third] = args
    if (n === undefined || n.kind !== "symbol") return c.error("bad-shape", "def needs a name", form, ["(def name value)"])
    const documented = third !== undefined && second?.kind === "string"
    const valueForm = documented ? third : second
    if (args.length > (documented ? 3 : 2)) return c.error("bad-shape", "def takes a name and one value", form, ["(def name value)"])
    const cell = c.ns.declare(n.name, n.span)
    cell.kind = "global"
    if (documented) cell.doc = (second as S.SString).value
    const value = valueForm === undefined ? constant(null) : c.compile(valueForm, scope)
    return (f) => chain(value(f), (v) => {
      cell.value = v
      return v
    })
  }
}

const fn: Special = {
  name: "fn", shapes: ["[params] body...", "name [params] body..."],
  doc: "A function. Parameters are a vector or a list; `& rest` collects the remaining arguments as a list; `& {:key default ...}` binds keyword arguments (`:key value` pairs or one map) with defaults. A name lets the function call itself.",
  example: "((fn [x & {:scale 1}] (* x scale)) 5 :scale 3) ;=> 15",
  // (fn name? params body...): only the body is code.
  expand: (form, walk) => expandAfter(form.items[1]?.kind === "symbol" ? 2 : 1)(form, walk),
  compile: (form, scope, _top, c) => {
    const args = form.items.slice(1)
    const named = args[0]?.kind === "symbol" ? args[0] : undefined
    const params = named === undefined ? args[0] : args[1]
    const body = args.slice(named === undefined ? 1 : 2)
    if (params === undefined || (params.kind !== "vector" && params.kind !== "list")) {
      return c.error("bad-shape", "fn needs a parameter list", form, ["(fn [params] body...) or (fn name [params] body...)"])
    }
    return c.fn(named?.name ?? "fn", named, params, body, scope, form.span)
  }
}

const letForm: Special = {
  name: "let", shapes: ["[name value ...] body..."],
  doc: "Binds names in order (each value sees the earlier names) and evaluates the body.", example: "(let [a 1 b (+ a 1)] (* a b)) ;=> 2",
  // The values of the bindings and the body are code; the names are not.
  expand: (form, walk) => {
    const [head, bindings] = form.items
    if (bindings === undefined || bindings.kind !== "vector") return expandArgs(form, walk)
    const expanded = bindings.items.map((b, i) => (i % 2 === 1 ? walk(b) : b))
    return S.list([head!, S.vector(expanded, bindings.span), ...form.items.slice(2).map(walk)], form.span)
  },
  compile: (form, scope, _top, c) => {
    const args = form.items.slice(1)
    const bindings = args[0]
    if (bindings === undefined || bindings.kind !== "vector") return c.error("bad-shape", "let needs a vector of bindings", bindings ?? form, ["(let [name value ...] body...)"])
    if (bindings.items.length % 2 === 1) return c.error("bad-shape", "let bindings come in pairs: every name needs a value", bindings, ["(let [name value ...] body...)"])
    const local = scope ?? new Scope(undefined)
    const ownScope = scope === undefined
    local.push()
    const steps: Array<[number, Node]> = []
    for (let i = 0; i < bindings.items.length; i += 2) {
      const n = bindings.items[i]!
      const value = c.compile(bindings.items[i + 1]!, local)
      if (n.kind !== "symbol") {
        c.problem("bad-binding", `let binds names, not ${S.describe(n)}`, n)
        continue
      }
      steps.push([local.bind(n.name), value])
    }
    const body = c.body(args.slice(1), local)
    local.pop()
    const slots = local.slots
    const run = (f: Frame, i: number): unknown => {
      for (; i < steps.length; i++) {
        const [slot, value] = steps[i]!
        const x = value(f)
        if (isEffect(x)) {
          const next = i + 1
          return Effect.flatMap(x, (v) => {
            f.slots[slot] = v
            return lift(run(f, next))
          })
        }
        f.slots[slot] = x
      }
      return body(f)
    }
    // A top-level let has no enclosing function frame: it gets its own.
    return ownScope ? (f) => run({ slots: new Array(slots), parent: undefined, run: f.run }, 0) : (f) => run(f, 0)
  }
}

const ifForm: Special = {
  name: "if", shapes: ["test then", "test then else"],
  doc: "then when test is true (anything but false and nil), else the else branch (or nil).", example: "(if (> 3 0) \"positive\" \"not positive\") ;=> \"positive\"",
  expand: expandArgs,
  compile: (form, scope, _top, c) => {
    const args = form.items.slice(1)
    if (args.length < 2 || args.length > 3) {
      return c.error("bad-shape", `if takes a test, a then branch and an optional else branch (got ${args.length} form${args.length === 1 ? "" : "s"})`, form, ["(if test then else)"])
    }
    const test = c.compile(args[0]!, scope)
    const yes = c.compile(args[1]!, scope)
    const no = args[2] === undefined ? constant(null) : c.compile(args[2], scope)
    return (f) => {
      const t = test(f)
      if (isEffect(t)) return chain(t, (v) => (truthy(v) ? yes(f) : no(f)))
      return truthy(t as Value) ? yes(f) : no(f)
    }
  }
}

const doForm: Special = {
  name: "do", shapes: ["body..."], doc: "Evaluates the forms in order; the value is the last one's.", example: "(do (log \"hi\") 42)",
  expand: expandArgs,
  compile: (form, scope, top, c) => {
    const args = form.items.slice(1)
    // The forms of a top-level do are top-level forms (a macro may expand to several defs).
    if (!top) return c.body(args, scope)
    const nodes = args.map((a) => c.compile(a, scope, true))
    return (f) => sequenceLast(nodes, f)
  }
}

const quote: Special = {
  name: "quote", shapes: ["form"], doc: "The form itself, unevaluated, as data ('form is the same).", example: "'(a b c) ;=> (a b c)",
  expand: asWritten,
  compile: (form, _scope, _top, c) => {
    const args = form.items.slice(1)
    if (args.length !== 1) return c.error("bad-shape", "quote takes exactly one form", form, ["'form or (quote form)"])
    return constant(syntaxToValue(args[0]!))
  }
}

const defmacro: Special = {
  name: "defmacro", shapes: ["name [params] body...", "name (params) body..."], topLevel: true,
  doc: "Defines a macro: a function from code (as data) to code, run before compilation. Quasiquote (`) builds code, ~ inserts a value and ~@ splices a list.",
  example: "(defmacro unless (test body) `(if ~test nil ~body))",
  expand: asWritten,
  compile: topLevelOnly
}

const dot: Special = {
  name: ".", shapes: ["object method args...", "(.method object args...)"],
  doc: "Calls a method of a host object the embedding application exposes (such as bus). Dotted names read fields: e.payload, topic.name.",
  example: "(.publish bus \"orders\" {:id 1} {})",
  expand: expandArgs,
  compile: (form, scope, _top, c) => {
    const [, target, method, ...rest] = form.items
    if (method === undefined || method.kind !== "symbol") return c.error("bad-shape", "(. object method args...) needs a method name", form)
    return c.methodCall(method.name, target, rest, form, scope)
  }
}

const require: Special = {
  name: "require", shapes: ["\"path.sib\""], topLevel: true,
  doc: "Loads another file (relative to this one, inside the program's folder) into the program, once.", example: "(require \"topics.sib\")",
  expand: asWritten,
  compile: topLevelOnly
}

const deftest: Special = {
  name: "deftest", shapes: ["\"name\" body..."], topLevel: true,
  doc: "A test, run by `sib test` on a fresh in-memory bus under a test clock. Inside: advance!, expect, expect=, published, dead-letters, attempts.",
  example: "(deftest \"adds\" (expect= 2 (+ 1 1)))",
  expand: expandAfter(1),
  compile: topLevelOnly
}

export const specials: ReadonlyArray<Special> = [def, fn, letForm, ifForm, doForm, quote, defmacro, dot, require, deftest]

export const specialForms: ReadonlyMap<string, Special> = new Map(specials.map((s) => [s.name, s]))

export const specialNames: ReadonlySet<string> = new Set(specials.map((s) => s.name))
