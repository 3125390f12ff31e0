/**
 * The compiler: expanded Syntax -> closures (`Node`s) that evaluate to values or Effects. No `eval`,
 * no generated JavaScript. Names resolve at compile time: locals to frame slots (by depth and
 * index), globals and built-ins to cells of the program's namespace. Dotted names read fields
 * (`e.payload`), `(.method obj ...)` calls a host object's method, special forms compile as their
 * entry in specials.ts says, and every call site attaches its span to errors raised inside it.
 * Compile errors are collected; the compiler keeps going to report as many as it can.
 */
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import { didYouMean } from "../diagnostics/suggest.ts"
import * as S from "../reader/Syntax.ts"
import {
  costs, isHostObject, isMap, Keyword, List, mapKey, SetValue, typeName, type Value
} from "../reader/Value.ts"
import { builtinOf, callValue, checkCall, literalOptionProblems, partSpan } from "./builtins.ts"
import { Closure, type Params } from "./Closure.ts"
import { type Namespace, unbound } from "./Namespace.ts"
import { fail, located, locatedEffect, type PlacePart } from "./langError.ts"
import { type Frame, isEffect, loopOver, type Node, type RecurTarget, sequence, sequenceLast, chain } from "./run.ts"
import { Scope } from "./Scope.ts"
import { isFreshName } from "../expand/expand.ts"
import { coreMacros } from "../expand/macros.ts"
import { standInMethod } from "./host.ts"
import { type SpecialCompiler, specialForms } from "./specials.ts"

export interface Compiler {
  readonly diagnostics: Array<Diagnostic>
  /** Compiles a top-level (expanded) form. */
  readonly compileTop: (form: S.Syntax) => Node
  /** Compiles a function from a parameter list and body (for macros and tests). */
  readonly compileFn: (name: string, params: S.Syntax, body: ReadonlyArray<S.Syntax>, span: Span) => Node
  readonly ns: Namespace
}

const constant = (v: Value): Node => () => v

const compileError = (code: string, message: string, at: S.Syntax | Span, hints: ReadonlyArray<string> = []): Diagnostic =>
  diagnostic("Compile", `compile/${code}`, message, "span" in at ? at.span : at, { hints })

/** Wraps a node so errors raised while it runs carry `span`. */
const at = (span: Span, node: Node): Node => (f) => {
  try {
    const out = node(f)
    return isEffect(out) ? locatedEffect(out, span) : out
  } catch (e) {
    throw located(e, span)
  }
}

/**
 * Reads a field of a map or record, a vector index, or a host object's declared field. Own keys
 * only, never a prototype's; any other object (a function, an internal structure) has no fields,
 * so code cannot walk from a value into the runtime's internals.
 */
export const field = (v: unknown, name: string): Value => {
  if (v === null || v === undefined) return null
  if (isHostObject(v)) return Object.hasOwn(v.fields, name) ? v.fields[name]! : null
  if (Array.isArray(v)) {
    const i = Number(name)
    return Number.isInteger(i) && i >= 0 && i < v.length ? v[i] : null
  }
  if (isMap(v) && Object.hasOwn(v, name)) return (v as Record<string, Value>)[name]!
  return null
}

