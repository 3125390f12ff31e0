/**
 * Built-in functions: their description (name, argument shapes, doc, example: the language
 * reference is generated from it) and the wrapper that turns one into a callable value with arity
 * and mode checks. Calling any value (a function, a keyword as a getter) goes through `callValue`.
 */
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import { join, type Span } from "../diagnostics/Span.ts"
import { didYouMean } from "../diagnostics/suggest.ts"
import type * as S from "../reader/Syntax.ts"
import { type Callable, isCallable, isHostObject, isMap, Keyword, kindOf, print, SetValue, type Value } from "../reader/Value.ts"
import { type CallPart, fail, type LangError } from "./langError.ts"
import { type Mode, type RunState, step } from "./run.ts"

export type BuiltinGroup = "core" | "collections" | "strings" | "json" | "domain" | "testing"

export interface Builtin {
  readonly name: string
  readonly group: BuiltinGroup
  /** Argument shapes as written in docs, e.g. "[m k]" and "[m k default]". */
  readonly arglists: ReadonlyArray<string>
  readonly doc: string
  readonly example?: string | undefined
  readonly min: number
  readonly max: number
  /** Where it may be called (default: everywhere). */
  readonly modes?: ReadonlyArray<Mode> | undefined
  /** Why it cannot be called in another mode (shown in the error). */
  readonly modeHint?: string | undefined
  readonly impl: (args: ReadonlyArray<Value>, run: RunState, span: Span) => unknown
  /**
   * The option names it accepts: options (`:name value` pairs or one map) start at argument
   * `from`, after a leading `bus`. Names written literally are checked at compile time.
   */
  readonly options?: {
    readonly from: number
    readonly names: ReadonlyArray<string>
    /**
     * The errors running the call would raise about the options written as literal values
     * (keywords as their names; options in variables or computed are left out), each about its
     * option. Used when the call cannot run because another of its parts does not compile.
     */
    readonly literalProblems?: ((given: Record<string, unknown>) => ReadonlyArray<LangError>) | undefined
  } | undefined
}

export const builtin = (b: Omit<Builtin, "min" | "max"> & { readonly min?: number; readonly max?: number }): Builtin => {
  let min = Number.POSITIVE_INFINITY
  let max = 0
  for (const shape of b.arglists) {
    const params = shape.replace(/^\[|\]$/g, "").split(/\s+/).filter((p) => p.length > 0)
    const rest = params.indexOf("&")
    const fixed = rest === -1 ? params.length : rest
    min = Math.min(min, fixed)
    max = Math.max(max, rest === -1 ? fixed : Number.POSITIVE_INFINITY)
  }
  return { ...b, min: b.min ?? (Number.isFinite(min) ? min : 0), max: b.max ?? max }
}

const plural = (n: number) => (n === 1 ? "argument" : "arguments")

const arityMessage = (name: string, shapes: ReadonlyArray<string>, got: number, min: number, max: number): string => {
  const wants = min === max ? `${min} ${plural(min)}` : max === Number.POSITIVE_INFINITY ? `at least ${min} ${plural(min)}` : `${min} to ${max} arguments`
  return `${name} takes ${wants}, got ${got}; shapes: ${shapes.map((s) => `(${name} ${s.replace(/^\[|\]$/g, "")})`).join(" ")}`
}

/** The built-in behind each callable made by `toCallable`. */
const described = new WeakMap<Callable, Builtin>()

export const builtinOf = (v: unknown): Builtin | undefined => (isCallable(v) ? described.get(v) : undefined)

export const toCallable = (b: Builtin): Callable => {
  const callable: Callable = {
    [kindOf]: "fn",
    name: b.name,
    invoke: (run, args, span) => {
      const r = run as RunState
      if (args.length < b.min || args.length > b.max) fail("arity", arityMessage(b.name, b.arglists, args.length, b.min, b.max))
      if (b.modes !== undefined && !b.modes.includes(r.mode)) {
        fail("mode", `${b.name.replace(/^sib\//, "")} cannot be used ${modeWhere(r.mode)}`, b.modeHint === undefined ? [] : [b.modeHint])
      }
      return b.impl(args, r, span)
    }
  }
  described.set(callable, b)
  return callable
}

