/**
 * A vitest reporter that names every failed test again after the run's summary, one line each with
 * the first line of its error: CI keeps only the head and the tail of a run's output, and the
 * default reporter's details of an early failure are in the part it drops.
 */
import type { Reporter, TestModule } from "vitest/node"

/** The first line of an error as vitest serialized it (its message may be missing: an Effect failure). */
const firstLine = (error: { readonly message?: unknown; readonly name?: unknown } | undefined): string => {
  let text: string
  if (typeof error?.message === "string" && error.message !== "") text = error.message
  else {
    try {
      text = JSON.stringify(error) ?? String(error)
    } catch {
      text = String(error)
    }
  }
  return (text.split("\n")[0] ?? "").slice(0, 300)
}

export default class FailureSummary implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines: Array<string> = []
    for (const module of modules) {
      for (const test of module.children.allTests("failed")) {
        lines.push(`  ${module.relativeModuleId} > ${test.fullName}: ${firstLine(test.result().errors?.[0])}`)
      }
      for (const error of module.errors()) lines.push(`  ${module.relativeModuleId}: ${firstLine(error)}`)
    }
    if (lines.length > 0) process.stdout.write(`\nfailed (${lines.length}):\n${lines.join("\n")}\n`)
  }
}
