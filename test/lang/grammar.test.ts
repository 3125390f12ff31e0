/**
 * The grammar: the committed parser is what `nearleyc` makes of `grammar/sib.ne`, and it reads
 * every printable value back as exactly that value, in exactly one parse.
 */
import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { read } from "../../src/reader/read.ts"
import { equals, Keyword, List, makeMap, print, SetValue, Sym, syntaxToValue, unmetered, type Value } from "../../src/reader/Value.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const root = join(import.meta.dirname, "..", "..")

describe("grammar", () => {
  it("src/reader/grammar.ts is nearleyc's output for grammar/sib.ne (run `npm run grammar`)", () => {
    const out = join(makeTmpDir(), "grammar.ts")
    execFileSync(process.execPath, [join(root, "node_modules", "nearley", "bin", "nearleyc.js"), join(root, "grammar", "sib.ne"), "-o", out], {
      stdio: "pipe"
    })
    expect(readFileSync(join(root, "src", "reader", "grammar.ts"), "utf8")).toBe(readFileSync(out, "utf8"))
  })

  const name = fc.tuple(
    fc.constantFrom(..."abcxyzAZ*+!?<>=_"),
    fc.array(fc.constantFrom(..."abcz09-!?*<>=.+_"), { maxLength: 8 }),
    fc.option(fc.array(fc.constantFrom(..."abz-"), { minLength: 1, maxLength: 4 }), { nil: undefined })
  ).map(([first, rest, ns]) => `${first}${rest.join("")}${ns === undefined ? "" : `/${ns.join("")}`}`)
    .filter((n) => !["true", "false", "nil"].includes(n) && !/^[+-]\d/.test(n))

  const atom: fc.Arbitrary<Value> = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -1e12, max: 1e12 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: "grapheme", maxLength: 12 }),
    fc.string({ unit: "binary", maxLength: 6 }).filter((s) => !/[\uD800-\uDFFF]/.test(s)),
    name.map((n) => Keyword.of(n)),
    name.map((n) => new Sym(n))
  )

  const value: fc.Arbitrary<Value> = fc.letrec<{ value: Value }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      atom,
      fc.array(tie("value"), { maxLength: 5 }).map((items) => new List(items)),
      fc.array(tie("value"), { maxLength: 5 }),
      fc.array(fc.tuple(fc.oneof(name, fc.string({ maxLength: 6 })), tie("value")), { maxLength: 4 }).map((entries) => makeMap(entries)),
      fc.array(tie("value"), { maxLength: 4 }).map((items) => new SetValue(items, unmetered))
    )
  })).value

  it("reads every printed value back as an equal value, in one parse", () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
        const text = values.map((v) => print(v)).join("\n")
        const result = read(text, "printed.sib")
        expect(result.diagnostics.map((d) => d.message)).toEqual([])
        expect(result.forms.length).toBe(values.length)
        result.forms.forEach((form, i) => {
          const back = syntaxToValue(form)
          if (!equals(back, values[i]!, unmetered)) expect(print(back)).toBe(print(values[i]!))
        })
      }),
      { numRuns: process.env["SIB_SLOW"] === "1" ? 5000 : 500 }
    )
  })
})
