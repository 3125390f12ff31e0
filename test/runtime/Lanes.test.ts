/** `Lanes`: per-key ordering (`key`, `strict`, `none`) and key holds. */
import { assert, describe, it } from "@effect/vitest"
import { Lanes } from "../../src/runtime/Lanes.ts"

describe("Lanes", () => {
  const key = (w: { k?: string }) => w.k
  it("key: one at a time per key, others concurrent, keyless unordered", () => {
    const lanes = new Lanes<{ n: number; k?: string }>("key", key)
    const a1 = { n: 1, k: "a" }, a2 = { n: 2, k: "a" }, b1 = { n: 3, k: "b" }, x = { n: 4 }
    assert.isTrue(lanes.admit(a1))
    assert.isFalse(lanes.admit(a2))
    assert.isTrue(lanes.admit(b1))
    assert.isTrue(lanes.admit(x))
    assert.strictEqual(lanes.finish(a1), a2)
    assert.strictEqual(lanes.finish(a2), undefined)
    assert.isTrue(lanes.admit({ n: 5, k: "a" }))
  })

  it("strict: a single lane; none: no lanes", () => {
    const strict = new Lanes<{ k?: string }>("strict", key)
    assert.isTrue(strict.admit({ k: "a" }))
    assert.isFalse(strict.admit({ k: "b" }))
    const none = new Lanes<{ k?: string }>("none", key)
    assert.isTrue(none.admit({ k: "a" }))
    assert.isTrue(none.admit({ k: "a" }))
  })

  it("hold keeps later events of the key until release; admitting ahead resumes a held key", () => {
    const lanes = new Lanes<{ n: number; k?: string }>("key", key)
    const a1 = { n: 1, k: "a" }
    lanes.admit(a1)
    lanes.hold(a1)
    assert.isFalse(lanes.admit({ n: 2, k: "a" }))
    assert.deepStrictEqual(lanes.heldKeys(), ["a"])
    assert.isTrue(lanes.admit({ n: 9, k: "a" }, true), "a requeued dead letter runs at once and releases the hold")
    assert.deepStrictEqual(lanes.heldKeys(), [])
    assert.deepStrictEqual(lanes.finish({ n: 9, k: "a" }), { n: 2, k: "a" })
    lanes.holdKey("b")
    assert.isFalse(lanes.admit({ n: 3, k: "b" }))
    assert.deepStrictEqual(lanes.release("b"), { n: 3, k: "b" })
  })
})
