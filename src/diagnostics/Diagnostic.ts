/**
 * Diagnostics: typed, located problems found while reading, expanding, compiling or running
 * `.sib` code. A diagnostic is data (kind, code, message, span, hints, related locations); its
 * text is computed by `render`. `SibError` carries every diagnostic of a failed load.
 */
import * as Data from "effect/Data"
import { renderDiagnostics } from "./render.ts"
import type { Span } from "./Span.ts"

/** Where a problem was found; `Assertion` is a failed `expect` in a test (shown as "Assertion failed"). */
export type DiagnosticKind = "Read" | "Expand" | "Compile" | "Runtime" | "Assertion"

export interface Related {
  readonly message: string
  readonly span: Span
}

export interface Diagnostic {
  readonly kind: DiagnosticKind
  /** A stable identifier, e.g. `read/unterminated-string`, `compile/unknown-symbol`. */
  readonly code: string
  readonly message: string
  readonly span: Span
  readonly hints: ReadonlyArray<string>
  readonly related: ReadonlyArray<Related>
  readonly severity: "error" | "warning"
  /** Lines shown under the source line, before the hints (an assertion's expected and actual values). */
  readonly details?: ReadonlyArray<string> | undefined
}

/** The longest message a diagnostic keeps (a message may quote program data: it never grows with it). */
export const maxMessageChars = 10_000

/** `text` cut to `max` characters (then "..."): constant work, whatever its length. */
export const cutText = (text: string, max = maxMessageChars): string => (text.length > max ? `${text.slice(0, max)}...` : text)

export const diagnostic = (
  kind: DiagnosticKind,
  code: string,
  message: string,
  span: Span,
  extra: {
    readonly hints?: ReadonlyArray<string>
    readonly related?: ReadonlyArray<Related>
    readonly severity?: "error" | "warning"
    readonly details?: ReadonlyArray<string>
  } = {}
): Diagnostic => ({
  kind,
  code,
  message: cutText(message),
  span,
  hints: extra.hints ?? [],
  related: extra.related ?? [],
  severity: extra.severity ?? "error",
  ...(extra.details !== undefined && extra.details.length > 0 ? { details: extra.details } : {})
})

/** A program (or one of its files) did not load; nothing of it was registered or started. */
export class SibError extends Data.TaggedError("SibError")<{
  readonly diagnostics: ReadonlyArray<Diagnostic>
  /** The text of the files involved, by name, to show the offending lines. */
  readonly sources?: ReadonlyMap<string, string> | undefined
}> {
  /** Every diagnostic rendered for people: location, message, source line with a caret, hints. */
  render(options: { readonly color?: boolean | undefined } = {}): string {
    return renderDiagnostics(this.diagnostics, { sources: this.sources ?? new Map(), color: options.color })
  }

  override get message(): string {
    const [first] = this.diagnostics
    const more = this.diagnostics.length > 1 ? ` (and ${this.diagnostics.length - 1} more)` : ""
    return first === undefined
      ? "the program did not load"
      : `${first.span.file}:${first.span.line}:${first.span.column}: ${first.kind} error: ${first.message}${more}`
  }
}

/**
 * A language error raised while `.sib` code runs (in a handler, a timer or a test). It carries the
 * location of the failing form; as a handler failure it becomes the event's attempt error.
 */
export class SibRuntimeError extends Error {
  readonly _tag = "SibRuntimeError"
  readonly diagnostic: Diagnostic
  /** What a `.sib` `throw` gave: its message as given and its data (the diagnostic's message shows both). */
  readonly thrown: { readonly message: string; readonly data: unknown } | undefined
  /** Other problems found with it (every bad option of one call); a load reports each of them. */
  readonly more: ReadonlyArray<Diagnostic>
  constructor(diag: Diagnostic, thrown?: { readonly message: string; readonly data: unknown }, more: ReadonlyArray<Diagnostic> = []) {
    super(`${diag.span.file}:${diag.span.line}:${diag.span.column}: ${diag.message}`)
    this.name = "SibRuntimeError"
    this.diagnostic = diag
    this.thrown = thrown
    this.more = more
    this.stack = `SibRuntimeError: ${this.message}\n    at ${diag.span.file}:${diag.span.line}:${diag.span.column}`
  }
}
