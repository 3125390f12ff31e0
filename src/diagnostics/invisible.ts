/**
 * Characters that show as nothing, or reorder the text around them: zero-width characters,
 * bidirectional-text controls, and every other character a reader cannot see (format characters
 * such as the soft hyphen and tag characters, control and private-use characters, unassigned code
 * points, spaces other than the space, fillers, variation selectors). The reader refuses them
 * inside names (look-alike symbols); `terminal.ts` escapes the ones that can hide or reorder text
 * in output. This module only knows the characters; it neither reads nor renders.
 */

/** Zero-width characters: a name containing one looks exactly like the name without it. */
const zeroWidth: ReadonlyMap<number, string> = new Map([
  [0x200b, "zero width space"],
  [0x200c, "zero width non-joiner"],
  [0x200d, "zero width joiner"],
  [0x2060, "word joiner"],
  [0xfeff, "zero width no-break space (byte order mark)"]
])

/** Bidirectional-text controls: they reorder how the text around them is displayed. */
const bidi: ReadonlyMap<number, string> = new Map([
  [0x061c, "arabic letter mark"],
  [0x200e, "left-to-right mark"],
  [0x200f, "right-to-left mark"],
  [0x202a, "left-to-right embedding"],
  [0x202b, "right-to-left embedding"],
  [0x202c, "pop directional formatting"],
  [0x202d, "left-to-right override"],
  [0x202e, "right-to-left override"],
  [0x2066, "left-to-right isolate"],
  [0x2067, "right-to-left isolate"],
  [0x2068, "first strong isolate"],
  [0x2069, "pop directional isolate"]
])

/** Named invisible characters besides those (fillers, blanks, joiners and selectors that print as nothing). */
const otherNamed: ReadonlyMap<number, string> = new Map([
  [0x00ad, "soft hyphen"],
  [0x034f, "combining grapheme joiner"],
  [0x115f, "hangul choseong filler"],
  [0x1160, "hangul jungseong filler"],
  [0x180e, "mongolian vowel separator"],
  [0x2062, "invisible times"],
  [0x2800, "braille pattern blank"],
  [0x3164, "hangul filler"],
  [0xfe0f, "variation selector-16"],
  [0xffa0, "halfwidth hangul filler"]
])

/**
 * Not allowed in a name: anything a reader cannot see or tell apart from nothing (control, format,
 * private-use, surrogate and unassigned code points; spaces and separators; fillers, blanks,
 * variation selectors).
 */
const inName = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zs}\p{Zl}\p{Zp}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u2800\u3164\uFE00-\uFE0F\uFFA0\u{E0100}-\u{E01EF}]/u

/** Whether the code point `code` may not appear in a name (it would make a look-alike). */
export const isInvisible = (code: number): boolean =>
  zeroWidth.has(code) || bidi.has(code) || (!lexerWhitespace.has(code) && inName.test(String.fromCodePoint(code)))

/** What the lexer reads as whitespace between forms (it never appears inside a name). */
const lexerWhitespace: ReadonlySet<number> = new Set([0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0xa0])

const categoryOf = (code: number): string => {
  const ch = String.fromCodePoint(code)
  if (/\p{Cc}/u.test(ch)) return "a control character"
  if (/\p{Cf}/u.test(ch)) return "a format character, shown as nothing"
  if (/\p{Co}/u.test(ch)) return "a private-use character"
  if (/\p{Cn}/u.test(ch)) return "an unassigned code point"
  if (/\p{Z}/u.test(ch)) return "a space character"
  return "an invisible character"
}

/** `U+200B (zero width space)`. */
export const describeInvisible = (code: number): string =>
  `U+${code.toString(16).toUpperCase().padStart(4, "0")} (${zeroWidth.get(code) ?? bidi.get(code) ?? otherNamed.get(code) ?? categoryOf(code)})`

export interface InvisibleAt {
  /** Offset in the text (UTF-16 code units). */
  readonly index: number
  readonly code: number
  /** Zero-width, a bidi control, or another invisible character. */
  readonly what: "zero-width" | "bidi" | "invisible"
}

/** The first invisible character in `text` (by code point), or undefined. */
export const findInvisible = (text: string): InvisibleAt | undefined => {
  let i = 0
  for (const ch of text) {
    const code = ch.codePointAt(0)!
    if (isInvisible(code)) return { index: i, code, what: bidi.has(code) ? "bidi" : zeroWidth.has(code) ? "zero-width" : "invisible" }
    i += ch.length
  }
  return undefined
}
