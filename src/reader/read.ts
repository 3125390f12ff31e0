/**
 * The reader: `.sib` text in, Syntax forms (with spans) or Read diagnostics out. It never throws.
 *
 * 1. Lex the whole text with moo, checking each token: characters that start no token,
 *    unterminated strings, invalid escapes, invalid numbers, unknown `#` reader macros, and
 *    invisible characters (zero-width, bidi controls) in symbols, keywords and numbers, where they
 *    make names that look alike but differ (strings and comments may hold them).
 * 2. Check delimiters with a stack: an unexpected closer, a mismatched one (the diagnostic names
 *    both the opener and where it failed), an unclosed opener at the end, and nesting deeper than
 *    `maxDepth` (so pathological input never reaches the parser or a recursive walk).
 * 3. Parse each top-level form's tokens with the nearley grammar as soon as the form is complete
 *    (one parser per form, so the parser's chart never spans more than one form: reading costs the
 *    Syntax it keeps, not a chart of the whole file). Each parse must be exactly one (more is a
 *    bug in the grammar). A top-level form of more than `maxFormTokens` tokens is refused.
 * 4. Check map and set literals: an odd number of map entries, duplicate literal keys.
 */
import nearley from "nearley"
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import { describeInvisible, findInvisible } from "../diagnostics/invisible.ts"
import type { Span } from "../diagnostics/Span.ts"
import { safeText } from "../diagnostics/terminal.ts"
import { atom, type SourceToken } from "./build.ts"
import grammar from "./grammar.ts"
import { decodeString, isTrivia, lexer, numberValue, spanOf, type Token } from "./lexer.ts"
import type { Syntax } from "./Syntax.ts"

export interface ReadResult {
  readonly forms: ReadonlyArray<Syntax>
  readonly diagnostics: ReadonlyArray<Diagnostic>
  /** Significant tokens read (all of them, when reading went to the end). */
  readonly tokens?: number | undefined
}

export interface ReadOptions {
  /** Deepest nesting accepted (default 256). */
  readonly maxDepth?: number | undefined
  /** Most tokens in one top-level form (default 200,000): what parsing one form may hold at once. */
  readonly maxFormTokens?: number | undefined
  /** Most tokens in the whole text (default: no limit); the loader gives what its load has left. */
  readonly maxTokens?: number | undefined
}

export const defaultMaxFormTokens = 200_000

const compiled = nearley.Grammar.fromCompiled(grammar)

const openers: Record<string, string> = { lparen: ")", lbrack: "]", lbrace: "}", setOpen: "}" }
const closers: Record<string, string> = { rparen: ")", rbrack: "]", rbrace: "}" }

const readError = (code: string, message: string, span: Span, extra: Parameters<typeof diagnostic>[4] = {}) =>
  diagnostic("Read", `read/${code}`, message, span, extra)

/** The span of `length` characters at `at` within a token (which may span lines). */
const spanWithin = (token: Token, file: string, at: number, length: number): Span => {
  const before = token.text.slice(0, at)
  const lines = before.split("\n")
  const line = token.line + lines.length - 1
  const column = lines.length === 1 ? token.col + at : lines[lines.length - 1]!.length + 1
  return { file, line, column, endLine: line, endColumn: column + length, offset: token.offset + at, endOffset: token.offset + at + length }
}

/**
 * The moo lexer's interface for nearley over tokens the reader has already lexed (and checked):
 * the grammar is compiled against the moo lexer itself (its token types are the terminals); this
 * only replays one form's significant tokens instead of lexing text again.
 */
class Replay {
  private index = 0
  private readonly tokens: ReadonlyArray<SourceToken>
  constructor(tokens: ReadonlyArray<SourceToken>) {
    this.tokens = tokens
  }
  reset() {}
  next() {
    return this.tokens[this.index++]
  }
  save() {
    return {}
  }
  formatError(token: SourceToken) {
    return `unexpected ${token.text}`
  }
  has(type: string) {
    return lexer.has(type)
  }
}

const atomTypes: ReadonlySet<string> = new Set(["number", "string", "keyword", "symbol"])

const nameKinds: Record<string, string> = { symbol: "symbol", keyword: "keyword", number: "number" }

/**
 * An invisible character in a name-like token (symbol, keyword, number), or a U+FEFF in whitespace
 * anywhere but at the start of the text (where it is a byte-order mark): both make a name that
 * looks like another. Undefined when the token is clean.
 */