export const makeCompiler = (ns: Namespace): Compiler => {
  const diagnostics: Array<Diagnostic> = []
  const err = (d: Diagnostic): Node => {
    diagnostics.push(d)
    return () => fail("compile", d.message)
  }

  /** `tail`: the loop or function this form is the tail of (where a `recur` may go back to), if any. */
  const compile = (s: S.Syntax, scope: Scope | undefined, top: boolean, tail?: RecurTarget): Node => {
    switch (s.kind) {
      case "number":
      case "string":
      case "boolean":
        return constant(s.value)
      case "nil":
        return constant(null)
      case "keyword":
        return constant(Keyword.of(s.name))
      case "symbol":
        return compileSymbol(s, scope)
      case "vector": {
        // A literal builds a new collection each time it runs: it is charged like any other.
        const items = s.items.map((i) => compile(i, scope, false))
        const n = items.length
        return (f) => {
          f.run.budget.charge(n + 1, n * costs.element)
          return sequence(n, (i) => items[i]!(f))
        }
      }
      case "set": {
        const items = s.items.map((i) => compile(i, scope, false))
        const n = items.length
        return (f) => {
          f.run.budget.charge(n + 1, n * costs.element)
          return chain(sequence(n, (i) => items[i]!(f)), (vs) => new SetValue(vs as ReadonlyArray<Value>, f.run.budget))
        }
      }
      case "map":
        return compileMap(s, scope)
      case "list":
        return compileList(s, scope, top, tail)
    }
  }

  const compileMap = (s: S.SMap, scope: Scope | undefined): Node => {
    const keys: Array<string | Node> = []
    const values: Array<Node> = []
    for (let i = 0; i + 1 < s.items.length; i += 2) {
      const k = s.items[i]!
      keys.push(k.kind === "keyword" ? k.name : k.kind === "string" ? k.value : k.kind === "number" ? String(k.value) : compile(k, scope, false))
      values.push(compile(s.items[i + 1]!, scope, false))
    }
    const dynamicKeys = keys.some((k) => typeof k !== "string")
    const n = values.length
    return at(s.span, (f) => {
      f.run.budget.charge(n + 1, costs.map + n * costs.entry)
      const build = (vals: ReadonlyArray<Value>, ks: ReadonlyArray<Value>) => {
        const out: Record<string, Value> = Object.create(null)
        for (let i = 0; i < vals.length; i++) {
          const key = typeof keys[i] === "string" ? (keys[i] as string) : mapKey(ks[i]!)
          if (key === undefined) fail("type", `a map key must be a keyword, string or number, got ${typeName(ks[i]!)}`)
          out[key!] = vals[i]!
        }
        return out
      }
      const vals = sequence(values.length, (i) => values[i]!(f))
      if (!dynamicKeys) return chain(vals, (vs) => build(vs as ReadonlyArray<Value>, []))
      const ks = sequence(keys.length, (i) => (typeof keys[i] === "string" ? keys[i] : (keys[i] as Node)(f)))
      return chain(ks, (k) => chain(vals, (vs) => build(vs as ReadonlyArray<Value>, k as ReadonlyArray<Value>)))
    })
  }

  /** Every name visible from `scope`, for suggestions. */
  const visibleNames = (scope: Scope | undefined): Array<string> => {
    const out: Array<string> = []
    for (let s = scope; s !== undefined; s = s.parent) out.push(...s.names().filter((n) => !isFreshName(n)))
    out.push(...ns.names())
    // Special forms and core macros are names too (`iff` -> did you mean if?).
    out.push(...[...specialForms.keys()].filter((n) => n !== "."), ...coreMacros.keys())
    return out
  }

  const resolveLocal = (name: string, scope: Scope | undefined): Node | undefined => {
    let depth = 0
    for (let s = scope; s !== undefined; s = s.parent, depth++) {
      const slot = s.lookup(name)
      if (slot === undefined) continue
      switch (depth) {
        case 0:
          return (f) => f.slots[slot]
        case 1:
          return (f) => f.parent!.slots[slot]
        default: {
          const d = depth
          return (f) => {
            let fr: Frame = f
            for (let i = 0; i < d; i++) fr = fr.parent!
            return fr.slots[slot]
          }
        }
      }
    }
    return undefined
  }

  const compileSymbol = (s: S.SSymbol, scope: Scope | undefined): Node => {
    const direct = resolveLocal(s.name, scope)
    if (direct !== undefined) return direct
    const cell = ns.lookup(s.name)
    if (cell !== undefined) {
      return (_f) => {
        const v = cell.value
        if (v === unbound) fail("unbound", `${s.name} is used before its definition ran`, ["move the definition above this use, or call it from a function"])
        return v
      }
    }
    const dot = s.name.indexOf(".")
    if (dot > 0 && dot < s.name.length - 1 && !s.name.startsWith(".")) {
      const [base, ...fields] = s.name.split(".")
      if (fields.every((p) => p.length > 0)) {
        const root = resolveLocal(base!, scope) ?? (ns.lookup(base!) !== undefined ? compileSymbol(S.symbol(base!, s.span), scope) : undefined)
        if (root !== undefined) {
          return at(s.span, (f) => {
            let v: unknown = root(f)
            for (const name of fields) v = field(v, name)
            return v
          })
        }
        return unknownSymbol(S.symbol(base!, s.span), scope, true)
      }
    }
    return unknownSymbol(s, scope, false)
  }

  const unknownSymbol = (s: S.SSymbol, scope: Scope | undefined, dotted: boolean): Node => {
    const hints = didYouMean(s.name, visibleNames(scope))
    if (hints.length === 0) {
      hints.push(dotted
        ? `${s.name} must be a local, a definition or a built-in before its fields can be read`
        : `define it with def or defn, bind it with let, or have the embedding application register it (registerHost("${s.name}", fn)) and declare it: (declare-host ${s.name})`)
    }
    return err(compileError("unknown-symbol", `unknown symbol ${s.name}`, s, hints))
  }

  const compileBody = (forms: ReadonlyArray<S.Syntax>, scope: Scope | undefined, tail?: RecurTarget): Node => {
    if (forms.length === 0) return constant(null)
    if (forms.length === 1) return compile(forms[0]!, scope, false, tail)
    const nodes = forms.map((f, i) => compile(f, scope, false, i === forms.length - 1 ? tail : undefined))
    return (f) => sequenceLast(nodes, f)
  }

  const compileList = (s: S.SList, scope: Scope | undefined, top: boolean, tail: RecurTarget | undefined): Node => {
    const head = s.items[0]
    if (head === undefined) return constant(new List([]))
    // A special form's name in call position is the special form, also where a local has that name
    // (as in Clojure): the core macros expand into specials, so a local `let` or `if` cannot break them.
    const special = head.kind === "symbol" ? specialForms.get(head.name) : undefined
    if (special !== undefined) return special.compile(s, scope, top, forSpecials, tail)
    if (head.kind === "symbol" && head.name.startsWith(".") && head.name.length > 1 && head.name !== "..") {
      return compileMethodCall(head.name.slice(1), s.items[1], s.items.slice(2), s, scope)
    }
    if (head.kind === "symbol" && (head.name === "unquote" || head.name === "splice-unquote")) {
      return err(compileError("unquote", `${head.name === "unquote" ? "~" : "~@"} can only be used inside a quasiquote (\`)`, s))
    }
    let place: PlacePart | undefined
    const cell = head.kind === "symbol" && resolveLocal(head.name, scope) === undefined ? ns.lookup(head.name) : undefined
    const known = cell?.kind === "builtin" ? builtinOf(cell.value) : undefined
    if (known !== undefined) {
      diagnostics.push(...checkCall(known, s.items.slice(1), s))
      // An error about one of its arguments or options is shown under it, when it is written here.
      place = (p) => partSpan(known, s.items.slice(1), p)
    }
    const callee = compile(head, scope, false)
    const before = diagnostics.length
    const args = s.items.slice(1).map((a) => compile(a, scope, false))
    // A call whose arguments do not compile will not run: what it would report about its literal
    // option values is reported now, so that one error does not hide the others.
    if (known !== undefined && diagnostics.length > before) diagnostics.push(...literalOptionProblems(known, s.items.slice(1), s))
    const span = s.span
    const invoke = (fn: unknown, vals: ReadonlyArray<Value>, f: Frame): unknown => {
      try {
        const out = callValue(fn as Value, vals, f.run, span)
        return isEffect(out) ? locatedEffect(out, span) : out
      } catch (e) {
        throw located(e, span, place)
      }
    }
    return (f) => {
      const fn = callee(f)
      if (isEffect(fn)) return chain(fn, (g) => chain(sequence(args.length, (i) => args[i]!(f)), (vals) => invoke(g, vals as ReadonlyArray<Value>, f)))
      const vals = sequence(args.length, (i) => args[i]!(f))
      return isEffect(vals) ? chain(vals, (v) => invoke(fn, v as ReadonlyArray<Value>, f)) : invoke(fn, vals as ReadonlyArray<Value>, f)
    }
  }

  const compileMethodCall = (method: string, target: S.Syntax | undefined, argForms: ReadonlyArray<S.Syntax>, s: S.SList, scope: Scope | undefined): Node => {
    if (target === undefined) return err(compileError("method-call", `(.${method} ...) needs the object to call it on`, s, [`(.${method} object args...)`]))
    const obj = compile(target, scope, false)
    const args = argForms.map((a) => compile(a, scope, false))
    return at(s.span, (f) =>
      chain(obj(f), (o) => {
        // A declared host name's stand-in (sib check, sib test) takes any method: it logs the call.
        const standIn = standInMethod(o, method)
        if (standIn !== undefined) return chain(sequence(args.length, (i) => args[i]!(f)), (vals) => standIn.invoke(f.run, vals as ReadonlyArray<Value>, s.span))
        if (!isHostObject(o)) {
          return fail("method-call", `.${method}: ${typeName(o)} has no methods; only objects the application exposes (such as bus) do`, isMap(o) ? [`read a key with (get m :${method}) or m.${method}`] : [])
        }
        const m = Object.hasOwn(o.methods, method) ? o.methods[method] : undefined
        if (m === undefined) {
          return fail("method-call", `${o.kind} has no method ${method}`, didYouMean(method, Object.keys(o.methods)).concat([`methods: ${Object.keys(o.methods).join(", ")}`]))
        }
        return chain(sequence(args.length, (i) => args[i]!(f)), (vals) => m.invoke(f.run, vals as ReadonlyArray<Value>, s.span))
      }))
  }

  /** What the special forms (specials.ts) may use of this compiler. */
  const forSpecials: SpecialCompiler = {
    compile: (form, scope, top = false, tail) => compile(form, scope, top, tail),
    body: (forms, scope, tail) => compileBody(forms, scope, tail),
    fn: (name, self, params, body, scope, span) => compileFunction(name, self, params, body, scope, span),
    methodCall: (method, target, args, form, scope) => compileMethodCall(method, target, args, form, scope),
    error: (code, message, at, hints) => err(compileError(code, message, at, hints)),
    problem: (code, message, at, hints) => {
      diagnostics.push(compileError(code, message, at, hints))
    },
    ns
  }

  const compileFunction = (
    name: string,
    self: S.SSymbol | undefined,
    params: S.SVector | S.SList,
    body: ReadonlyArray<S.Syntax>,
    outer: Scope | undefined,
    span: Span
  ): Node => {
    const scope = new Scope(outer)
    let fixed = 0
    let rest: number | undefined
    let keywords: Array<{ name: string; slot: number; fallback: Node }> | undefined
    const items = params.items
    const problems: Array<Diagnostic> = []
    /** The names a refused parameter holds, bound all the same: the body's uses of them are not errors of their own. */
    const bindNamesIn = (x: S.Syntax): void => {
      if (x.kind === "symbol") {
        if (x.name !== "&" && scope.lookup(x.name) === undefined) scope.bind(x.name)
      } else if (x.kind === "vector" || x.kind === "list" || x.kind === "map") {
        for (const item of x.items) bindNamesIn(item)
      }
    }
    for (let i = 0; i < items.length; i++) {
      const p = items[i]!
      if (p.kind === "symbol" && p.name === "&") {
        const after = items[i + 1]
        if (after?.kind === "symbol" && items.length === i + 2) {
          rest = scope.bind(after.name)
        } else if (after?.kind === "map" && items.length === i + 2) {
          keywords = []
          const pending: Array<[string, number, S.Syntax]> = []
          for (let j = 0; j + 1 < after.items.length; j += 2) {
            const k = after.items[j]!
            const kname = k.kind === "keyword" ? k.name : k.kind === "symbol" ? k.name : undefined
            if (k.kind === "keyword" && ["keys", "strs", "or", "as"].includes(k.name)) {
              // Clojure's & {:keys [a b] :or {a 1}}: here the map itself names the arguments.
              problems.push(compileError("bad-params", `keyword parameters are written & {:name default ...}: :${k.name} is Clojure's destructuring, not an argument's name`, k, [
                "(defn f [x & {:p nil :q 1}] ...) takes (f 1 :p 2) or (f 1 {:p 2}); p is nil and q is 1 unless given"
              ]))
              bindNamesIn(after.items[j + 1]!)
              continue
            }
            if (kname === undefined) {
              problems.push(compileError("bad-params", `keyword parameters are written {:name default ...}, not ${S.describe(k)}`, k))
              continue
            }
            pending.push([kname, scope.bind(kname), after.items[j + 1]!])
          }
          for (const [kname, slot, def] of pending) keywords.push({ name: kname, slot, fallback: compile(def, scope, false) })
        } else {
          problems.push(compileError("bad-params", "& must be followed by one name (rest) or one map of keyword defaults, at the end", p, ["[a b & more] or [a & {:key default}]"]))
        }
        break
      }
      if (p.kind !== "symbol") {
        problems.push(compileError("bad-params", `a parameter must be a name, not ${S.describe(p)}`, p))
        bindNamesIn(p)
        continue
      }
      scope.bind(p.name)
      fixed++
    }
    diagnostics.push(...problems)
    // A named function can call itself: its name is a local holding the closure.
    // A parameter of the same name shadows it (as in Clojure): then there is no self-reference.
    const selfSlot = self === undefined || scope.lookup(self.name) !== undefined ? undefined : scope.bind(self.name)
    // A recur in the body's tail goes back to the function with new arguments (its fixed ones).
    const target: RecurTarget = { what: "fn", arity: rest === undefined && keywords === undefined ? fixed : -1, used: false }
    const compiled = compileBody(body, scope, target)
    const bodyNode = target.used ? loopOver(compiled, Array.from({ length: fixed }, (_, i) => i), span) : compiled
    const shape = `${params.kind === "vector" ? "[" : "("}${items.map((i) => (i.kind === "symbol" ? i.name : i.kind === "map" ? "{...}" : "?")).join(" ")}${params.kind === "vector" ? "]" : ")"}`
    const spec: Params = { fixed, rest, keywords, shape }
    return (f) => {
      // A closure keeps the frame it was made in alive: it is paid for with that frame's slots.
      f.run.budget.charge(1, 2 * costs.object + f.slots.length * costs.element)
      const closure: Closure = new Closure(name, spec, selfSlot === undefined ? bodyNode : (fr) => {
        fr.slots[selfSlot] = closure
        return bodyNode(fr)
      }, scope.slots, f, span)
      return closure
    }
  }

  return {
    diagnostics,
    ns,
    compileTop: (form) => compile(form, undefined, true),
    compileFn: (name, params, body, span) =>
      params.kind === "vector" || params.kind === "list"
        ? compileFunction(name, undefined, params, body, undefined, span)
        : err(compileError("bad-params", `${name} needs a parameter list`, params))
  }
}
