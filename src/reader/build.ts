/**
 * The grammar's postprocessors: tokens and child nodes in, Syntax nodes out. Spans come from moo
 * token positions. `setFile` names the file being read; the reader sets it before each parse
 * (reading is synchronous, so one file is read at a time).
 */
import type { Span } from "../diagnostics/Span.ts"
import { join } from "../diagnostics/Span.ts"
import type { ClassToken } from "./classes.ts"
import { decodeString, numberValue, spanOf, type Token } from "./lexer.ts"
import * as S from "./Syntax.ts"

let file = "<input>"
export const setFile = (name: string) => {
  file = name
}

/** Marks a form removed by `#_`; the enclosing collection drops it. */
export const discarded = { kind: "discarded" } as const
export type Element = S.Syntax | typeof discarded

/** Appends a form to a collection being parsed (dropping forms removed by `#_`). */
export const push = (items: Array<S.Syntax>, item: Element): Array<S.Syntax> => {
  if (item !== discarded) items.push(item as S.Syntax)
  return items
}

const around = (open: Token, close: Token): Span => join(spanOf(open, file), spanOf(close, file))

export const collection = (open: ClassToken, items: ReadonlyArray<S.Syntax>, close: ClassToken): S.Syntax => {
  const span = around(open.token, close.token)
  switch (open.token.type) {
    case "lparen":
      return S.list(items, span)
    case "lbrack":
      return S.vector(items, span)
    case "setOpen":
      return S.set(items, span)
    default:
      return S.map(items, span)
  }
}

const macroNames: Record<string, string> = {
  quote: "quote", quasiquote: "quasiquote", unquote: "unquote", splice: "splice-unquote"
}

export const readerMacro = (mark: ClassToken, form: S.Syntax) => {
  const at = spanOf(mark.token, file)
  return S.list([S.symbol(macroNames[mark.token.type!]!, at), form], join(at, form.span))
}

export const atom = (c: ClassToken): S.Syntax => {
  const t = c.token
  const at = spanOf(t, file)
  switch (t.type) {
    case "number":
      return S.number(numberValue(t.text) ?? Number.NaN, at)
    case "string":
      return S.string(decodeString(t.text).value, at)
    case "keyword":
      return S.keyword(t.text.slice(1), at)
    default:
      switch (t.text) {
        case "nil":
          return S.nil(at)
        case "true":
          return S.boolean(true, at)
        case "false":
          return S.boolean(false, at)
        default:
          return S.symbol(t.text, at)
      }
  }
}