const invisibleIn = (token: Token, file: string): Diagnostic | undefined => {
  const kind = nameKinds[token.type!]
  if (kind === undefined && !(token.type === "ws" && token.offset > 0)) return undefined
  const found = findInvisible(token.text)
  if (found === undefined) return undefined
  const where = spanWithin(token, file, found.index, 1)
  const what = describeInvisible(found.code)
  const message = kind === undefined
    ? `an invisible character ${what} between forms; it is allowed only as a byte-order mark at the start of a file`
    : `the ${kind} ${safeText(token.text)} contains an invisible character ${what}`
  return readError("invisible-character", message, where, {
    hints: [
      found.what === "bidi"
        ? "delete it: a bidirectional-text control changes how the text around it is displayed"
        : "delete it: a name with an invisible character looks exactly like the name without it"
    ]
  })
}

const describeToken = (t: Token): string => {
  switch (t.type) {
    case "quote":
      return "' (quote)"
    case "quasiquote":
      return "` (quasiquote)"
    case "unquote":
      return "~ (unquote)"
    case "splice":
      return "~@ (splice-unquote)"
    case "discard":
      return "#_ (form comment)"
    default:
      return t.text
  }
}

export const read = (text: string, file: string, options: ReadOptions = {}): ReadResult => {
  const maxDepth = options.maxDepth ?? 256
  const maxFormTokens = options.maxFormTokens ?? defaultMaxFormTokens
  const maxTokens = options.maxTokens ?? Number.POSITIVE_INFINITY
  let tokens = 0
  const diagnostics: Array<Diagnostic> = []
  /** The significant tokens of the top-level form being read. */
  let significant: Array<SourceToken> = []
  const forms: Array<Syntax> = []
  /** Parses the form just completed (unless an earlier problem means nothing will be returned). */
  const flush = (): void => {
    if (significant.length === 1 && diagnostics.length === 0 && atomTypes.has(significant[0]!.type!)) {
      // A lone atom (a number, a name) is its own form: no parser needed.
      forms.push(atom(significant[0]!))
    } else if (significant.length > 0 && diagnostics.length === 0) {
      const parsed = parse(significant, file)
      if (Array.isArray(parsed)) forms.push(...parsed)
      else {
        diagnostics.push(parsed as Diagnostic)
        fatal = true
      }
    }
    significant = []
  }
  const stack: Array<Token> = []
  // Reader-macro prefixes (' ` ~ ~@ #_) nest their form one level deeper: they count toward the
  // depth until the form they apply to is complete.
  let prefixes: Array<number> = []
  const completeForm = () => {
    while (prefixes.length > 0 && prefixes[prefixes.length - 1] === stack.length) prefixes.pop()
  }
  const tooDeep = (at: Span) => {
    diagnostics.push(readError("too-deep", `forms nest deeper than ${maxDepth} levels`, at, {
      hints: ["split the expression into named parts with def or let"]
    }))
    fatal = true
  }
  let fatal = false

  lexer.reset(text)
  let token: Token | undefined
  try {
    token = lexer.next()
  } catch {
    token = undefined
  }
  let last: Token | undefined
  while (token !== undefined && !fatal) {
    const at = spanOf(token, file)
    const invisible = invisibleIn(token, file)
    if (invisible !== undefined) diagnostics.push(invisible)
    switch (token.type) {
      case "error":
        diagnostics.push(readError("unexpected-character", `unexpected character ${JSON.stringify(token.text[0])}`, { ...at, endColumn: at.column + 1, endLine: at.line, endOffset: at.offset + 1 }))
        fatal = true
        break
      case "unterminated":
        diagnostics.push(readError("unterminated-string", "unterminated string: it starts here and is never closed", { ...at, endLine: at.line, endColumn: at.column + 1, endOffset: at.offset + 1 }, {
          hints: ["close it with a double quote; write \\\" for a quote inside a string"]
        }))
        fatal = true
        break
      case "badHash":
        diagnostics.push(readError("unknown-dispatch", `unknown reader macro ${token.text.length > 1 ? token.text : `#${text[token.offset + 1] ?? ""}`}`, at, {
          hints: ["#{ ... } is a set and #_ skips the next form; there are no other # forms"]
        }))
        break
      case "quote":
      case "quasiquote":
      case "unquote":
      case "splice":
      case "discard":
        prefixes.push(stack.length)
        if (stack.length + prefixes.length > maxDepth) tooDeep(at)
        break
      case "number":
        completeForm()
        if (invisible === undefined && numberValue(token.text) === undefined) {
          diagnostics.push(readError("invalid-number", `invalid number ${token.text}`, at, {
            hints: ["numbers look like 42, -7, 3.14, 1e-3 or 0xff; a symbol cannot start with a digit"]
          }))
        } else if (invisible === undefined && !/[.eE]/.test(token.text.replace(/^[-+]?0[xX]/, "")) && !Number.isSafeInteger(numberValue(token.text))) {
          // An integer written beyond 2^53 - 1 would be read as a rounded one (as arithmetic refuses to make).
          diagnostics.push(readError("inexact-integer", `the integer ${token.text.length > 40 ? `${token.text.slice(0, 40)}...` : token.text} is beyond ±9,007,199,254,740,991, the largest a number holds exactly`, at, {
            hints: ["write it as a string, or with an exponent (9.1e15) for a number that may be rounded"]
          }))
        }
        break
      case "string":
        completeForm()
        for (const p of decodeString(token.text).problems) {
          diagnostics.push(readError("invalid-escape", p.message, spanWithin(token, file, p.at, p.length)))
        }
        break
      case "keyword":
        completeForm()
        if (token.text === ":") diagnostics.push(readError("empty-keyword", "a keyword needs a name after the colon", at))
        break
      case "symbol":
        completeForm()
        break
      default:
        if (token.type !== undefined && token.type in openers) {
          stack.push(token)
          if (stack.length + prefixes.length > maxDepth) tooDeep(at)
        } else if (token.type !== undefined && token.type in closers) {
          // A prefix left dangling before a closer is reported by the parser ("expected a form after").
          prefixes = prefixes.filter((depth) => depth < stack.length)
          const open = stack.pop()
          if (open === undefined) {
            diagnostics.push(readError("unexpected-closer", `unexpected ${token.text}: nothing is open here`, at, {
              hints: ["remove it, or add the opening delimiter it was meant to close"]
            }))
            fatal = true
          } else if (openers[open.type!] === closers[token.type]) {
            completeForm()
          } else if (openers[open.type!] !== closers[token.type]) {
            diagnostics.push(readError("mismatched-delimiter", `${token.text} does not close the ${open.text} opened at line ${open.line}, column ${open.col}`, at, {
              related: [{ message: `the ${open.text} opened here expects ${openers[open.type!]}`, span: spanOf(open, file) }],
              hints: [`close the ${open.text} with ${openers[open.type!]} before this ${token.text}`]
            }))
            fatal = true
          }
        }
    }
    if (!isTrivia(token)) {
      if (++tokens > maxTokens && !fatal) {
        diagnostics.push(readError("too-many-tokens", `the program has more than ${maxTokens.toLocaleString("en-US")} tokens (the load's limit, maxSourceTokens)`, spanOf(token, file), {
          hints: ["a program's files are code: keep large data in events or in the application"]
        }))
        fatal = true
        break
      }
      significant.push(Object.assign(token, { file }))
      last = token
      if (significant.length > maxFormTokens && !fatal) {
        diagnostics.push(readError("form-too-large", `a top-level form of more than ${maxFormTokens.toLocaleString("en-US")} tokens`, spanOf(significant[0]!, file), {
          hints: ["split it into several top-level forms (several defs), or load large data from events rather than source"]
        }))
        fatal = true
      }
      // A top-level form is complete: nothing open, no reader-macro prefix waiting for its form.
      if (!fatal && stack.length === 0 && prefixes.length === 0) flush()
    }
    if (fatal) break
    try {
      token = lexer.next()
    } catch {
      token = undefined
    }
  }
  if (!fatal && stack.length > 0) {
    const open = stack[stack.length - 1]!
    const end = last === undefined ? spanOf(open, file) : spanOf(last, file)
    diagnostics.push(readError("unclosed", `the ${open.text} opened here is never closed`, spanOf(open, file), {
      related: [{ message: `the text ends here, expected ${openers[open.type!]}`, span: { ...end, line: end.endLine, column: end.endColumn, offset: end.endOffset } }],
      hints: [`add ${openers[open.type!]} where the form should end`]
    }))
    fatal = true
  }
  // A form left incomplete at the end (a prefix with no form after it) is parsed for its message.
  if (!fatal) flush()
  if (diagnostics.length > 0) return { forms: [], diagnostics, tokens }
  for (const form of forms) checkLiterals(form, diagnostics)
  return { forms: diagnostics.length > 0 ? [] : forms, diagnostics, tokens }
}

