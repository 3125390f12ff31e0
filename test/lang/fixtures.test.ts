/**
 * The `;=>` fixtures (after MAL's step tests): each file is a session; every form is followed by
 * `;=> printed-value` or `;=> !error text` (the evaluation fails with a diagnostic containing text).
 */
import { describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Cause from "effect/Cause"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { createLoader } from "../../src/program/load.ts"
import { SibError } from "../../src/diagnostics/Diagnostic.ts"
import { print } from "../../src/reader/Value.ts"

const dir = join(import.meta.dirname, "..", "fixtures", "lang")

interface Case {
  readonly code: string
  readonly expected: string
  readonly line: number
}

const casesOf = (text: string): Array<Case> => {
  const out: Array<Case> = []
  let code: Array<string> = []
  let start = 1
  text.split("\n").forEach((line, i) => {
    if (line.startsWith(";=>")) {
      out.push({ code: code.join("\n"), expected: line.slice(3).trim(), line: start })
      code = []
      start = i + 2
    } else {
      if (code.length === 0 && line.trim() === "") start = i + 2
      code.push(line)
    }
  })
  return out
}

describe("language fixtures", () => {
  for (const name of readdirSync(dir).filter((f) => f.endsWith(".sib"))) {
    it(name, async () => {
      const cases = casesOf(readFileSync(join(dir, name), "utf8"))
      expect(cases.length).toBeGreaterThan(0)
      await Effect.runPromise(Effect.gen(function*() {
        const loader = yield* createLoader()
        for (const c of cases) {
          const exit = yield* Effect.exit(loader.evaluate(c.code, `${name}:${c.line}`))
          const where = `${name}:${c.line}: ${c.code.trim()}`
          if (c.expected.startsWith("!error")) {
            expect(Exit.isFailure(exit), `${where} should fail`).toBe(true)
            if (Exit.isFailure(exit)) {
              const e = Cause.squash(exit.cause)
              const messages = e instanceof SibError ? e.diagnostics.map((d) => d.message).join("\n") : String(e)
              const wanted = c.expected.slice("!error".length).trim()
              // Work that runs away is stopped by whichever limit it reaches first: on a busy machine
              // the time bound (maxBlockMs) can come before the step budget.
              if (wanted === "step budget" && /computed for more than \d+ ms without the process pausing/.test(messages)) continue
              expect(messages, where).toContain(wanted)
            }
          } else {
            if (Exit.isFailure(exit)) {
              const e = Cause.squash(exit.cause)
              throw new Error(`${where} failed: ${e instanceof SibError ? e.diagnostics.map((d) => d.message).join("; ") : String(e)}`)
            }
            expect(print(exit.value), where).toBe(c.expected)
          }
        }
      }))
    })
  }
})
