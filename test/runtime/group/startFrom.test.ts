/**
 * Start positions past a topic's head (issue 11, item 9): `setCursor` and a new group's `from` with
 * a seq beyond every stored event place the cursor at the topic's head, so the next event published
 * to the topic is delivered (a cursor above the head skipped every event published next). On every
 * store factory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Bus } from "../../../src/facade/Bus.ts"
import type { Store } from "../../../src/store/Store.ts"
import { makeRecorder } from "../../helpers/recorder.ts"
import { storeFactories } from "../../helpers/stores.ts"

describe.each(storeFactories)("start positions past the head ($name)", (factory) => {
  const provideBus = <A, E>(effect: Effect.Effect<A, E, Bus | Store>) => effect.pipe(Effect.provide(Bus.open(factory.fresh()), { local: true }))

  it.effect("setCursor with a seq or a floor past the head places the cursor at the head; the next event is delivered", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      // t holds seqs 1..3; u's event takes seq 4 (seqs are global).
      yield* bus.publishAll([1, 2, 3].map((payload) => ({ topic: "t", payload })))
      yield* bus.publish("u", "elsewhere")
      yield* bus.setCursor("t", "g", "seq:100")
      assert.strictEqual(yield* bus.getCursor("t", "g"), 3, "seq:100 is past t's head (3)")
      yield* bus.setCursor("t", "g", 0)
      yield* bus.setCursor("t", "g", { seq: 100 })
      assert.strictEqual(yield* bus.getCursor("t", "g"), 3)
      yield* bus.setCursor("t", "g", 50)
      assert.strictEqual(yield* bus.getCursor("t", "g"), 3, "a floor past the head is the head")
      yield* bus.setCursor("t", "g", { seq: 2 })
      assert.strictEqual(yield* bus.getCursor("t", "g"), 1, "below the head: unchanged")

      yield* bus.setCursor("t", "g", { seq: 100 })
      const rec = yield* makeRecorder
      yield* bus.subscribe("t", "g", rec.handler())
      yield* bus.publish("t", 4)
      assert.deepStrictEqual((yield* rec.take(1)).map((d) => d.event.payload), [4])
    })))

  it.effect("a new group's from: { seq } past the head starts at the head", () =>
    provideBus(Effect.gen(function*() {
      const bus = yield* Bus
      yield* bus.publishAll([1, 2].map((payload) => ({ topic: "t", payload })))
      const rec = yield* makeRecorder
      yield* bus.subscribe("t", "g", rec.handler(), { from: { seq: 1_000 } })
      assert.strictEqual(yield* bus.getCursor("t", "g"), 2)
      yield* bus.publish("t", 3)
      assert.deepStrictEqual((yield* rec.take(1)).map((d) => d.event.payload), [3])
    })))
})
