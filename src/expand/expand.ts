/**
 * The expander: rewrites a form until no macro call is left. It rewrites `quasiquote`, applies the
 * core macros, runs user macros through `ExpandEnv.callMacro`, and expands only the code parts of
 * special forms, as each special's `ExpandEnv.special` says (never inside `quote`, parameter lists
 * or binding names). The language provides both, so this layer does not depend on the compiler.
 * A user global with a core macro's name shadows that macro, and so does a local (a name bound by
 * let, loop, fn or catch) where it is in scope. Errors are collected, not thrown.
 */
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import * as S from "../reader/Syntax.ts"
import { type FormBudget, syntaxToValue, type Value, valueToSyntax } from "../reader/Value.ts"
import { coreMacros } from "./macros.ts"
import { quasiquote } from "./quasiquote.ts"

export type MacroResult = { readonly ok: true; readonly value: Value } | { readonly ok: false; readonly diagnostic: Diagnostic }

export interface ExpandEnv {
  /** Forms that user macros may still produce in this load (shared by every expansion of it). */
  readonly forms: FormBudget
  /** A user macro (defined with defmacro), opaque to the expander. */
  readonly userMacro: (name: string) => unknown
  /** True when the program defines a global with this name (it shadows a core macro). */
  readonly shadows: (name: string) => boolean
  /** Runs a user macro at expansion time on its arguments as data. */
  readonly callMacro: (macro: unknown, args: ReadonlyArray<Value>, site: Span) => MacroResult
  /** A special form's expansion of its code parts (the language's table of specials). */
  readonly special: (name: string) => ((form: S.SList, walk: (s: S.Syntax) => S.Syntax, x: SpecialExpander) => S.Syntax) | undefined
}

/** What a special's expansion may use of the expander. */
export interface SpecialExpander {
  /** A name no program can write (for temporaries). */
  readonly fresh: (base: string) => string
  /** Reports a problem with the form; the expansion goes on with what it returns. */
  readonly report: (d: Diagnostic) => void
  /**
   * Runs `f` in a scope of locals it adds with `bind` (the forms walked after a `bind` see it);
   * they end with `f`. In call position a local is called, not expanded as a macro of its name.
   */
  readonly scope: <A>(f: (bind: (name: string) => void) => A) => A
}

export type Expanded = { readonly ok: true; readonly form: S.Syntax } | { readonly ok: false; readonly diagnostics: ReadonlyArray<Diagnostic> }

/** Macro expansions allowed per top-level form before expansion is deemed not to terminate. */
const maxExpansions = 10_000
/** How deeply expanded code may nest. */
const maxNesting = 500

/**
 * The size of macro output (its forms), and whether it nests deeper than `limit`; an iterative
 * walk, since macro output may be deep. Stops early once `budget` forms were counted.
 */
const measure = (root: S.Syntax, limit: number, budget: number): { readonly forms: number; readonly tooDeep: boolean } => {
  const stack: Array<readonly [S.Syntax, number]> = [[root, 1]]
  let forms = 0
  while (stack.length > 0 && forms <= budget) {
    const [s, depth] = stack.pop()!
    forms++
    if (depth > limit) return { forms, tooDeep: true }
    if (s.kind === "list" || s.kind === "vector" || s.kind === "map" || s.kind === "set") {
      for (const item of s.items) stack.push([item, depth + 1])
    }
  }
  return { forms, tooDeep: false }
}

let counter = 0
/**
 * A name for a temporary that no program can write or capture: `~` cannot occur in a symbol the
 * reader reads (grammar/sib.ne), so `or~12` is nobody's but the expansion's.
 */
export const fresh = (base: string) => `${base}~${++counter}`

/** True for a name `fresh` made (kept out of suggestions). */
export const isFreshName = (name: string): boolean => name.includes("~")

/**
 * `form` expanded: every macro call in it, or with `headOnly` only its head, until it is no longer a
 * macro call (Clojure's `macroexpand`): the loader looks at what a top-level form becomes, so a
 * macro may write a `defmacro`, a `deftest` or a `do` of top-level forms.
 */
