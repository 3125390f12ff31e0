/**
 * Human output: a borderless table (a header row, columns padded to their widest cell, two spaces
 * apart), the header bold when colors are on. Every cell is escaped for the terminal (cells come
 * from stored data: keys, error messages, host names). Machine output is `--json` (one object per line).
 */
import { safeText } from "../diagnostics/terminal.ts"

export interface Column<Row> {
  readonly header: string
  readonly cell: (row: Row) => string
  /** Right-align (numbers). */
  readonly right?: boolean | undefined
}

export const table = <Row>(rows: ReadonlyArray<Row>, columns: ReadonlyArray<Column<Row>>, color: boolean): string => {
  const cells = rows.map((row) => columns.map((c) => safeText(c.cell(row))))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)))
  const line = (values: ReadonlyArray<string>) =>
    values.map((v, i) => (columns[i]!.right === true ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join("  ").trimEnd()
  const header = line(columns.map((c) => c.header))
  return [color ? `\u001b[1m${header}\u001b[0m` : header, ...cells.map(line)].join("\n")
}

/** A timestamp (epoch ms) as ISO-8601, or "-". */
export const isoTime = (ms: number | null | undefined): string => (ms === null || ms === undefined ? "-" : new Date(ms).toISOString())

/** A value shown in a cell: "-" for nothing. */
export const cellOf = (v: unknown): string => (v === null || v === undefined ? "-" : typeof v === "string" ? v : JSON.stringify(v))
