import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "docs/examples/*.test.ts"],
    globalSetup: ["test/helpers/teardown.ts"],
    // The default reporter, then the failed tests named again at the very end (CI shows the tail).
    reporters: ["default", "./test/helpers/failureSummary.ts"],
    // Two test files at a time even on a 2-core machine (vitest's default there is one): most of the
    // long files wait on child processes and the database, so the suite takes ~5 minutes, not ~8.5.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
