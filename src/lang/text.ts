/**
 * Text: the string builtins (str, format, case, split, join, keyword and name; subs, trim, the
 * searches, replace and the number parsers) and the character helpers the collection builtins
 * share (count, first, nth and last on a string read characters, not UTF-16 units). Each pays for
 * the text it reads or builds before building it. Sequences of values are collections.ts's.
 */
import { costs, Keyword, maxPrintDepth, print, Sym, type Value } from "../reader/Value.ts"
import { type Builtin, builtin } from "./builtins.ts"
import { num, seqOf, str } from "./operands.ts"
import { fail } from "./langError.ts"
import { allocate, checkSize, checkSizeAhead, type RunState, step } from "./run.ts"

// ---- characters -----------------------------------------------------------------------------

/**
 * Strings are sequences of characters (Unicode code points) everywhere in the language: `count`,
 * `subs`, `nth`, `first`, `split` on "" and destructuring agree, and no operation cuts an emoji
 * into lone surrogates. Text without surrogates (almost all) takes JavaScript's own indices.
 */
const hasSurrogates = (text: string): boolean => /[\uD800-\uDFFF]/.test(text)

/** The number of characters of `text`, paid as a scan of it. */
export const characterCount = (text: string, run: RunState): number => {
  step(run, text.length >> 6)
  if (!hasSurrogates(text)) return text.length
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // A high surrogate followed by a low one is one character; any lone surrogate counts as one.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}

const isHigh = (c: number): boolean => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff

/**
 * The UTF-16 offset where character `n` of `text` starts, counting from the offset `from`
 * (text.length when that is its end, -1 past it), paid as a scan up to it: `first`, `nth` and `subs` read only as far as
 * they need, and never build the string's characters.
 */
const offsetOfCharacter = (text: string, n: number, run: RunState, from = 0): number => {
  step(run, n >> 4)
  let i = from
  for (let k = 0; k < n; k++) {
    if (i >= text.length) return -1
    i += isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1)) ? 2 : 1
  }
  return i
}

/** The character (code point) at index `n` of `text`, or undefined outside it. */
export const characterAt = (text: string, n: number, run: RunState): string | undefined => {
  if (!Number.isInteger(n) || n < 0) return undefined
  const at = offsetOfCharacter(text, n, run)
  if (at < 0 || at >= text.length) return undefined
  return text.slice(at, isHigh(text.charCodeAt(at)) && at + 1 < text.length && isLow(text.charCodeAt(at + 1)) ? at + 2 : at + 1)
}

/** The last character of `text` (a surrogate pair whole), or undefined when it is empty. */
export const lastCharacter = (text: string): string | undefined => {
  if (text.length === 0) return undefined
  const end = text.length - 1
  return isLow(text.charCodeAt(end)) && end > 0 && isHigh(text.charCodeAt(end - 1)) ? text.slice(end - 1) : text.slice(end)
}

// ---- helpers --------------------------------------------------------------------------------

/** Text of a value for str, format and join: metered, and failing past the string limit. */
const textOf = (v: Value, run: RunState, room: number): string =>
  print(v, true, {
    meter: run.budget,
    maxChars: Math.max(0, room),
    tooLong: () => fail("value-size", `a string would be over the limit of ${run.limits.maxString.toLocaleString("en-US")} characters`),
    tooDeep: () => fail("depth", `a value nested more than ${maxPrintDepth} levels deep cannot be turned into text`)
  })

/** `%d`: a number's integer part (its fraction dropped), all its digits (1e21 is 1000000000000000000000, not "1e+21"). */
const integerDigits = (v: Value): string => {
  const n = Math.trunc(num(v, "format %d"))
  if (!Number.isFinite(n)) fail("format", `format: %d needs a finite number, got ${print(v)}`)
  return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString()
}

/** `%f`: a number with `digits` decimals, in digits (toFixed writes 1e21 and above in exponent form). */
const fixedDigits = (n: number, digits: number): string => {
  if (!Number.isFinite(n) || Math.abs(n) < 1e21) return n.toFixed(digits)
  // So large a double has no fraction: its integer digits, then zeros.
  return `${BigInt(n).toString()}${digits === 0 ? "" : `.${"0".repeat(digits)}`}`
}

