/**
 * Look-alike names: the reader refuses zero-width and bidi-control characters inside symbols,
 * keywords and numbers (and U+FEFF anywhere but as a leading byte-order mark) with a located
 * `read/invisible-character` diagnostic; strings and comments may hold them, and a rendered
 * diagnostic shows them escaped with the caret under the escape.
 */
import { describe, expect, it } from "vitest"
import { renderDiagnostics } from "../../src/diagnostics/render.ts"
import { read } from "../../src/reader/read.ts"

const invisible: ReadonlyArray<readonly [number, string]> = [
  [0x200b, "zero width space"],
  [0x200c, "zero width non-joiner"],
  [0x200d, "zero width joiner"],
  [0x2060, "word joiner"],
  [0x200e, "left-to-right mark"],
  [0x200f, "right-to-left mark"],
  [0x061c, "arabic letter mark"],
  [0x202a, "left-to-right embedding"],
  [0x202b, "right-to-left embedding"],
  [0x202c, "pop directional formatting"],
  [0x202d, "left-to-right override"],
  [0x202e, "right-to-left override"],
  [0x2066, "left-to-right isolate"],
  [0x2067, "right-to-left isolate"],
  [0x2068, "first strong isolate"],
  [0x2069, "pop directional isolate"]
]

const codes = (text: string) => read(text, "t.sib").diagnostics.map((d) => d.code)
const u = (code: number) => code.toString(16).toUpperCase().padStart(4, "0")

describe("look-alike names", () => {
  it.each(invisible.map(([code, name]) => [u(code), code, name] as const))("U+%s inside a symbol, a keyword and a number is a read error naming it", (_, code, name) => {
    const ch = String.fromCharCode(code)
    for (const [text, kind, column] of [
      [`(def tot${ch}al 1)`, "symbol", 9],
      [`(get m :pid${ch})`, "keyword", 12],
      [`(+ 1${ch}0 2)`, "number", 5],
      [`(def x 1) ${ch}`, "symbol", 11]
    ] as const) {
      const { diagnostics, forms } = read(text, "t.sib")
      expect(forms).toEqual([])
      expect(diagnostics, text).toHaveLength(1)
      const [d] = diagnostics
      expect(d!.code).toBe("read/invisible-character")
      expect(d!.message).toContain(`the ${kind} `)
      expect(d!.message).toContain(`contains an invisible character U+${u(code)} (${name})`)
      expect(d!.message).not.toContain(ch)
      expect([d!.span.line, d!.span.column, d!.span.endColumn]).toEqual([1, column, column + 1])
      expect(d!.hints[0]).toMatch(/^delete it: /)
    }
  })

  it("strings and comments may hold them; a leading byte-order mark is whitespace", () => {
    for (const [code] of invisible) {
      const ch = String.fromCharCode(code)
      expect(codes(`(def s "a${ch}b") ; a${ch}b`)).toEqual([])
    }
    expect(codes("\ufeff(def x 1)")).toEqual([])
    expect(read("\ufeff(def x 1)", "t.sib").forms).toHaveLength(1)
  })

  it("U+FEFF after the start of the text splits what looks like one name into two: refused", () => {
    const { diagnostics } = read("(def to\ufefftal 1)", "t.sib")
    expect(diagnostics.map((d) => [d.code, d.span.column])).toEqual([["read/invisible-character", 8]])
    expect(diagnostics[0]!.message).toBe(
      "an invisible character U+FEFF (zero width no-break space (byte order mark)) between forms; it is allowed only as a byte-order mark at the start of a file"
    )
  })

  it("reports each token once, and reading goes on to the next one", () => {
    const { diagnostics } = read("(def a\u200b\u200b 1)\n(def b\u202e 2)", "t.sib")
    expect(diagnostics.map((d) => [d.span.line, d.span.column, d.message])).toEqual([
      [1, 7, "the symbol a\\u200b\\u200b contains an invisible character U+200B (zero width space)"],
      [2, 7, "the symbol b\\u202e contains an invisible character U+202E (right-to-left override)"]
    ])
  })

  it("renders the line escaped, the caret under the escaped character", () => {
    const text = "(def x [\"\u001b[2J\" tot\u200bal])"
    const rendered = renderDiagnostics(read(text, "t.sib").diagnostics, { sources: new Map([["t.sib", text]]) })
    expect(rendered).toBe([
      "t.sib:1:19: Read error: the symbol tot\\u200bal contains an invisible character U+200B (zero width space)",
      "  1 | (def x [\"\\x1b[2J\" tot\\u200bal])",
      `    | ${" ".repeat(21)}^^^^^^`,
      "  * delete it: a name with an invisible character looks exactly like the name without it"
    ].join("\n"))
  })
})

describe("other invisible characters in names (from a review)", () => {
  it("refuses soft hyphens, invisible operators, fillers, tag characters, joiners, selectors, blanks and controls", () => {
    for (const code of [0x00ad, 0x2062, 0x3164, 0xffa0, 0xe0061, 0x034f, 0x180e, 0xfe0f, 0x206a, 0xfff9, 0x2800, 0x07, 0x9b, 0x2003, 0xe000]) {
      const ch = String.fromCodePoint(code)
      const result = read(`(def total 1)\n(def total${ch} 2)\n`, "look.sib")
      // (A Unicode space is not part of a symbol at all: the lexer stops at it and refuses it.)
      expect(result.diagnostics.map((d) => d.code).join(), `U+${code.toString(16)}`).toMatch(/read\/(invisible|unexpected)-character/)
    }
  })
})
