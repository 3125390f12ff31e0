/**
 * Where a piece of source is: file, 1-based line and column of its start and end (end exclusive),
 * and the matching character offsets. Every syntax node, diagnostic and runtime language error
 * carries one; macro output inherits its call site's.
 */
export interface Span {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly endLine: number
  readonly endColumn: number
  readonly offset: number
  readonly endOffset: number
}

/** The span covering both `a` and `b` (which must be in the same file, `a` first). */
export const join = (a: Span, b: Span): Span => ({
  file: a.file,
  line: a.line,
  column: a.column,
  endLine: b.endLine,
  endColumn: b.endColumn,
  offset: a.offset,
  endOffset: b.endOffset
})

/** A zero-width span for code that has no source (built-ins, values made at run time). */
export const nowhere = (file = "<unknown>"): Span => ({ file, line: 0, column: 0, endLine: 0, endColumn: 0, offset: 0, endOffset: 0 })

export const format = (span: Span): string => `${span.file}:${span.line}:${span.column}`
