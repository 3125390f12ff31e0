/**
 * A vitest reporter that names every failed test again after the run's summary, one line each with
 * the first line of its error: CI keeps only the head and the tail of a run's output, and the
 * default reporter's details of an early failure are in the part it drops.
 */
import type { Reporter, TestModule } from "vitest/node"

export default class FailureSummary implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines: Array<string> = []
    for (const module of modules) {
      for (const test of module.children.allTests("failed")) {
        const error = test.result().errors?.[0]?.message.split("\n")[0] ?? ""
        lines.push(`  ${module.relativeModuleId} > ${test.fullName}: ${error.slice(0, 300)}`)
      }
      for (const error of module.errors()) lines.push(`  ${module.relativeModuleId}: ${(error.message ?? "").split("\n")[0]!.slice(0, 300)}`)
    }
    if (lines.length > 0) process.stdout.write(`\nfailed (${lines.length}):\n${lines.join("\n")}\n`)
  }
}
