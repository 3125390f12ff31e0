/**
 * A `sib test` run's report (`runTests` in testRunner.ts makes it) and its rendering for people,
 * apart from running tests: a process that only shows a report loads no test runner.
 */
import type { Diagnostic } from "../diagnostics/Diagnostic.ts"
import { renderDiagnostics } from "../diagnostics/render.ts"
import { safeText } from "../diagnostics/terminal.ts"

export interface TestResult {
  readonly name: string
  readonly file: string
  readonly line: number
  readonly passed: boolean
  /** Failed expectations, then the error that ended the test (if any). */
  readonly failures: ReadonlyArray<Diagnostic>
  /** What `log` wrote during the test (its body, handlers and timers), in order. */
  readonly logs: ReadonlyArray<TestLog>
}

/** A `log` line of a test, with the test clock's time since the test started. */
export interface TestLog {
  readonly atMs: number
  readonly line: string
}

export interface TestReport {
  readonly results: ReadonlyArray<TestResult>
  readonly passed: number
  readonly failed: number
  /** The program's source text by file, to show failing lines. */
  readonly sources: ReadonlyMap<string, string>
}

/**
 * The report for people: a line per test, each failure rendered with its source line, the `log`
 * lines of a failing test (of every test with `logs: "all"`), then `N passed, N failed`.
 */
export const renderTestReport = (
  report: TestReport,
  options: { readonly color?: boolean | undefined; readonly logs?: "failed" | "all" | undefined } = {}
): string => {
  const color = options.color === true
  const paint = (code: string, text: string) => (color ? `\u001b[${code}m${text}\u001b[0m` : text)
  const lines: Array<string> = []
  for (const r of report.results) {
    // Names and files are shown escaped (a test name is source text; failures render escaped).
    const where = `${safeText(r.name)} (${safeText(r.file)}:${r.line})`
    lines.push(r.passed ? `${paint("32", "ok")}   ${where}` : `${paint("31", "FAIL")} ${where}`)
    if (!r.passed) {
      const rendered = renderDiagnostics(r.failures, { sources: report.sources, color })
      lines.push(...rendered.split("\n").map((l) => (l.length > 0 ? `     ${l}` : l)))
    }
    const logs = r.logs ?? []
    if (logs.length > 0 && (!r.passed || options.logs === "all")) {
      lines.push(`     ${paint("2", "log:")}`)
      for (const l of logs) lines.push(`       ${paint("2", `[+${l.atMs}ms]`)} ${safeText(l.line)}`)
    }
  }
  lines.push(`${report.passed} passed, ${report.failed} failed`)
  return lines.join("\n")
}
