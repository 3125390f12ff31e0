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
    it(`rejects ${pattern.source}`, () => assert.match(jsonProblem(value, "payload")?.detail ?? "", pattern))
  }
  it("accepts JSON data, shared (non-cyclic) references, and null-prototype objects", () => {
    const shared = { x: 1 }
    assert.isUndefined(jsonProblem({ a: [1, "s", true, null, { b: -0.5 }], s1: shared, s2: shared, o: Object.create(null) }, "payload"))
  })
  it("refuses absurd nesting instead of overflowing the stack", () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    assert.match(jsonProblem(deep, "payload")?.detail ?? "", /nests deeper than 512 levels/)
    // The path is shortened: a 1.5 KB message of [0][0]... helps nobody.
    assert.strictEqual(jsonProblem(deep, "payload")?.detail, "payload[0][0][0][0][0][0]…(500 more levels)…[0][0][0][0][0][0] nests deeper than 512 levels")
  })
  it("finds a value written out larger than the limit after work bounded by the limit, however often it shares parts", () => {
    // 41 small arrays whose JSON text would be 2^40 copies of "x": found at once, not written.
    let dag: unknown = "x"
    for (let i = 0; i < 40; i++) dag = [dag, dag]
    const started = performance.now()
    assert.deepStrictEqual(jsonProblem(dag, "payload", 1_048_576), {
      reason: "size", detail: "the payload is over the limit of 1048576 bytes as JSON: more than 2 times it (found before writing it; a value it holds several times counts each time)"
    })
    // Bounded work: about a million values visited (a generous bound for a slow machine).
    assert.isBelow(performance.now() - started, 2000)
    // Sharing that fits is fine; the limit counts its text each time it occurs.
    let small: unknown = "x"
    for (let i = 0; i < 10; i++) small = [small, small]
    assert.isUndefined(jsonProblem(small, "payload", 1_048_576))
    assert.strictEqual(jsonProblem(small, "payload", 1000)?.reason, "size")
    // Text up to 2 times the limit is left to the caller to measure exactly.
    assert.strictEqual(jsonProblem("a".repeat(22), "payload", 12), undefined)
    assert.strictEqual(jsonProblem("a".repeat(23), "payload", 12)?.reason, "size")
  })
})