/**
 * What can be known wrong about a call of a built-in before it runs: the number of arguments, and
 * option names written as literal keywords.
 */
export const checkCall = (b: Builtin, args: ReadonlyArray<S.Syntax>, call: S.Syntax): Array<Diagnostic> => {
  const problems: Array<Diagnostic> = []
  if (args.length < b.min || args.length > b.max) {
    problems.push(diagnostic("Compile", "compile/arity", arityMessage(b.name, b.arglists, args.length, b.min, b.max), call.span))
  }
  if (b.options !== undefined) {
    const leadingBus = args[0]?.kind === "symbol" && args[0].name === "bus" ? 1 : 0
    const rest = args.slice(b.options.from + leadingBus)
    const names = rest.length === 1 && rest[0]!.kind === "map" ? rest[0]!.items.filter((_, i) => i % 2 === 0) : rest.filter((_, i) => i % 2 === 0)
    const valid = b.options.names
    for (const name of names) {
      if (name.kind !== "keyword" || valid.includes(name.name)) continue
      problems.push(diagnostic("Compile", "compile/unknown-option", `${b.name}: unknown option :${name.name.length > 64 ? `${name.name.slice(0, 64)}...` : name.name}`, name.span, {
        hints: [...didYouMean(name.name, valid, (n) => `:${n}`), `valid options: ${valid.map((n) => `:${n}`).join(" ")}`]
      }))
    }
  }
  return problems
}

/** A literal value as plain data (keywords as their names), or `unwritten` when it is code. */
const unwritten = Symbol("unwritten")
const literalValue = (s: S.Syntax): unknown => {
  switch (s.kind) {
    case "string":
    case "number":
    case "boolean":
      return s.value
    case "nil":
      return null
    case "keyword":
      return s.name
    case "vector": {
      const items = s.items.map(literalValue)
      return items.includes(unwritten) ? unwritten : items
    }
    case "map": {
      const out: Record<string, unknown> = Object.create(null)
      for (const [k, v] of optionPairs([s])) {
        const name = optionName(k)
        const value = literalValue(v)
        if (name === undefined || value === unwritten) return unwritten
        out[name] = value
      }
      return out
    }
    default:
      return unwritten
  }
}

/**
 * What running a call of a built-in would report about its options written as literal values
 * (see `literalProblems`), as diagnostics under each option: for a call that will not run because
 * another of its arguments does not compile, so that its option errors are not hidden.
 */
export const literalOptionProblems = (b: Builtin, args: ReadonlyArray<S.Syntax>, call: S.Syntax): Array<Diagnostic> => {
  const check = b.options?.literalProblems
  if (check === undefined) return []
  const leadingBus = args[0]?.kind === "symbol" && args[0].name === "bus" ? 1 : 0
  const given: Record<string, unknown> = Object.create(null)
  for (const [k, v] of optionPairs(args.slice(b.options!.from + leadingBus))) {
    const name = optionName(k)
    const value = literalValue(v)
    if (name !== undefined && value !== unwritten && value !== null) given[name] = value
  }
  return check(given).map((e) =>
    diagnostic("Runtime", `runtime/${e.code}`, e.message, (e.part === undefined ? undefined : partSpan(b, args, e.part)) ?? call.span, { hints: e.hints }))
}

/** The `name value` pairs of a literal option set: `:name value ...` arguments, or one map. */
const optionPairs = (forms: ReadonlyArray<S.Syntax>): ReadonlyArray<readonly [S.Syntax, S.Syntax]> => {
  const items = forms.length === 1 && forms[0]!.kind === "map" ? forms[0]!.items : forms
  const pairs: Array<readonly [S.Syntax, S.Syntax]> = []
  for (let i = 0; i + 1 < items.length; i += 2) pairs.push([items[i]!, items[i + 1]!])
  return pairs
}

