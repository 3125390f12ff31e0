/**
 * The moo lexer for `.sib` text, and the token helpers the reader needs (spans, string escapes,
 * number syntax). Commas are whitespace, as in Clojure.
 */
import moo from "moo"
import type { Span } from "../diagnostics/Span.ts"

export const lexer = moo.compile({
  nl: { match: /\r?\n/, lineBreaks: true },
  ws: /[ \t\r,\f\v\u00a0\ufeff]+/,
  comment: /;[^\n]*/,
  string: { match: /"(?:\\[^]|[^\\"])*"/, lineBreaks: true },
  unterminated: { match: /"(?:\\[^]|[^\\"])*/, lineBreaks: true },
  lparen: "(",
  rparen: ")",
  lbrack: "[",
  rbrack: "]",
  setOpen: "#{",
  lbrace: "{",
  rbrace: "}",
  discard: "#_",
  badHash: /#[^\s()[\]{}"]*/,
  splice: "~@",
  unquote: "~",
  quasiquote: "`",
  quote: "'",
  number: /[-+]?[0-9][^\s()[\]{}"',;`~]*/,
  keyword: /:[^\s()[\]{}"',;`~@]*/,
  symbol: /[^\s()[\]{}"',;`~@#:0-9][^\s()[\]{}"',;`~]*/,
  error: moo.error
})

export type Token = moo.Token

/** Tokens the grammar never sees. */
export const isTrivia = (t: Token): boolean => t.type === "ws" || t.type === "nl" || t.type === "comment"

export const spanOf = (t: Token, file: string): Span => {
  let endLine = t.line
  let endColumn = t.col + t.text.length
  if (t.lineBreaks > 0) {
    endLine = t.line + t.lineBreaks
    endColumn = t.text.length - t.text.lastIndexOf("\n")
  }
  return { file, line: t.line, column: t.col, endLine, endColumn, offset: t.offset, endOffset: t.offset + t.text.length }
}

const numberPattern = /^[-+]?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$/
const hexPattern = /^[-+]?0x[0-9a-fA-F]+$/

/** The value of a number token, or undefined when its text is not a number. */
export const numberValue = (text: string): number | undefined => {
  if (numberPattern.test(text)) return Number(text)
  if (hexPattern.test(text)) return text.startsWith("-") ? -Number(text.slice(1)) : Number(text.replace(/^\+/, ""))
  return undefined
}

export interface EscapeProblem {
  /** Offset within the token text (including the opening quote). */
  readonly at: number
  readonly length: number
  readonly message: string
}

const simpleEscapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\", "0": "\0", b: "\b", f: "\f" }

/** Decodes a string token (quotes included); problems are reported, the rest decoded anyway. */
export const decodeString = (text: string): { value: string; problems: Array<EscapeProblem> } => {
  const problems: Array<EscapeProblem> = []
  let out = ""
  const body = text.slice(1, text.endsWith('"') && text.length > 1 ? -1 : undefined)
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!
    if (ch !== "\\") {
      out += ch
      continue
    }
    const next = body[i + 1]
    if (next === undefined) {
      problems.push({ at: i + 1, length: 1, message: "a backslash at the end of a string escapes nothing" })
      break
    }
    if (next in simpleEscapes) {
      out += simpleEscapes[next]
      i++
      continue
    }
    if (next === "u") {
      const braced = /^\{([0-9a-fA-F]{1,6})\}/.exec(body.slice(i + 2))
      const plain = /^[0-9a-fA-F]{4}/.exec(body.slice(i + 2))
      const code = braced !== null ? parseInt(braced[1]!, 16) : plain !== null ? parseInt(plain[0], 16) : undefined
      if (code === undefined || code > 0x10ffff) {
        problems.push({ at: i + 1, length: 2, message: "invalid unicode escape: use \\uXXXX (4 hex digits) or \\u{X...}" })
        i++
        continue
      }
      out += String.fromCodePoint(code)
      i += 1 + (braced !== null ? braced[0].length : 4)
      continue
    }
    problems.push({
      at: i + 1,
      length: 2,
      message: `invalid escape \\${next} in a string (valid: \\n \\t \\r \\" \\\\ \\0 \\b \\f \\uXXXX \\u{X...})`
    })
    i++
  }
  return { value: out, problems }
}
