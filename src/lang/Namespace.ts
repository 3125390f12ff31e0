/**
 * A program's global names: cells holding built-ins, protected internal names (what quasiquote
 * and the core macros expand to, which no program can shadow) and the program's own definitions
 * (which replace built-ins of the same name). Names resolve to cells at compile time; a cell's
 * value is read when the code runs.
 */
import type { Span } from "../diagnostics/Span.ts"

/** A global name: a built-in or a program definition. */
export interface Cell {
  readonly name: string
  value: unknown
  kind: "builtin" | "global" | "declared"
  span: Span | undefined
  doc: string | undefined
}

export const unbound: unique symbol = Symbol("unbound")

/** The program's global names. User definitions replace built-ins of the same name. */
export class Namespace {
  readonly cells = new Map<string, Cell>()
  private readonly protect = new Map<string, Cell>()

  constructor(builtins: Iterable<readonly [string, unknown, string | undefined]>, protectedBuiltins: Iterable<readonly [string, unknown]>) {
    for (const [name, value, doc] of builtins) this.cells.set(name, { name, value, kind: "builtin", span: undefined, doc })
    for (const [name, value] of protectedBuiltins) this.protect.set(name, { name, value, kind: "builtin", span: undefined, doc: undefined })
  }

  lookup(name: string): Cell | undefined {
    return this.protect.get(name) ?? this.cells.get(name)
  }

  /** Declares (or redeclares) a program global, replacing a built-in cell. */
  declare(name: string, span: Span): Cell {
    const existing = this.cells.get(name)
    if (existing !== undefined && existing.kind !== "builtin") return existing
    const cell: Cell = { name, value: unbound, kind: "declared", span, doc: undefined }
    this.cells.set(name, cell)
    return cell
  }

  isProgramGlobal(name: string): boolean {
    const c = this.cells.get(name)
    return c !== undefined && c.kind !== "builtin"
  }

  names(): Iterable<string> {
    return this.cells.keys()
  }
}
