/** Option specs: checking (defaults, unknown names, invalid values, nested sets) and the one duration syntax. */
import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { boolean, check, duration, durationValue, integer, number, object, oneOf, parseDuration, problemText, spec } from "../../src/options/spec.ts"

const inner = spec("inner", { ms: integer({ min: 0, default: 5, doc: "ms" }), ratio: number({ min: 0, max: 1, doc: "r" }) })
const outer = spec("outer", {
  size: integer({ min: 1, max: 10, default: 3, doc: "size" }),
  mode: oneOf(["a", "b", "c"], { default: "a", doc: "mode" }),
  on: boolean({ doc: "on" }),
  nested: object(inner.fields, { doc: "nested" })
})

describe("option specs", () => {
  it("fill documented defaults, keep what is given, and check nested sets", () => {
    expect(check(outer, undefined)).toEqual({ ok: true, value: { size: 3, mode: "a" } })
    expect(check(outer, { size: 7, on: true, nested: { ratio: 0.5 } })).toEqual({ ok: true, value: { size: 7, mode: "a", on: true, nested: { ms: 5, ratio: 0.5 } } })
  })

  it("name unknown options with the valid ones, at their path", () => {
    const top = check(outer, { sise: 1, size: 2 })
    expect(top).toEqual({ ok: false, problem: { _tag: "unknown", path: "", names: ["sise"], valid: ["size", "mode", "on", "nested"] } })
    const nested = check(outer, { nested: { mss: 1 } })
    expect(!nested.ok && problemText(nested.problem)).toBe(`unknown option "mss" in nested; valid options: ms, ratio`)
    expect(!nested.ok && problemText(nested.problem, { name: (n) => `:${n}`, path: (p) => `:${p}` })).toBe(`unknown option :mss in :nested; valid options: ms, ratio`)
  })

  it("say what an invalid value must be, and what it was", () => {
    const texts = [{ size: 0 }, { size: 1.5 }, { mode: "d" }, { on: "yes" }, { nested: { ratio: 2 } }, { nested: 5 }].map((o) => {
      const r = check(outer, o)
      return r.ok ? "ok" : problemText(r.problem)
    })
    expect(texts).toEqual([
      "size must be an integer from 1 to 10, got 0",
      "size must be an integer from 1 to 10, got 1.5",
      `mode must be "a", "b" or "c", got "d"`,
      `on must be true or false, got "yes"`,
      "nested.ratio must be a number in [0, 1], got 2",
      "nested must be an object, got 5"
    ])
  })

  it("show NaN, the infinities and bigints as they are (JSON would say null), and name the options themselves when they are not an object", () => {
    const texts = [{ size: Number.NaN }, { size: Number.POSITIVE_INFINITY }, { size: Number.NEGATIVE_INFINITY }, { size: 5n }, "x"].map((o) => {
      const r = check(outer, o)
      return r.ok ? "ok" : problemText(r.problem)
    })
    expect(texts).toEqual([
      "size must be an integer from 1 to 10, got NaN",
      "size must be an integer from 1 to 10, got Infinity",
      "size must be an integer from 1 to 10, got -Infinity",
      "size must be an integer from 1 to 10, got 5n",
      `the options must be an object, got "x"`
    ])
  })

  it("parse one duration syntax: digits are milliseconds, units ms s m h d", () => {
    expect(["250", "250ms", "1.5s", "2m", "1h", "1d", " 3s "].map(parseDuration)).toEqual([250, 250, 1500, 120_000, 3_600_000, 86_400_000, 3000])
    expect(["", "5 weeks", "-1s", "1e3", "s"].map(parseDuration)).toEqual([undefined, undefined, undefined, undefined, undefined])
    fc.assert(fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.constantFrom(["ms", 1], ["s", 1000], ["m", 60_000], ["h", 3_600_000], ["d", 86_400_000]), (n, [unit, scale]) =>
      parseDuration(`${n}${unit as string}`) === n * (scale as number)))
  })

  it("take a duration as a number or as text, in whole milliseconds either way", () => {
    expect([10.7, 0.4, 0, 250, "0.0004s", "1.5s"].map(durationValue)).toEqual([11, 0, 0, 250, 0, 1500])
    expect([-1, Number.POSITIVE_INFINITY, Number.NaN, null, "x", 1e300, "1e300"].map(durationValue)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined])
    expect(durationValue(`${"9".repeat(20)}d`)).toBeUndefined()
    const timeout = spec("t", { ms: duration({ min: 1, doc: "ms" }) })
    expect(check(timeout, { ms: 2.6 })).toEqual({ ok: true, value: { ms: 3 } })
    expect(check(timeout, { ms: 0.4 }).ok).toBe(false)
  })
})
