/**
 * Text from events, stored data or source files, made safe for a terminal: control characters
 * (C0 including tab and newline, DEL, C1), line and paragraph separators, format characters (bidi
 * controls, zero-width characters, soft hyphens, tag characters), private-use, surrogate and
 * unassigned code points, and fillers become visible escapes (`\x1b`, `\n`, `\u202e`, `\u{e0041}`),
 * so data can neither drive the terminal (clear, retitle, move the cursor) nor reorder or hide text.
 * Everything else, backslashes included, is left as it is. JSON output (`--json`, `--format json`)
 * is a data contract: `jsonText` writes the same characters as JSON's `\uXXXX` escapes (JSON.stringify
 * escapes only the C0 controls), so it parses to the same data and shows nothing raw either.
 */
const named: Readonly<Record<string, string>> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" }

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, "0")

// Control (C0, DEL, C1), format (zero-width, bidi controls, soft hyphen, tag characters, invisible
// operators), private-use, surrogate and unassigned code points, line and paragraph separators,
// and the fillers that print as nothing. Variation selectors stay: emoji need them.
const unsafe = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}\p{Zl}\p{Zp}\u115F\u1160\u2800\u3164\uFFA0]/gu

const escapeOne = (ch: string): string => {
  const code = ch.codePointAt(0)!
  return named[ch] ?? (code <= 0xff ? `\\x${hex(code, 2)}` : code <= 0xffff ? `\\u${hex(code, 4)}` : `\\u{${hex(code, 5)}}`)
}

/** `text` as one line with every unsafe character escaped (tab and newline too). */
export const safeText = (text: string): string => text.replace(unsafe, escapeOne)

/** Like `safeText`, but newlines stay (each line is escaped on its own): for multi-line reports. */
export const safeLines = (text: string): string => text.split("\n").map(safeText).join("\n")


/**
 * `value` as JSON text (`JSON.stringify`, `space` to indent) with every character `safeText`
 * escapes written as `\uXXXX` (each UTF-16 unit): the same data for a JSON reader, nothing a
 * terminal acts on. Newlines and tabs stay: outside strings they are only indentation (inside
 * strings JSON already escapes them).
 */
export const jsonText = (value: unknown, space?: number): string => {
  const text: string | undefined = JSON.stringify(value, null, space)
  if (text === undefined) return "undefined"
  return text.replace(unsafe, (ch) => {
    if (ch === "\n" || ch === "\t" || ch === "\r") return ch
    let out = ""
    for (let i = 0; i < ch.length; i++) out += `\\u${hex(ch.charCodeAt(i), 4)}`
    return out
  })
}
