/**
 * The special forms: the few forms the compiler knows directly (everything else is a macro or a
 * function). One table holds each form whole: its shapes, doc and example (the language reference
 * is generated from them), which of its parts are code (`expand`: the expander expands those and
 * leaves names, parameter lists and quoted data as written), and how it compiles (`compile`, given
 * the compiler's operations). A form that is not in this table is a call.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { cutText, SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import type { SpecialExpander } from "../expand/expand.ts"
import type { Span } from "../diagnostics/Span.ts"
import * as S from "../reader/Syntax.ts"
import { costs, makeMap, syntaxToValue, truthy, type Value } from "../reader/Value.ts"
import type { Namespace } from "./Namespace.ts"
import { destructureBindings, destructureParams, isPattern } from "./destructure.ts"
import { isLimit, LangError } from "./langError.ts"
import { allocate, chain, type Frame, isEffect, lift, loopOver, type Node, Recur, type RecurTarget, sequence, sequenceLast } from "./run.ts"
import { Scope } from "./Scope.ts"

/** What a special's compilation may use of the compiler. */
export interface SpecialCompiler {
  /** `tail`: the loop or function the form is the tail of (a `recur` there goes back to it). */
  readonly compile: (s: S.Syntax, scope: Scope | undefined, top?: boolean, tail?: RecurTarget) => Node
  /** Forms evaluated in order; the value is the last one's (the last one in `tail` position). */
  readonly body: (forms: ReadonlyArray<S.Syntax>, scope: Scope | undefined, tail?: RecurTarget) => Node
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
  /** The form with its code parts expanded by `walk` (the rest as written; patterns rewritten). */
  readonly expand: (form: S.SList, walk: (s: S.Syntax) => S.Syntax, x: SpecialExpander) => S.Syntax
  /**
   * The form as a node; `top` when it is a top-level form (or inside a top-level `do`), `tail` the
   * loop or function it is the tail of, if any.
   */
  readonly compile: (form: S.SList, scope: Scope | undefined, top: boolean, c: SpecialCompiler, tail: RecurTarget | undefined) => Node
}


const constant = (v: Value): Node => () => v

/** `(let|loop [bindings] body...)` expanded: patterns rewritten into names, values and body walked. */
const expandBindings = (form: S.SList, walk: (s: S.Syntax) => S.Syntax, x: SpecialExpander): S.Syntax => {
  const [head, bindings] = form.items
  if (bindings === undefined || bindings.kind !== "vector") return expandArgs(form, walk)
  const d = destructureBindings(bindings.items, x.fresh)
  if (!d.ok) x.report(d.diagnostic)
  const plain = d.ok ? d.value : bindings.items
  // Each value sees the names bound before it; the body sees them all.
  return x.scope((bind) => {
    const expanded = plain.map((b, i) => {
      if (i % 2 === 0) return b
      const value = walk(b)
      const name = plain[i - 1]!
      if (name.kind === "symbol") bind(name.name)
      return value
    })
    return S.list([head!, S.vector(expanded, bindings.span), ...form.items.slice(2).map(walk)], form.span)
  })
}

