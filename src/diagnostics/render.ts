/**
 * Rendering diagnostics for people: `file:line:col: <Kind> error: message`, the source line with a
 * caret under the span, related locations, then one `* hint` line per hint. Colors only when
 * asked (the CLI decides: TTY and no NO_COLOR).
 */
import type { Diagnostic } from "./Diagnostic.ts"
import type { Span } from "./Span.ts"

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

const excerpt = (span: Span, sources: ReadonlyMap<string, string>, color: boolean): Array<string> => {
  const line = sourceLine(span, sources)
  if (line === undefined) return []
  const shown = line.replace(/\t/g, " ")
  const gutter = String(span.line)
  const width = span.endLine === span.line ? Math.max(1, span.endColumn - span.column) : Math.max(1, shown.length - span.column + 1)
  const caret = " ".repeat(Math.max(0, span.column - 1)) + "^".repeat(Math.min(width, Math.max(1, shown.length - span.column + 2)))
  return [
    `  ${gutter} | ${shown}`,
    `  ${" ".repeat(gutter.length)} | ${paint(color, "31", caret)}`
  ]
}

export const renderDiagnostic = (d: Diagnostic, options: RenderOptions): string => {
  const color = options.color === true
  const where = `${d.span.file}:${d.span.line}:${d.span.column}`
  const lines = [
    `${paint(color, "1", where)}: ${paint(color, d.severity === "error" ? "31" : "33", `${d.kind} ${d.severity}`)}: ${d.message}`,
    ...excerpt(d.span, options.sources, color)
  ]
  for (const r of d.related) {
    lines.push(`  ${r.span.file}:${r.span.line}:${r.span.column}: ${r.message}`)
    lines.push(...excerpt(r.span, options.sources, color).map((l) => `  ${l}`))
  }
  for (const hint of d.hints) lines.push(`  * ${hint}`)
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
