/**
 * Cross-process wake-ups: a commit by another connection wakes a group at once where the database
 * notifies writes (SQLite: the file system's report of a write to the file or its WAL), long
 * before the poll interval would.
 */
import { describe, expect, it } from "vitest"
import { createRuntime } from "../../src/index.ts"
import { storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("wake-ups across connections ($name)", (factory) => {
  it("with a one-minute poll, a subscriber still gets another connection's publish within a second", async () => {
    const db = factory.shared()
    const subscriber = await createRuntime({ db, pollIntervalMs: 60_000, maintenance: false })
    const publisher = await createRuntime({ db, pollIntervalMs: 60_000, maintenance: false })
    try {
      const got: Array<number> = []
      await subscriber.subscribe("t", "g", (e) => void got.push((e.payload as { n: number }).n), { from: "latest" })
      // Past the first wake-up of a subscription: wait for an idle group.
      await new Promise((resolve) => setTimeout(resolve, 100))
      for (let n = 1; n <= 3; n++) {
        const started = Date.now()
        await publisher.publish("t", { n })
        while (!got.includes(n) && Date.now() - started < 1000) await new Promise((resolve) => setTimeout(resolve, 2))
        expect(got, `event ${n} reached the other connection's group within a second`).toContain(n)
      }
    } finally {
      await publisher.close()
      await subscriber.close()
    }
  })
})