/** Binds the names of a parameter list (not `&`) in `bind`'s scope. */
const bindParams = (params: S.Syntax | undefined, bind: (name: string) => void): void => {
  if (params === undefined || (params.kind !== "vector" && params.kind !== "list")) return
  for (const p of params.items) if (p.kind === "symbol" && p.name !== "&") bind(p.name)
}

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
  doc: "A function. Parameters are a vector or a list; `& rest` collects the remaining arguments as a list; `& {:key default ...}` binds keyword arguments (`:key value` pairs or one map) with defaults. A parameter may be a pattern (see Destructuring). A name lets the function call itself.",
  example: "((fn [x & {:scale 1}] (* x scale)) 5 :scale 3) ;=> 15",
  // (fn name? params body...): only the body is code; parameter patterns become a let.
  expand: (form, walk, x) => {
    const named = form.items[1]?.kind === "symbol"
    const params = form.items[named ? 2 : 1]
    return x.scope((bind) => {
      // The body sees the function's own name and its parameters.
      if (named) bind((form.items[1] as S.SSymbol).name)
      if (params !== undefined && (params.kind === "vector" || params.kind === "list")) {
        const d = destructureParams(params, form.items.slice(named ? 3 : 2), x.fresh)
        if (d !== undefined) {
          if (d.ok) {
            bindParams(d.value.params, bind)
            return S.list([...form.items.slice(0, named ? 2 : 1), d.value.params, ...d.value.body.map(walk)], form.span)
          }
          // Reported once: the function stands as one of no parameters returning nil, so neither its
          // parameters nor its body are errors of their own.
          x.report(d.diagnostic)
          return S.list([...form.items.slice(0, named ? 2 : 1), S.vector([], params.span), S.nil(params.span)], form.span)
        }
      }
      bindParams(params, bind)
      return expandAfter(named ? 2 : 1)(form, walk)
    })
  },
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
  doc: "Binds names in order (each value sees the earlier names) and evaluates the body. A name may be a pattern (see Destructuring).", example: "(let [a 1 b (+ a 1)] (* a b)) ;=> 2",
  // The values of the bindings and the body are code; the names are not (patterns become names).
  expand: (form, walk, x) => expandBindings(form, walk, x),
  compile: (form, scope, _top, c, tail) => {
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
    const body = c.body(args.slice(1), local, tail)
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
  compile: (form, scope, _top, c, tail) => {
    const args = form.items.slice(1)
    if (args.length < 2 || args.length > 3) {
      return c.error("bad-shape", `if takes a test, a then branch and an optional else branch (got ${args.length} form${args.length === 1 ? "" : "s"})`, form, ["(if test then else)"])
    }
    const test = c.compile(args[0]!, scope)
    const yes = c.compile(args[1]!, scope, false, tail)
    const no = args[2] === undefined ? constant(null) : c.compile(args[2], scope, false, tail)
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
  compile: (form, scope, top, c, tail) => {
    const args = form.items.slice(1)
    // The forms of a top-level do are top-level forms (a macro may expand to several defs).
    if (!top) return c.body(args, scope, tail)
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
  doc: "Defines a macro: a function from code (as data) to code, run before compilation. Its parameters are written as fn's (patterns too). Quasiquote (`) builds code, ~ inserts a value and ~@ splices a list.",
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

const declareHost: Special = {
  name: "declare-host", shapes: ["name..."], topLevel: true,
  doc: "Names the host functions and objects the program uses, which its embedding application registers (registerHost, or the host option of load). Loading checks that the application gives each; sib check and sib test (which run without it) use a stand-in that, called as a function or with any method ((.page pager ...)), logs its call and returns nil.",
  example: "(declare-host send-email call-model)",
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

const loop: Special = {
  name: "loop", shapes: ["[name value ...] body..."],
  doc: "Binds names as let does and evaluates the body; a (recur v ...) in its tail evaluates it again with the names bound to the new values (a loop without growing the call depth; each round is a step).",
  example: "(loop [i 0 acc []] (if (< i 3) (recur (inc i) (conj acc i)) acc)) ;=> [0 1 2]",
  // A pattern binds a fresh name (what recur gives a value for), destructured by a let around the body.
  expand: (form, walk, x) => {
    const [head, bindings] = form.items
    if (bindings === undefined || bindings.kind !== "vector" || !bindings.items.some((b, i) => i % 2 === 0 && isPattern(b))) return expandBindings(form, walk, x)
    const plain: Array<S.Syntax> = []
    const patterns: Array<S.Syntax> = []
    bindings.items.forEach((b, i) => {
      if (i % 2 === 1 || !isPattern(b)) return plain.push(b)
      const name = S.symbol(x.fresh("loop"), b.span)
      patterns.push(b, name)
      plain.push(name)
    })
    const body = S.list([S.symbol("let", form.span), S.vector(patterns, bindings.span), ...form.items.slice(2)], form.span)
    return expandBindings(S.list([head!, S.vector(plain, bindings.span), body], form.span), walk, x)
  },
  compile: (form, scope, _top, c) => {
    const args = form.items.slice(1)
    const bindings = args[0]
    if (bindings === undefined || bindings.kind !== "vector") return c.error("bad-shape", "loop needs a vector of bindings", bindings ?? form, ["(loop [name value ...] body...)"])
    if (bindings.items.length % 2 === 1) return c.error("bad-shape", "loop bindings come in pairs: every name needs a value", bindings, ["(loop [name value ...] body...)"])
    const local = scope ?? new Scope(undefined)
    const ownScope = scope === undefined
    local.push()
    const slots: Array<number> = []
    const inits: Array<Node> = []
    for (let i = 0; i < bindings.items.length; i += 2) {
      const n = bindings.items[i]!
      inits.push(c.compile(bindings.items[i + 1]!, local))
      if (n.kind !== "symbol") {
        c.problem("bad-binding", `loop binds names, not ${S.describe(n)}`, n)
        continue
      }
      slots.push(local.bind(n.name))
    }
    const target: RecurTarget = { what: "loop", arity: slots.length, used: false }
    const body = loopOver(c.body(args.slice(1), local, target), slots, form.span)
    local.pop()
    const frameSlots = local.slots
    const start = (f: Frame, i: number): unknown => {
      for (; i < inits.length; i++) {
        const x = inits[i]!(f)
        if (isEffect(x)) {
          const next = i + 1
          return Effect.flatMap(x, (v) => {
            f.slots[slots[next - 1]!] = v
            return lift(start(f, next))
          })
        }
        f.slots[slots[i]!] = x
      }
      return body(f)
    }
    return ownScope ? (f) => start({ slots: new Array(frameSlots), parent: undefined, run: f.run }, 0) : (f) => start(f, 0)
  }
}

const recur: Special = {
  name: "recur", shapes: ["value..."],
  doc: "In the tail of a loop or a function (its last form, through if, do, let and when): evaluates it again with the values given for its bindings or parameters.",
  example: "((fn [n acc] (if (= n 0) acc (recur (dec n) (* acc n)))) 5 1) ;=> 120",
  expand: expandArgs,
  compile: (form, scope, _top, c, tail) => {
    const args = form.items.slice(1)
    if (tail === undefined) {
      return c.error("recur", "recur can only be the last thing a loop or a function does (its tail)", form, [
        "put it where its value is the loop's (or function's) value: as the last form, or a branch of if / when / cond there"
      ])
    }
    if (tail.arity < 0) return c.error("recur", "recur cannot go back to a function with & rest or keyword parameters", form, ["use a loop inside the function"])
    if (args.length !== tail.arity) {
      return c.error("arity", `recur gives ${args.length} value${args.length === 1 ? "" : "s"}, but its ${tail.what} binds ${tail.arity}`, form)
    }
    tail.used = true
    const values = args.map((a) => c.compile(a, scope))
    return (f) => chain(sequence(values.length, (i) => values[i]!(f)), (vs) => new Recur(vs as ReadonlyArray<Value>) as never)
  }
}

const tryForm: Special = {
  name: "try", shapes: ["body... (catch name handler...)"],
  doc: "Evaluates the body; if it fails (a throw, or an error such as a refused publish), binds name to the error, a map {:message :data :code}, and evaluates the handler instead. A run's limits (steps, memory, time, depth, sizes) are not caught: they end the run.",
  example: "(try (throw (ex-info \"no stock\" {:sku 7})) (catch e (:data e))) ;=> {:sku 7}",
  expand: (form, walk, x) =>
    S.list(form.items.map((item, i) => {
      if (i === 0) return item
      // (catch name handler...): the handler is code (where the name is bound), the name is not.
      if (item.kind === "list" && S.isSymbol(item.items[0], "catch")) {
        const name = item.items[1]
        return x.scope((bind) => {
          if (name?.kind === "symbol") bind(name.name)
          return S.list([...item.items.slice(0, 2), ...item.items.slice(2).map(walk)], item.span)
        })
      }
      return walk(item)
    }), form.span),
  compile: (form, scope, _top, c) => {
    const parts = form.items.slice(1)
    const last = parts[parts.length - 1]
    const catching = last !== undefined && last.kind === "list" && S.isSymbol(last.items[0], "catch") ? last : undefined
    const bodyForms = catching === undefined ? parts : parts.slice(0, -1)
    const misplaced = bodyForms.find((p) => p.kind === "list" && S.isSymbol(p.items[0], "catch"))
    if (misplaced !== undefined) return c.error("bad-shape", "catch comes last in a try", misplaced, ["(try body... (catch e handler...))"])
    // The body is not in tail position: a recur cannot jump out of a try.
    const body = c.body(bodyForms, scope)
    if (catching === undefined) return body
    const name = catching.items[1]
    if (name === undefined || name.kind !== "symbol") return c.error("bad-shape", "catch needs a name for the error", catching, ["(catch e (log (:message e)) nil)"])
    const local = scope ?? new Scope(undefined)
    const ownScope = scope === undefined
    local.push()
    const slot = local.bind(name.name)
    const handler = c.body(catching.items.slice(2), local)
    local.pop()
    const frameSlots = local.slots
    const handle = (e: unknown, f: Frame): unknown => {
      if (isLimit(e)) throw e
      const caught = errorValue(e)
      // The error map is built here: paid for as a map of three entries and its message's text.
      allocate(f.run, costs.map + 3 * costs.entry + String((caught as Record<string, Value>)["message"] ?? "").length * costs.char)
      f.slots[slot] = caught
      return handler(f)
    }
    const run = (f: Frame): unknown => {
      let out: unknown
      try {
        out = body(f)
      } catch (e) {
        return handle(e, f)
      }
      if (!isEffect(out)) return out
      return Effect.catchCause(out, (cause) => {
        if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
        const e = Cause.squash(cause)
        try {
          return lift(handle(e, f))
        } catch (again) {
          return Effect.fail(again)
        }
      })
    }
    return ownScope ? (f) => run({ slots: new Array(frameSlots), parent: undefined, run: f.run }) : run
  }
}

/**
 * The error a `catch` binds: {:message :data :code}, from a `throw` or any other failure. A thrown
 * message is the program's own string (already paid for); any other is cut to 2,000 characters,
 * so a message built from data (a host error's, say) costs nothing that grows with it.
 */
const errorValue = (e: unknown): Value => {
  const entries: Array<readonly [string, Value]> = []
  if (e instanceof LangError) {
    entries.push(["message", e.code === "thrown" ? e.message : cutText(e.message, 2000)], ["data", e.data ?? null], ["code", e.code])
  } else if (e instanceof SibRuntimeError) {
    entries.push(["message", e.thrown?.message ?? cutText(e.diagnostic.message, 2000)], ["data", (e.thrown?.data ?? null) as Value], ["code", e.diagnostic.code.replace(/^runtime\//, "")])
  } else {
    let message: string
    try {
      message = e instanceof Error ? e.message : typeof e === "string" ? e : String(e)
    } catch {
      message = "an error that cannot be printed"
    }
    entries.push(["message", cutText(message, 2000)], ["data", null], ["code", e instanceof Error && "_tag" in e ? String((e as { _tag: unknown })._tag) : "error"])
  }
  return makeMap(entries)
}

export const specials: ReadonlyArray<Special> = [def, fn, letForm, ifForm, doForm, quote, loop, recur, tryForm, defmacro, dot, require, declareHost, deftest]

export const specialForms: ReadonlyMap<string, Special> = new Map(specials.map((s) => [s.name, s]))
