/**
 * Characters that show as nothing, or reorder the text around them: zero-width characters and
 * bidirectional-text controls, each with its Unicode name. The reader refuses them inside names
 * (look-alike symbols); `terminal.ts` escapes them, with control characters, in output. This
 * module only knows the characters; it neither reads nor renders.
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

/** Whether `code` is a zero-width or bidi-control character. */
export const isInvisible = (code: number): boolean => zeroWidth.has(code) || bidi.has(code)

/** `U+200B (zero width space)`. */
export const describeInvisible = (code: number): string =>
  `U+${code.toString(16).toUpperCase().padStart(4, "0")} (${zeroWidth.get(code) ?? bidi.get(code) ?? "invisible character"})`

export interface InvisibleAt {
  /** Offset in the text (UTF-16 code units). */
  readonly index: number
  readonly code: number
  /** Zero-width, or a bidi control. */
  readonly what: "zero-width" | "bidi"
}

/** The first invisible character in `text`, or undefined. */
export const findInvisible = (text: string): InvisibleAt | undefined => {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (isInvisible(code)) return { index: i, code, what: bidi.has(code) ? "bidi" : "zero-width" }
  }
  return undefined
}