export const expand = (form: S.Syntax, env: ExpandEnv, headOnly = false): Expanded => {
  const diagnostics: Array<Diagnostic> = []
  let expansions = 0

  const expandAll = (items: ReadonlyArray<S.Syntax>): Array<S.Syntax> => items.map(walk)
  /** The locals in scope where the walk is, with how many bindings of each name are open. */
  const locals = new Map<string, number>()
  const scope = <A>(f: (bind: (name: string) => void) => A): A => {
    const bound: Array<string> = []
    try {
      return f((name) => {
        bound.push(name)
        locals.set(name, (locals.get(name) ?? 0) + 1)
      })
    } finally {
      for (const name of bound) {
        const n = locals.get(name)! - 1
        if (n === 0) locals.delete(name)
        else locals.set(name, n)
      }
    }
  }
  let nesting = 0

  const walk = (s: S.Syntax): S.Syntax => {
    if (++nesting > maxNesting) {
      nesting--
      if (!diagnostics.some((d) => d.code === "expand/too-deep")) {
        diagnostics.push(diagnostic("Expand", "expand/too-deep", `the expanded code nests deeper than ${maxNesting} levels`, s.span, {
          hints: ["a macro probably expands into itself without end"]
        }))
      }
      return s
    }
    try {
      return walkOnce(s)
    } finally {
      nesting--
    }
  }

  const walkOnce = (s: S.Syntax): S.Syntax => {
    switch (s.kind) {
      case "list":
        return walkList(s)
      case "vector":
        return S.vector(expandAll(s.items), s.span)
      case "map":
        return S.map(expandAll(s.items), s.span)
      case "set":
        return S.set(expandAll(s.items), s.span)
      default:
        return s
    }
  }

  /** Applies macros to the form's head until it is no longer a macro call. */
  const expandHead = (start: S.Syntax): S.Syntax => {
    let s = start
    while (s.kind === "list" && s.items[0]?.kind === "symbol") {
      const name = (s.items[0] as S.SSymbol).name
      // A local shadows a macro of its name, as in Clojure: (let [and f] (and 1)) calls f.
      if (locals.has(name)) return s
      const user = env.userMacro(name)
      const core = user === undefined && !env.shadows(name) ? coreMacros.get(name) : undefined
      if (user === undefined && core === undefined) return s
      if (++expansions > maxExpansions) {
        // Said once for the form: every expansion left after it is one more of the same.
        if (expansions === maxExpansions + 1) {
          diagnostics.push(diagnostic("Expand", "expand/runaway", `expanding this form took more than ${maxExpansions.toLocaleString("en-US")} macro expansions (${name} was expanding)`, s.span, {
            hints: ["a macro expands into a call of itself without end, or into several copies of a form that expands further"]
          }))
        }
        return S.nil(s.span)
      }
      if (user !== undefined) {
        const result = env.callMacro(user, s.items.slice(1).map(syntaxToValue), s.span)
        if (!result.ok) {
          diagnostics.push(result.diagnostic)
          return S.nil(s.span)
        }
        // The conversion back to code takes each form it makes from the load's budget, so output
        // that shares structure (or just grows without end) stops there instead of being built.
        const budgetBefore = env.forms.left
        const back = valueToSyntax(result.value, s.span, env.forms)
        if (typeof back === "string") {
          diagnostics.push(env.forms.left < 0
            ? diagnostic("Expand", "expand/too-large", budgetBefore > 0
              ? `macro expansions in this load produced more than their budget of forms (${name} was expanding; ${budgetBefore.toLocaleString("en-US")} forms were left)`
              : `macro expansions in this load had used up their budget of forms before ${name} expanded here`, s.span, {
              hints: ["a macro probably expands into itself without end, or builds code from a large collection", "the budget is the limit maxExpandedForms"]
            })
            : diagnostic("Expand", "expand/bad-expansion", `macro ${name} returned ${back}`, s.span))
          return S.nil(s.span)
        }
        const size = measure(back, maxNesting, budgetBefore - env.forms.left)
        if (size.tooDeep) {
          diagnostics.push(diagnostic("Expand", "expand/too-deep", `macro ${name} expanded into code nested deeper than ${maxNesting} levels`, s.span, {
            hints: ["a macro probably expands into itself without end"]
          }))
          return S.nil(s.span)
        }
        s = back
      } else {
        const result = core!.expand(s, fresh)
        if (!result.ok) {
          diagnostics.push(result.diagnostic)
          return S.nil(s.span)
        }
        s = result.form
      }
    }
    return s
  }

  const walkList = (form: S.SList): S.Syntax => {
    const expanded = expandHead(form)
    if (expanded.kind !== "list") return walkOnce(expanded)
    const s = expanded
    const head = s.items[0]
    if (head === undefined || head.kind !== "symbol") return S.list(expandAll(s.items), s.span)
    if (head.name === "quasiquote") {
      if (s.items.length !== 2) {
        diagnostics.push(diagnostic("Expand", "expand/quasiquote", "` (quasiquote) takes exactly one form", s.span))
        return s
      }
      const rewritten = quasiquote(s.items[1]!, fresh)
      if (!rewritten.ok) {
        diagnostics.push(rewritten.diagnostic)
        return s
      }
      return walk(rewritten.form)
    }
    const special = env.special(head.name)
    if (special !== undefined) return special(s, walk, { fresh, report: (d) => diagnostics.push(d), scope })
    return S.list([head, ...expandAll(s.items.slice(1))], s.span)
  }

  let out: S.Syntax
  try {
    out = headOnly ? expandHead(form) : walk(form)
  } catch (e) {
    if (!(e instanceof RangeError)) throw e
    diagnostics.push(diagnostic("Expand", "expand/too-deep", "expanding this form recursed too deeply", form.span))
    out = form
  }
  return diagnostics.length > 0 ? { ok: false, diagnostics } : { ok: true, form: out }
}
