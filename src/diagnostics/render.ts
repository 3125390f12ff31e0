/**
 * Rendering diagnostics for people: `file:line:col: <Kind> error: message` (`Assertion failed:`
 * for a failed expect), the source line with a caret under the span, related locations, detail
 * lines (an assertion's expected and actual values), then one `* hint` line per hint. Colors only when
 * asked (the CLI decides: TTY and no NO_COLOR). Source lines, file names, messages and hints are
 * escaped for the terminal (`terminal.ts`); the JSON shape is not.
 */
import type { Diagnostic } from "./Diagnostic.ts"
import type { Span } from "./Span.ts"
import { safeLines, safeText } from "./terminal.ts"

export interface RenderOptions {
  /** Source text by file name, to show the offending line. */
  readonly sources: ReadonlyMap<string, string>
  readonly color?: boolean | undefined
}

const paint = (on: boolean, code: string, text: string) => (on ? `\u001b[${code}m${text}\u001b[0m` : text)

const sourceLine = (span: Span, sources: ReadonlyMap<string, string>): string | undefined => {
  const text = sources.get(span.file)
  if (text === undefined || span.line < 1) return undefined
  return text.split("\n")[span.line - 1]
}

/**
 * How many terminal columns `raw` source text takes once shown: tabs as one space, unsafe
 * characters escaped; a wide character (CJK, fullwidth forms, most emoji) takes two columns, a
 * combining mark none.
 */
const shownWidth = (raw: string): number => {
  let width = 0
  for (const ch of show(raw)) width += columnsOf(ch.codePointAt(0)!)
  return width
}

const combining = /^[\p{Mn}\p{Me}]$/u

/** Columns a character takes in a terminal (East Asian Wide and Fullwidth: 2, combining marks: 0). */
const columnsOf = (code: number): number => {
  if (code < 0x300) return 1
  if (combining.test(String.fromCodePoint(code))) return 0
  return (code >= 0x1100 && code <= 0x115f) || (code >= 0x2e80 && code <= 0x303e) || (code >= 0x3041 && code <= 0x33ff) ||
      (code >= 0x3400 && code <= 0x4dbf) || (code >= 0x4e00 && code <= 0x9fff) || (code >= 0xa000 && code <= 0xa4cf) ||
      (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) || (code >= 0xfe30 && code <= 0xfe4f) ||
      (code >= 0xff00 && code <= 0xff60) || (code >= 0xffe0 && code <= 0xffe6) || (code >= 0x1f300 && code <= 0x1f64f) ||
      (code >= 0x1f900 && code <= 0x1f9ff) || (code >= 0x20000 && code <= 0x3fffd)
    ? 2
    : 1
}

const show = (raw: string): string => safeText(raw.replace(/\t/g, " "))

/**
 * The span's line, escaped for the terminal, with a caret under the span. Columns count raw
 * characters, so the caret is placed by the escaped width of the text before and inside the span.
 */
const excerpt = (span: Span, sources: ReadonlyMap<string, string>, color: boolean): Array<string> => {
  const raw = sourceLine(span, sources)
  if (raw === undefined) return []
  const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw
  const gutter = String(span.line)
  const start = Math.max(0, span.column - 1)
  const end = span.endLine === span.line ? Math.max(start + 1, span.endColumn - 1) : line.length
  // A span may reach one column past the end of the line (a missing closer, the end of the text).
  const beyond = Math.min(1, Math.max(0, end - Math.max(start, line.length)))
  const pad = shownWidth(line.slice(0, start)) + Math.max(0, start - line.length)
  const width = Math.max(1, shownWidth(line.slice(start, Math.min(end, line.length))) + beyond)
  return [
    `  ${gutter} | ${show(line)}`,
    `  ${" ".repeat(gutter.length)} | ${paint(color, "31", " ".repeat(pad) + "^".repeat(width))}`
  ]
}

const renderDiagnostic = (d: Diagnostic, options: RenderOptions): string => {
  const color = options.color === true
  const where = `${safeText(d.span.file)}:${d.span.line}:${d.span.column}`
  const label = d.kind === "Assertion" ? "Assertion failed" : `${d.kind} ${d.severity}`
  const lines = [
    `${paint(color, "1", where)}: ${paint(color, d.severity === "error" ? "31" : "33", label)}: ${safeText(d.message)}`,
    ...excerpt(d.span, options.sources, color)
  ]
  for (const r of d.related) {
    lines.push(`  ${safeText(r.span.file)}:${r.span.line}:${r.span.column}: ${safeText(r.message)}`)
    lines.push(...excerpt(r.span, options.sources, color).map((l) => `  ${l}`))
  }
  for (const detail of d.details ?? []) lines.push(`  ${safeLines(detail)}`)
  for (const hint of d.hints) lines.push(`  * ${safeLines(hint)}`)
  return lines.join("\n")
}

export const renderDiagnostics = (ds: ReadonlyArray<Diagnostic>, options: RenderOptions): string =>
  ds.map((d) => renderDiagnostic(d, options)).join("\n\n")

/** The JSON shape of a diagnostic (the CLI's `--format json` contract). */
export const diagnosticJson = (d: Diagnostic) => ({
  file: d.span.file,
  line: d.span.line,
  column: d.span.column,
  endLine: d.span.endLine,
  endColumn: d.span.endColumn,
  severity: d.severity,
  code: d.code,
  message: d.message,
  hints: d.hints
})