const optionName = (s: S.Syntax): string | undefined => (s.kind === "keyword" ? s.name : s.kind === "string" ? s.value : undefined)

/**
 * Where a part of a call of a built-in is written: a positional argument, or an option's name
 * (`part: "name"`), name and value (`entry`) or value, following a nested path into literal maps
 * (`backoff.initialMs`) and vectors (`schema.tags.0`). When the path goes on past what is written
 * literally (a value in a variable), the deepest value that is written. Undefined when the option
 * is not written in the call (options passed in a variable, say).
 */
export const partSpan = (b: Builtin, args: ReadonlyArray<S.Syntax>, at: CallPart): Span | undefined => {
  const leadingBus = args[0]?.kind === "symbol" && args[0].name === "bus" ? 1 : 0
  if ("argument" in at) return args[at.argument + leadingBus]?.span
  if (b.options === undefined) return undefined
  const [first, ...path] = at.path.split(".")
  const top = optionPairs(args.slice(b.options.from + leadingBus)).find(([k]) => optionName(k) === first)
  if (top === undefined) return undefined
  if (path.length === 0) return at.part === "name" ? top[0].span : at.part === "value" ? top[1].span : join(top[0].span, top[1].span)
  let node = top[1]
  for (let i = 0; i < path.length; i++) {
    const inner: S.Syntax | readonly [S.Syntax, S.Syntax] | undefined = node.kind === "map"
      ? optionPairs([node]).find(([k]) => optionName(k) === path[i])
      : node.kind === "vector" && /^\d+$/.test(path[i]!) ? node.items[Number(path[i])] : undefined
    if (inner === undefined) return node.span
    if (Array.isArray(inner)) {
      const [k, v] = inner as readonly [S.Syntax, S.Syntax]
      if (i === path.length - 1) return at.part === "name" ? k.span : at.part === "value" ? v.span : join(k.span, v.span)
      node = v
    } else {
      node = inner as S.Syntax
    }
  }
  return node.span
}

const modeWhere = (mode: Mode): string => {
  switch (mode) {
    case "load":
      return "at the top level of a program"
    case "macro":
      return "inside a macro"
    case "handler":
      return "inside a handler"
    case "timer":
      return "inside a timer"
    case "test":
      return "inside a test"
  }
}

/** Calls a value as a function: a callable, or a keyword (which gets its key from a map). */
export const callValue = (f: Value, args: ReadonlyArray<Value>, run: RunState, span: Span): unknown => {
  if (isCallable(f)) return f.invoke(run, args, span)
  if (f instanceof Keyword) {
    if (args.length < 1 || args.length > 2) fail("arity", `a keyword used as a function takes a map and an optional default, got ${args.length} arguments`)
    const m = args[0]
    // A keyword made from data may be long: the lookup reads it whole (as `get` pays for it).
    if (f.name.length >= 64) step(run, f.name.length >> 4)
    if (isMap(m) && Object.hasOwn(m, f.name)) return m[f.name]!
    if (isHostObject(m) && Object.hasOwn(m.fields, f.name)) return m.fields[f.name]!
    return args[1] ?? null
  }
  const hint = isMap(f)
    ? ["read a key with (get m :k) or (:k m)"]
    : Array.isArray(f)
    ? ["read an element with (nth v i) or (get v i)"]
    : f instanceof SetValue
    ? ["test membership with (contains? s x)"]
    : []
  return fail("not-a-function", `${describeCallee(f)} is not a function`, hint)
}

/** The called value for the message: a string is quoted cut to 80 characters (a message never grows with its value). */
const describeCallee = (v: Value): string =>
  v === null ? "nil" : typeof v === "string" ? `the string ${print(v, false, { maxChars: 80 })}` : typeof v === "number" ? `the number ${v}` : typeof v === "boolean" ? String(v) : "this value"