/** Parses the tokens of one top-level form (or of a form left incomplete at the end): its forms, or the diagnostic. */
/**
 * One parser for every form: it is put back at its first column (nearley's save/restore) before
 * each, since building a parser (predicting the whole grammar) costs more than parsing a small form.
 */
const parser = new nearley.Parser(compiled, { keepHistory: false })
const start = parser.save()

const parse = (significant: ReadonlyArray<SourceToken>, file: string): ReadonlyArray<Syntax> | Diagnostic => {
  parser.restore(start)
  parser.lexer = new Replay(significant) as never
  try {
    parser.feed("")
  } catch (e) {
    const bad = (e as { token?: SourceToken }).token
    const index = bad === undefined ? -1 : significant.indexOf(bad)
    const before = index > 0 ? significant[index - 1] : undefined
    const where = bad !== undefined ? spanOf(bad, file) : spanOf(significant[significant.length - 1]!, file)
    const message = before !== undefined && ["quote", "quasiquote", "unquote", "splice", "discard"].includes(before.type!)
      ? `expected a form after ${describeToken(before)}, found ${bad?.text}`
      : `unexpected ${bad?.text ?? "end of input"}`
    return readError("unexpected-token", message, where)
  }
  if (parser.results.length === 0) {
    const end = significant[significant.length - 1]!
    return readError("missing-form", `expected a form after ${describeToken(end)} before the end of the text`, spanOf(end, file))
  }
  if (parser.results.length > 1) {
    return readError("ambiguous", `internal error: the grammar found ${parser.results.length} parses (please report this)`, spanOf(significant[0]!, file))
  }
  return parser.results[0] as ReadonlyArray<Syntax>
}