const formatString = (fmt: string, args: ReadonlyArray<Value>, run: RunState): string => {
  let i = 0
  let length = fmt.length
  // Anything else after a % is refused, not left in the text with its argument dropped.
  return fmt.replace(/%(%|s|d|(?:\.(\d+))?f|\.?\d*[\s\S]?)/g, (whole, kind: string, digits: string | undefined) => {
    if (kind === "%") return "%"
    if (kind !== "s" && kind !== "d" && !kind.endsWith("f")) {
      fail("format", `format: ${JSON.stringify(whole)} is not a directive format knows: %s (any value), %d (integer), %f or %.2f (number), %% (a % sign)`)
    }
    if (digits !== undefined && Number(digits) > 100) fail("format", `format: ${whole} asks for more than 100 decimals`)
    if (i >= args.length) fail("format", `format: ${whole} has no argument (only ${args.length} given)`)
    const a = args[i++]!
    if (kind === "s") {
      const text = textOf(a, run, run.limits.maxString - length)
      length += text.length
      return text
    }
    const out = kind === "d" ? integerDigits(a) : fixedDigits(num(a, "format %f"), digits === undefined ? 6 : Math.min(100, Number(digits)))
    length += out.length
    if (length > run.limits.maxString) fail("value-size", `a string would be over the limit of ${run.limits.maxString.toLocaleString("en-US")} characters`)
    allocate(run, out.length * costs.char)
    return out
  })
}

/** `text` without whitespace at either end, for a parse: trimming reads it, so it costs a step per 16 characters. */
const trimmed = (text: string, run: RunState): string => {
  step(run, text.length >> 4)
  return text.trim()
}

/** Searching `text` for `part` (split, includes?, replace): at worst every position compares all of `part`. */
const searchCost = (run: RunState, text: string, part: string): void => {
  step(run, Math.ceil((text.length / 16) * Math.max(1, part.length / 16)))
}

/** Upper or lower case: paid for first (the result may be longer than the text: "ß" is "SS"). */
const changeCase = (v: Value, fn: "upper-case" | "lower-case", run: RunState): string => {
  const text = str(v, fn)
  checkSizeAhead(run, text.length, "string")
  const out = fn === "upper-case" ? text.toUpperCase() : text.toLowerCase()
  if (out.length > text.length) checkSize(run, out.length, "string")
  return out
}

// ---- the library ----------------------------------------------------------------------------

export const strings: Array<Builtin> = [
  builtin({
    name: "str", group: "strings", arglists: ["[& xs]"], doc: "Concatenates the values as text (nil is empty, strings unquoted).",
    example: "(str \"pid \" 42) ;=> \"pid 42\"",
    impl: (args, run) => {
      let out = ""
      for (const a of args) if (a !== null) out += textOf(a, run, run.limits.maxString - out.length)
      return out
    }
  }),
  builtin({
    name: "format", group: "strings", arglists: ["[fmt & args]"], doc: "Fills %s (any value), %d (a number's integer part, its fraction dropped), %f / %.2f (a number with 6 or N decimals, at most 100, in digits however large) and %% in fmt; any other % is an error.",
    example: "(format \"%s took %.1f ms\" \"fetch\" 12.345) ;=> \"fetch took 12.3 ms\"",
    impl: ([fmt, ...args], run) => {
      const f = str(fmt!, "format")
      checkSizeAhead(run, f.length, "string")
      const out = formatString(f, args, run)
      checkSize(run, out.length, "string")
      return out
    }
  }),
  builtin({ name: "upper-case", group: "strings", arglists: ["[s]"], doc: "s in upper case.", example: "(upper-case \"ok\") ;=> \"OK\"", impl: ([s], run) => changeCase(s!, "upper-case", run) }),
  builtin({ name: "lower-case", group: "strings", arglists: ["[s]"], doc: "s in lower case.", example: "(lower-case \"OK\") ;=> \"ok\"", impl: ([s], run) => changeCase(s!, "lower-case", run) }),
  builtin({
    name: "split", group: "strings", arglists: ["[s separator]"], doc: "The parts of s between separators, as a vector.", example: "(split \"a,b\" \",\") ;=> [\"a\" \"b\"]",
    impl: ([s, sep], run) => {
      const text = str(s!, "split")
      const separator = str(sep!, "split")
      // The parts hold the text's characters once more; an empty separator makes one per character.
      // Searching may compare the separator at every position: paid as text x separator length.
      checkSizeAhead(run, text.length, "string")
      searchCost(run, text, separator)
      if (separator.length === 0) checkSizeAhead(run, text.length, "collection")
      // On "", one part per character (not per UTF-16 unit: an emoji stays whole).
      const parts = separator.length === 0 ? [...text] : text.split(separator, run.limits.maxCollection + 1)
      checkSize(run, parts.length, "collection")
      return parts
    }
  }),
  builtin({
    name: "join", group: "strings", arglists: ["[separator coll]"], doc: "The elements of coll as text, separated.", example: "(join \", \" [1 2 3]) ;=> \"1, 2, 3\"",
    impl: ([sep, coll], run) => {
      const separator = str(sep!, "join")
      const items = seqOf(coll!, "join", run)
      let length = 0
      const parts = items.map((x) => {
        const text = x === null ? "" : textOf(x, run, run.limits.maxString - length)
        length += text.length + separator.length
        return text
      })
      checkSizeAhead(run, length, "string")
      return parts.join(separator)
    }
  }),
  builtin({
    name: "keyword", group: "strings", arglists: ["[name]"], doc: "The keyword with this name.", example: "(keyword \"pid\") ;=> :pid",
    impl: ([n], run) => {
      if (n instanceof Keyword) return n
      const name = str(n!, "keyword")
      allocate(run, costs.object + name.length * costs.char)
      return Keyword.fromData(name)
    }
  }),
  builtin({
    name: "name", group: "strings", arglists: ["[x]"], doc: "The name of a keyword or symbol (a string stays itself).", example: "(name :pid) ;=> \"pid\"",
    impl: ([x]) => (x instanceof Keyword || x instanceof Sym ? x.name : str(x!, "name"))
  })
]

