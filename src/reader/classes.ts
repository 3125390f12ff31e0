/**
 * The coarse token classes the grammar works with. Delimiter balance is checked before parsing,
 * so the grammar needs only "an opener", "a closer", "a reader-macro prefix", "an atom" and "#_";
 * the builders look at the original moo token (`ClassToken.token`) to build the right node.
 */
import type { Token } from "./lexer.ts"

export type TokenClass = "open" | "close" | "prefix" | "atom" | "discard"

export interface ClassToken {
  readonly type: TokenClass
  readonly value: string
  readonly text: string
  readonly token: Token
}

const classOf: Record<string, TokenClass> = {
  lparen: "open", lbrack: "open", lbrace: "open", setOpen: "open",
  rparen: "close", rbrack: "close", rbrace: "close",
  quote: "prefix", quasiquote: "prefix", unquote: "prefix", splice: "prefix",
  number: "atom", string: "atom", keyword: "atom", symbol: "atom",
  discard: "discard"
}

export const classify = (token: Token): ClassToken => ({
  type: classOf[token.type!] ?? "atom",
  value: token.value,
  text: token.text,
  token
})

/** The lexer the grammar is compiled against: it only needs to know the class names. */
export const classes = {
  has: (type: string): boolean => type === "open" || type === "close" || type === "prefix" || type === "atom" || type === "discard",
  reset: () => {},
  next: () => undefined,
  save: () => ({}),
  formatError: () => ""
}
