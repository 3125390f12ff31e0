/**
 * One bad-input fixture per diagnostic (test/fixtures/bad/*.sib): loading it must fail, and the
 * rendered diagnostics must equal the fixture's `.expected` text. SIB_UPDATE_FIXTURES=1 rewrites
 * the expected files (review the diff before committing).
 */
import { describe, expect, it } from "vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { loadProgram } from "../../src/program/load.ts"
import { SibError } from "../../src/diagnostics/Diagnostic.ts"
import { renderDiagnostics } from "../../src/diagnostics/render.ts"

const dir = join(import.meta.dirname, "..", "fixtures", "bad")
const update = process.env.SIB_UPDATE_FIXTURES === "1"

describe("diagnostics for bad input", () => {
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".sib")).sort()) {
    it(name, async () => {
      const text = readFileSync(join(dir, name), "utf8")
      const exit = await Effect.runPromiseExit(loadProgram([{ file: name, text }], {
        readFile: (p) => readFileSync(p, "utf8")
      }))
      expect(Exit.isFailure(exit), `${name} must not load`).toBe(true)
      if (!Exit.isFailure(exit)) return
      const error = Cause.squash(exit.cause)
      expect(error).toBeInstanceOf(SibError)
      const diagnostics = (error as SibError).diagnostics
      for (const d of diagnostics) {
        expect(d.span.line, `${d.code} is located`).toBeGreaterThan(0)
        expect(d.message.length).toBeGreaterThan(0)
      }
      const rendered = renderDiagnostics(diagnostics, { sources: new Map([[name, text]]) }) + "\n"
      const expectedFile = join(dir, name.replace(/\.sib$/, ".expected"))
      if (update || !existsSync(expectedFile)) writeFileSync(expectedFile, rendered)
      expect(rendered).toBe(readFileSync(expectedFile, "utf8"))
    })
  }
})

describe("a report a person can read", () => {
  it("a load reports at most 2,000 problems, then how many more (a macro making 40,000 distinct mistakes printed 8 MB)", async () => {
    const text = `(defmacro rep [n] (cons 'do (map (fn [i] (list 'publish! "t" 1 (keyword (str "opt" i)) 1)) (range n))))
(define-topic "t")
(after! "1s" (fn [] (rep 2500)))
`
    const exit = await Effect.runPromiseExit(loadProgram([{ file: "many.sib", text }]))
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    expect(error).toBeInstanceOf(SibError)
    const diagnostics = (error as SibError).diagnostics
    expect(diagnostics).toHaveLength(2001)
    expect(diagnostics.at(-1)!.message).toBe("500 more problems not shown (the first 2,000 are)")
  })
})