/** Text: pieces, tests and numbers read from it. */
export const moreStrings: Array<Builtin> = [
  builtin({
    name: "subs", group: "strings", arglists: ["[s start]", "[s start end]"], doc: "The characters of s from start (inclusive) to end (exclusive; default the end).",
    example: "(subs \"heartbeat\" 5) ;=> \"beat\"",
    impl: ([s, start, end], run) => {
      const text = str(s!, "subs")
      const length = characterCount(text, run)
      const from = num(start!, "subs")
      const to = end === undefined ? length : num(end, "subs")
      if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to > length || from > to) {
        fail("index", `subs: ${from}..${to} is outside the string (length ${length})`)
      }
      checkSizeAhead(run, to - from, "string")
      if (length === text.length) return text.slice(from, to)
      const begin = offsetOfCharacter(text, from, run)
      return text.slice(begin, offsetOfCharacter(text, to - from, run, begin))
    }
  }),
  builtin({
    name: "trim", group: "strings", arglists: ["[s]"], doc: "s without whitespace at either end.", example: "(trim \"  ok \") ;=> \"ok\"",
    impl: ([s], run) => {
      const text = str(s!, "trim")
      checkSizeAhead(run, text.length, "string")
      return text.trim()
    }
  }),
  builtin({
    name: "includes?", group: "strings", arglists: ["[s part]"], doc: "True when s contains part.", example: "(includes? \"heartbeat\" \"art\") ;=> true",
    impl: ([s, part], run) => {
      const text = str(s!, "includes?")
      const p = str(part!, "includes?")
      searchCost(run, text, p)
      return text.includes(p)
    }
  }),
  builtin({
    name: "starts-with?", group: "strings", arglists: ["[s prefix]"], doc: "True when s starts with prefix.", example: "(starts-with? \"svc.beat\" \"svc.\") ;=> true",
    impl: ([s, prefix], run) => {
      const p = str(prefix!, "starts-with?")
      step(run, p.length >> 4)
      return str(s!, "starts-with?").startsWith(p)
    }
  }),
  builtin({
    name: "ends-with?", group: "strings", arglists: ["[s suffix]"], doc: "True when s ends with suffix.", example: "(ends-with? \"a.png\" \".png\") ;=> true",
    impl: ([s, suffix], run) => {
      const p = str(suffix!, "ends-with?")
      step(run, p.length >> 4)
      return str(s!, "ends-with?").endsWith(p)
    }
  }),
  builtin({
    name: "replace", group: "strings", arglists: ["[s match replacement]"], doc: "s with every occurrence of match (a string, taken literally) replaced.",
    example: "(replace \"a-b-c\" \"-\" \"/\") ;=> \"a/b/c\"",
    impl: ([s, match, replacement], run) => {
      const text = str(s!, "replace")
      const m = str(match!, "replace")
      const r = str(replacement!, "replace")
      if (m.length === 0) fail("replace", "replace: the text to replace cannot be empty")
      searchCost(run, text, m)
      // The result's size is known before building it: occurrences x (replacement - match) more.
      let count = 0
      for (let i = text.indexOf(m); i !== -1; i = text.indexOf(m, i + m.length)) count++
      step(run, text.length >> 4)
      checkSizeAhead(run, text.length + count * (r.length - m.length), "string")
      return text.split(m).join(r)
    }
  }),
  builtin({
    name: "parse-long", group: "strings", arglists: ["[s]"], doc: "The integer written in s (digits with an optional sign; whitespace around it is ignored), or nil when s is not one or is beyond 2^53 - 1.",
    example: "(parse-long \"42\") ;=> 42",
    impl: ([s], run) => {
      const text = trimmed(str(s!, "parse-long"), run)
      if (!/^[-+]?\d{1,16}$/.test(text)) return null
      const n = Number(text)
      return Number.isSafeInteger(n) ? n : null
    }
  }),
  builtin({
    name: "parse-double", group: "strings", arglists: ["[s]"], doc: "The number written in s (as JSON writes numbers, or with a leading + or .; whitespace around it is ignored), or nil when s is not one or is not finite.",
    example: "(parse-double \"2.5\") ;=> 2.5",
    impl: ([s], run) => {
      const text = trimmed(str(s!, "parse-double"), run)
      if (text.length > 64 || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return null
      const n = Number(text)
      return Number.isFinite(n) ? n : null
    }
  })
]
