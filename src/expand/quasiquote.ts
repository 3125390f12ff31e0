/**
 * Quasiquote as a pure Syntax -> Syntax rewrite (after MAL's step 8): `(quasiquote x)` becomes code
 * that builds `x`, with `~y` evaluated and `~@ys` spliced. The generated calls use protected core
 * names (`sib/cons`, ...) that user definitions cannot shadow. Output nodes keep the span of the
 * form they were made from.
 *
 * A symbol ending in `#` (`v#`) is replaced by a fresh name, the same one everywhere in that
 * quasiquote (Clojure's auto-gensym): a macro's locals then cannot capture its caller's names.
 *
 * Quasiquotes nest as in Common Lisp and Scheme (a macro that writes a macro): inside an inner
 * quasiquote, an unquote belongs to the inner one and is kept as written (`~~x` evaluates `x` now
 * and keeps the inner unquote), and `v#` symbols are left for the inner quasiquote, which names
 * them afresh at each of its expansions.
 */
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import * as S from "../reader/Syntax.ts"

export type Rewrite = { readonly ok: true; readonly form: S.Syntax } | { readonly ok: false; readonly diagnostic: Diagnostic }

const call = (name: string, args: ReadonlyArray<S.Syntax>, at: S.Syntax): S.Syntax =>
  S.list([S.symbol(name, at.span), ...args], at.span)

const isForm = (s: S.Syntax, head: string): boolean => S.headName(s) === head

const fail = (message: string, at: S.Syntax): Rewrite => ({
  ok: false,
  diagnostic: diagnostic("Expand", "expand/quasiquote", message, at.span)
})

/** Code that builds the sequence of `items` as a list, splicing `~@` forms. */
const sequence = (items: ReadonlyArray<S.Syntax>, at: S.Syntax, gensyms: Gensyms, depth: number): Rewrite => {
  let acc: S.Syntax = call("sib/list", [], at)
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!
    if (depth === 0 && item.kind === "list" && isForm(item, "splice-unquote")) {
      if (item.items.length !== 2) return fail("~@ takes exactly one form", item)
      acc = call("sib/concat", [item.items[1]!, acc], item)
    } else {
      const inner = rewrite(item, gensyms, depth)
      if (!inner.ok) return inner
      acc = call("sib/cons", [inner.form, acc], item)
    }
  }
  return { ok: true, form: acc }
}

/** The fresh names given to one quasiquote's `v#` symbols. */
interface Gensyms {
  readonly fresh: (base: string) => string
  readonly given: Map<string, string>
}

/** `(quasiquote form)` rewritten; `fresh` names its `v#` symbols. */
export const quasiquote = (form: S.Syntax, fresh: (base: string) => string): Rewrite => rewrite(form, { fresh, given: new Map() }, 0)

/**
 * Code that builds `(head arg)` as data, `arg` rewritten at `depth`: an inner quasiquote, or an
 * unquote that belongs to one.
 */
const kept = (head: S.Syntax, form: S.SList, gensyms: Gensyms, depth: number): Rewrite => {
  const arg = rewrite(form.items[1]!, gensyms, depth)
  return arg.ok ? { ok: true, form: call("sib/list", [S.list([S.symbol("quote", head.span), head], head.span), arg.form], form) } : arg
}

/** `form` at `depth` quasiquotes inside the one being rewritten (0: its own level). */
const rewrite = (form: S.Syntax, gensyms: Gensyms, depth: number): Rewrite => {
  switch (form.kind) {
    case "symbol": {
      let symbol = form
      if (depth === 0 && form.name.length > 1 && form.name.endsWith("#")) {
        let name = gensyms.given.get(form.name)
        if (name === undefined) gensyms.given.set(form.name, name = gensyms.fresh(form.name.slice(0, -1)))
        symbol = S.symbol(name, form.span)
      }
      return { ok: true, form: S.list([S.symbol("quote", form.span), symbol], form.span) }
    }
    case "list": {
      if (isForm(form, "unquote")) {
        if (form.items.length !== 2) return fail("~ takes exactly one form", form)
        return depth === 0 ? { ok: true, form: form.items[1]! } : kept(form.items[0]!, form, gensyms, depth - 1)
      }
      if (isForm(form, "splice-unquote")) {
        if (depth === 0) return fail("~@ can only splice into a list, vector, map or set", form)
        if (form.items.length !== 2) return fail("~@ takes exactly one form", form)
        return kept(form.items[0]!, form, gensyms, depth - 1)
      }
      if (isForm(form, "quasiquote") && form.items.length === 2) return kept(form.items[0]!, form, gensyms, depth + 1)
      return sequence(form.items, form, gensyms, depth)
    }
    case "vector": {
      const seq = sequence(form.items, form, gensyms, depth)
      return seq.ok ? { ok: true, form: call("sib/vec", [seq.form], form) } : seq
    }
    case "map": {
      const seq = sequence(form.items, form, gensyms, depth)
      return seq.ok ? { ok: true, form: call("sib/apply-hash-map", [seq.form], form) } : seq
    }
    case "set": {
      const seq = sequence(form.items, form, gensyms, depth)
      return seq.ok ? { ok: true, form: call("sib/apply-hash-set", [seq.form], form) } : seq
    }
    default:
      return { ok: true, form }
  }
}
