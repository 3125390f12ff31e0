/**
 * What lets the SQLite store run without loading Kysely: its statements compiled ahead
 * (`compiledStatements.ts`, written by `npm run statements`) and the names of the migrations
 * (`migrations/names.ts`) must say what the builder and the migrations say now (what such a
 * process loads is tested in test/loadedModules.test.ts).
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { migrationNames } from "../../src/store/migrations/names.ts"
import { migrations } from "../../src/store/migrations/index.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const root = join(import.meta.dirname, "..", "..")

describe("statements and migrations known without Kysely", () => {
  it("src/store/sqlite/compiledStatements.ts is what `npm run statements` builds from queries.ts now", () => {
    const out = join(makeTmpDir(), "compiledStatements.ts")
    execFileSync(process.execPath, [join(root, "scripts", "compile-statements.ts"), out], { cwd: root })
    expect(readFileSync(join(root, "src", "store", "sqlite", "compiledStatements.ts"), "utf8")).toBe(readFileSync(out, "utf8"))
  })

  it("migrationNames lists each dialect's migrations in order", () => {
    for (const dialect of ["sqlite", "postgres"] as const) {
      expect(migrationNames(dialect)).toEqual(Object.keys(migrations(dialect)))
    }
  })
})
