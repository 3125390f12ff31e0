/**
 * The grammar's postprocessors: tokens and child nodes in, Syntax nodes out. Spans come from the
 * tokens' positions and the file each token was read from (`SourceToken.file`, set by the reader),
 * so building needs no state of its own.
 */
import type { Span } from "../diagnostics/Span.ts"
import { join } from "../diagnostics/Span.ts"
import { decodeString, numberValue, spanOf, type Token } from "./lexer.ts"
import * as S from "./Syntax.ts"

/** A moo token that knows the file it was read from. */
export interface SourceToken extends Token {
  readonly file: string
}

const at = (t: SourceToken): Span => spanOf(t, t.file)

/** Marks a form removed by `#_`; the enclosing collection drops it. */
export const discarded = { kind: "discarded" } as const
export type Element = S.Syntax | typeof discarded

/** Appends a form to a collection being parsed (dropping forms removed by `#_`). */
export const push = (items: Array<S.Syntax>, item: Element): Array<S.Syntax> => {
  if (item !== discarded) items.push(item as S.Syntax)
  return items
}

const around = (open: SourceToken, close: SourceToken): Span => join(at(open), at(close))

export const list = (open: SourceToken, items: ReadonlyArray<S.Syntax>, close: SourceToken) => S.list(items, around(open, close))
export const vector = (open: SourceToken, items: ReadonlyArray<S.Syntax>, close: SourceToken) => S.vector(items, around(open, close))
export const map = (open: SourceToken, items: ReadonlyArray<S.Syntax>, close: SourceToken) => S.map(items, around(open, close))
export const set = (open: SourceToken, items: ReadonlyArray<S.Syntax>, close: SourceToken) => S.set(items, around(open, close))

const macroNames: Record<string, string> = {
  quote: "quote", quasiquote: "quasiquote", unquote: "unquote", splice: "splice-unquote"
}

/** 'x, `x, ~x, ~@x as (quote x), (quasiquote x), (unquote x), (splice-unquote x). */
export const readerMacro = (mark: SourceToken, form: S.Syntax) => {
  const where = at(mark)
  return S.list([S.symbol(macroNames[mark.type!]!, where), form], join(where, form.span))
}

export const atom = (t: SourceToken): S.Syntax => {
  const where = at(t)
  switch (t.type) {
    case "number":
      return S.number(numberValue(t.text) ?? Number.NaN, where)
    case "string":
      return S.string(decodeString(t.text).value, where)
    case "keyword":
      return S.keyword(t.text.slice(1), where)
    default:
      switch (t.text) {
        case "nil":
          return S.nil(where)
        case "true":
          return S.boolean(true, where)
        case "false":
          return S.boolean(false, where)
        default:
          return S.symbol(t.text, where)
      }
  }
}