/** Odd map entries and duplicate literal keys (map keys, set members). */
const checkLiterals = (form: Syntax, out: Array<Diagnostic>): void => {
  switch (form.kind) {
    case "map": {
      if (form.items.length % 2 === 1) {
        const dangling = form.items[form.items.length - 1]!
        out.push(readError("odd-map", `a map needs a value for every key; ${literalText(dangling)} has none`, form.span, {
          related: [{ message: "this key has no value", span: dangling.span }],
          hints: ["maps are written {key value key value ...}"]
        }))
      }
      reportDuplicates(form.items.filter((_, i) => i % 2 === 0), "key", "map", out)
      for (const item of form.items) checkLiterals(item, out)
      return
    }
    case "set":
      reportDuplicates(form.items, "member", "set", out)
      for (const item of form.items) checkLiterals(item, out)
      return
    case "list":
    case "vector":
      for (const item of form.items) checkLiterals(item, out)
      return
    default:
      return
  }
}

/**
 * What a literal key or member is compared as. A map's keyword, string and number keys name one
 * entry by their text (`:a` and "a", 1 and "1" are the same key); a set's members are equal only
 * as values (`:a` and "a" are two members), as at run time.
 */
const literalKey = (s: Syntax, container: "map" | "set"): string | undefined => {
  switch (s.kind) {
    case "keyword":
      return container === "map" ? `s:${s.name}` : `k:${s.name}`
    case "string":
      return `s:${s.value}`
    case "number":
      return container === "map" ? `s:${String(s.value)}` : `n:${s.value}`
    case "boolean":
      return `b:${s.value}`
    case "nil":
      return "nil"
    default:
      return undefined
  }
}

const literalText = (s: Syntax): string => {
  switch (s.kind) {
    case "keyword":
      return `:${s.name}`
    case "string":
      return JSON.stringify(s.value)
    case "symbol":
      return s.name
    case "number":
      return String(s.value)
    default:
      return "the last key"
  }
}

const reportDuplicates = (keys: ReadonlyArray<Syntax>, what: string, container: "map" | "set", out: Array<Diagnostic>) => {
  const seen = new Map<string, Syntax>()
  for (const k of keys) {
    const id = literalKey(k, container)
    if (id === undefined) continue
    const first = seen.get(id)
    if (first !== undefined) {
      out.push(readError(`duplicate-${what}`, `duplicate ${what} ${literalText(k)} in a ${container} literal`, k.span, {
        related: [{ message: `first written here${first.kind === k.kind ? "" : ` (as ${literalText(first)})`}`, span: first.span }],
        hints: first.kind === k.kind ? [] : ["a map's keyword, string and number keys name the same entry by their text"]
      }))
    } else {
      seen.set(id, k)
    }
  }
}
