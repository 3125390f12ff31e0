/** `jsonProblem`: what is not JSON data in a payload, named by its path. */
import { assert, describe, it } from "@effect/vitest"
import { jsonProblem } from "../../src/runtime/json.ts"

describe("jsonProblem", () => {
  const cyclic: Record<string, unknown> = { a: 1 }
  cyclic.self = cyclic
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /payload is undefined/],
    [{ a: undefined }, /payload\.a is undefined/],
    [{ f: () => 1 }, /payload\.f is a function/],
    [[1, Symbol("s")], /payload\[1\] is a symbol/],
    [{ n: 10n }, /payload\.n is a BigInt/],
    [{ x: [NaN] }, /payload\.x\[0\] is NaN/],
    [{ "a b": Infinity }, /payload\["a b"\] is Infinity/],
    [cyclic, /payload\.self refers back to itself/],
    [{ when: new Date(0) }, /payload\.when is a Date, not a plain object.*ISO string/],
    [new Map(), /payload is a Map/],
    [[, 1], /hole in a sparse array/],
    [{ [Symbol("k")]: 1 }, /symbol keys/]
  ]
  for (const [value, pattern] of cases) {
    it(`rejects ${pattern.source}`, () => assert.match(jsonProblem(value, "payload") ?? "", pattern))
  }
  it("accepts JSON data, shared (non-cyclic) references, and null-prototype objects", () => {
    const shared = { x: 1 }
    assert.isUndefined(jsonProblem({ a: [1, "s", true, null, { b: -0.5 }], s1: shared, s2: shared, o: Object.create(null) }, "payload"))
  })
  it("refuses absurd nesting instead of overflowing the stack", () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    assert.match(jsonProblem(deep, "payload") ?? "", /nests deeper than 512 levels/)
    // The path is shortened: a 1.5 KB message of [0][0]... helps nobody.
    assert.strictEqual(jsonProblem(deep, "payload"), "payload[0][0][0][0][0][0]…(500 more levels)…[0][0][0][0][0][0] nests deeper than 512 levels")
  })
})
