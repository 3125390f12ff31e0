/**
 * Quasiquote as a pure Syntax -> Syntax rewrite (after MAL's step 8): `(quasiquote x)` becomes code
 * that builds `x`, with `~y` evaluated and `~@ys` spliced. The generated calls use protected core
 * names (`sib/cons`, ...) that user definitions cannot shadow. Output nodes keep the span of the
 * form they were made from.
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
const sequence = (items: ReadonlyArray<S.Syntax>, at: S.Syntax): Rewrite => {
  let acc: S.Syntax = call("sib/list", [], at)
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!
    if (item.kind === "list" && isForm(item, "splice-unquote")) {
      if (item.items.length !== 2) return fail("~@ takes exactly one form", item)
      acc = call("sib/concat", [item.items[1]!, acc], item)
    } else {
      const inner = quasiquote(item)
      if (!inner.ok) return inner
      acc = call("sib/cons", [inner.form, acc], item)
    }
  }
  return { ok: true, form: acc }
}

export const quasiquote = (form: S.Syntax): Rewrite => {
  switch (form.kind) {
    case "symbol":
      return { ok: true, form: S.list([S.symbol("quote", form.span), form], form.span) }
    case "list": {
      if (isForm(form, "unquote")) {
        if (form.items.length !== 2) return fail("~ takes exactly one form", form)
        return { ok: true, form: form.items[1]! }
      }
      if (isForm(form, "splice-unquote")) return fail("~@ can only splice into a list, vector, map or set", form)
      return sequence(form.items, form)
    }
    case "vector": {
      const seq = sequence(form.items, form)
      return seq.ok ? { ok: true, form: call("sib/vec", [seq.form], form) } : seq
    }
    case "map": {
      const seq = sequence(form.items, form)
      return seq.ok ? { ok: true, form: call("sib/apply-hash-map", [seq.form], form) } : seq
    }
    case "set": {
      const seq = sequence(form.items, form)
      return seq.ok ? { ok: true, form: call("sib/apply-hash-set", [seq.form], form) } : seq
    }
    default:
      return { ok: true, form }
  }
}
