/**
 * The sources a load is given, checked before anything loads: a module of its own, so that the
 * Promise facade checks its arguments at once without loading the language.
 */

/** A source of a program: a file, or a text named as one. */
export interface Source {
  readonly file: string
  /** The text; read from `file` when absent. */
  readonly text?: string | undefined
}

/** What is wrong with a source given to a load (a path, or `{ file, text? }`), or undefined. */
export const sourceProblem = (source: unknown): string | undefined => {
  if (typeof source === "string") return source.length > 0 ? undefined : "a source path cannot be empty"
  if (typeof source !== "object" || source === null || Array.isArray(source)) {
    return `a source is a file path or { file, text }, got ${source === null ? "null" : Array.isArray(source) ? "an array" : typeof source}`
  }
  const s = source as { readonly file?: unknown; readonly text?: unknown }
  const extra = Object.keys(s).filter((k) => k !== "file" && k !== "text")
  if (typeof s.file !== "string" || s.file.length === 0) {
    return `a source object needs file (a path, or the name to show for its text)${extra.length > 0 ? `; it has ${extra.map((k) => JSON.stringify(k)).join(", ")}` : ""}`
  }
  if (extra.length > 0) return `a source object has file and text only, not ${extra.map((k) => JSON.stringify(k)).join(", ")}`
  if (s.text !== undefined && typeof s.text !== "string") return `a source's text must be a string, got ${typeof s.text}`
  return undefined
}
