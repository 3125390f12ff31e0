/**
 * Text from events, stored data or source files, made safe for a terminal: control characters
 * (C0 including tab and newline, DEL, C1), line and paragraph separators, bidi controls and
 * zero-width characters become visible escapes (`\x1b`, `\n`, `\u202e`), so data can neither drive
 * the terminal (clear, retitle, move the cursor) nor reorder or hide text. Everything else,
 * backslashes included, is left as it is. JSON output (`--json`, `--format json`) does not use
 * this: it is a data contract, and JSON.stringify already escapes the C0 controls.
 */
const named: Readonly<Record<string, string>> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" }

const hex = (code: number, digits: number) => code.toString(16).padStart(digits, "0")

// C0, DEL, C1, U+2028/U+2029, and the zero-width and bidi characters of invisible.ts (a test
// checks that every one of those is escaped here).
const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g

const escapeOne = (ch: string): string => {
  const code = ch.charCodeAt(0)
  return named[ch] ?? (code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`)
}

/** `text` as one line with every unsafe character escaped (tab and newline too). */
export const safeText = (text: string): string => text.replace(unsafe, escapeOne)

/** Like `safeText`, but newlines stay (each line is escaped on its own): for multi-line reports. */
export const safeLines = (text: string): string => text.split("\n").map(safeText).join("\n")

