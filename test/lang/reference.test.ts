/** The generated language reference: in sync with the language, complete, and its examples run. */
import { describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { createLoader } from "../../src/program/load.ts"
import { languageReference, referenceSections } from "../../src/program/languageReference.ts"
import { read } from "../../src/reader/read.ts"
import { print } from "../../src/reader/Value.ts"

const entries = referenceSections().flatMap((s) => s.entries)

describe("docs/language.md", () => {
  it("is what `npm run docs` generates from the language's tables", () => {
    const committed = readFileSync(join(import.meta.dirname, "..", "..", "docs", "language.md"), "utf8")
    expect(committed).toBe(languageReference())
  })

  it("documents the special forms, macros and library the language promises, each with an example", () => {
    const promised = [
      "def", "fn", "let", "if", "do", "quote", "defmacro", ".", "require", "deftest",
      "defn", "when", "when-not", "cond", "and", "or", "->", "->>", "if-let", "when-let", "case",
      "define-topic", "publish!", "subscribe!", "latest", "log", "every!", "after!",
      "+", "-", "*", "/", "<", ">", "<=", ">=", "=", "not", "str", "format", "get", "get-in", "assoc", "assoc-in", "dissoc",
      "update", "merge", "keys", "vals", "count", "first", "rest", "conj", "cons", "concat", "map", "filter", "reduce",
      "range", "some", "every?", "nil?", "empty?", "contains?", "inc", "dec", "max", "min", "json/parse", "json/stringify", "now",
      "advance!", "expect", "expect=", "published", "dead-letters", "attempts"
    ]
    const documented = new Set(entries.map((e) => e.name))
    expect(promised.filter((name) => !documented.has(name))).toEqual([])
    expect(entries.filter((e) => e.example === undefined || e.doc.length < 10).map((e) => e.name)).toEqual([])
    expect(new Set(entries.map((e) => e.name)).size).toBe(entries.length)
  })

  const withValue = entries.filter((e) => e.example?.includes(";=>"))

  it.each(withValue.map((e) => [e.name, e.example!] as const))("example of %s evaluates to what it says", async (_name, example) => {
    const [code, expected] = example.split(";=>").map((s) => s.trim()) as [string, string]
    const loader = await Effect.runPromise(createLoader())
    const exit = await Effect.runPromiseExit(loader.evaluate(code, "example.sib"))
    expect(Exit.isSuccess(exit) ? print(exit.value) : String(exit.cause)).toBe(expected)
  })

  it("every other example reads as one form without diagnostics", () => {
    for (const e of entries.filter((e) => e.example !== undefined && !e.example.includes(";=>"))) {
      const result = read(e.example!, `${e.name}.sib`)
      expect(result.diagnostics.map((d) => d.message), e.name).toEqual([])
      expect(result.forms.length, e.name).toBe(1)
    }
    expect(withValue.length).toBeGreaterThan(60)
  })
})

describe("README option tables", () => {
  it("are what `npm run docs` generates from the option specs", async () => {
    const { withOptionTables, optionTables } = await import("../../src/options/optionTables.ts")
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8")
    expect(readme).toBe(withOptionTables(readme))
    for (const name of optionTables.keys()) expect(readme, `README has the ${name} options table`).toContain(`<!-- options:${name} -->\n| option |`)
  })
})
