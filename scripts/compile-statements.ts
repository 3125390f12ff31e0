/**
 * Writes src/store/sqlite/compiledStatements.ts: every statement of the SQLite store
 * (`makeStatements` with `sqliteStatements`, built with Kysely's query builder against the schema)
 * compiled to its SQL text and parameter slots, as a module. The SQLite store runs these and so
 * never loads Kysely after start-up (Kysely is about half of the modules, and a fifth of the
 * memory, of a process that only publishes and consumes); Kysely still builds them, here, and a
 * test checks that the module is what this script makes of the sources now.
 *
 * `npm run statements` (node scripts/compile-statements.ts [out-file])
 */
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Kysely, SqliteDialect } from "kysely"
import { makeStatements } from "../src/store/queries.ts"
import type { Database } from "../src/store/schema.ts"
import { sqliteStatements } from "../src/store/sqlite/statements.ts"

/** Where the module goes (committed, like the grammar and the ops page's script). */
export const compiledStatementsUrl = new URL("../src/store/sqlite/compiledStatements.ts", import.meta.url)

/** A constant the builder parameterized, as source text (only values that JSON writes back exactly). */
const constant = (statement: string, value: unknown): string => {
  if (value === null || typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))) {
    return JSON.stringify(value)
  }
  throw new Error(`statement ${statement}: a constant parameter ${String(value)} cannot be written into the module`)
}

/** The module's text. */
export const compiledStatementsModule = (): string => {
  // Compiling needs the dialect's query compiler only: the database is never opened.
  const kysely = new Kysely<Database>({
    dialect: new SqliteDialect({ database: () => Promise.reject(new Error("compile only")) })
  })
  const statements = makeStatements(kysely, sqliteStatements(kysely))
  // (A statement a dialect does not have, such as SQLite's `readTopicBounded`, is left out.)
  const entries = Object.entries(statements).flatMap(([name, t]) => {
    if (t === undefined) return []
    const slots = t.slots.map((slot) => ("name" in slot ? `{ name: ${JSON.stringify(slot.name)} }` : `{ value: ${constant(name, slot.value)} }`)).join(", ")
    return [`  ${name}: {\n    sql: ${JSON.stringify(t.sql)},\n    slots: [${slots}]\n  }`]
  })
  return [
    "/**",
    " * Every statement of the SQLite store as SQL text and parameter slots: `makeStatements` (queries.ts)",
    " * with `sqliteStatements` (statements.ts), compiled by Kysely in `npm run statements`",
    " * (scripts/compile-statements.ts), so the store runs them without loading Kysely. Generated: do not",
    " * edit; a test checks that it is what the script makes of the sources now.",
    " */",
    "import type { Statements } from \"../queries.ts\"",
    "",
    "export const compiledStatements: Statements = {",
    entries.join(",\n"),
    "}",
    ""
  ].join("\n")
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(process.argv[2] ?? fileURLToPath(compiledStatementsUrl), compiledStatementsModule())
}
