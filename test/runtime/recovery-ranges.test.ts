/**
 * Out-of-order acks stored before a crash survive the next session: a recovered group whose
 * stored cursor holds an acked range between two events still to run keeps that range through its
 * flushes and its clean stop, so the range's events are never delivered again. On a shared
 * database (a real file on SQLite) of every store factory, the Promise runtime; the crashed owner's
 * lease and cursor are written, and the cursor read back, through the store's own operations.
 */
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createRuntime } from "../../src/index.ts"
import type { StoreError } from "../../src/store/storeErrors.ts"
import { openStore } from "../../src/store/open.ts"
import { Store } from "../../src/store/Store.ts"
import { storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("stored acked ranges across a recovery ($name)", (factory) => {
  let db: string
  beforeEach(() => {
    db = factory.shared()
  })
  afterEach(() => factory.drop(db))

  /** Runs `f` on a store of its own on the database (another connection, as another host's). */
  const withStore = <A>(f: (store: Store["Service"]) => Effect.Effect<A, StoreError>) =>
    Effect.runPromise(Effect.flatMap(Effect.service(Store), f).pipe(Effect.provide(openStore(db))))

  it("events acked before the crash are not redelivered after a clean stop of the recovered group", async () => {
    const rt1 = await createRuntime({ db })
    await rt1.publishAll(Array.from({ length: 20 }, (_, i) => ({ topic: "t", payload: i + 1, key: `k${i + 1}` })))
    await rt1.close()
    // As a crashed owner on another host would leave it: 5-10 acked out of order, 1-20 leased.
    const written = await withStore((store) =>
      Effect.gen(function*() {
        const claimed = yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "dead", pid: 999999, host: "elsewhere", expiresAt: 0, now: 0 })
        yield* store.runtime.initCursor("g", "t", 0, 0)
        const { fenced } = yield* store.runtime.commit({
          now: 0, appends: [], deliveries: [], deadLetters: [],
          progress: [{ group: "g", owner: "dead", topic: "t", floor: 0, acked: [[5, 10]], leasedUpto: 20 }]
        })
        return { claimed, fenced }
      }))
    expect(written).toEqual({ claimed: true, fenced: [] })
    const stored = () => withStore((store) => Effect.map(store.runtime.getCursor("g", "t"), (c) => ({ floor: c?.floor, acked: c?.acked })))

    const run = async (failing: ReadonlySet<number>) => {
      const rt = await createRuntime({ db })
      const seen: Array<number> = []
      const unsubscribe = await rt.subscribe("t", "g", async (e) => {
        seen.push(e.seq)
        if (failing.has(e.seq)) throw new Error("not yet")
        // The dead owner's lease is taken once it has stood unrenewed for leaseMs here.
      }, { from: "earliest", backoff: { initialMs: 600_000, maxMs: 600_000, jitter: 0 }, commitIntervalMs: 5, leaseMs: 200 })
      for (let i = 0; i < 400 && seen.length < 20 - 6; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      await new Promise((resolve) => setTimeout(resolve, 50))
      await unsubscribe()
      await rt.close()
      return seen
    }
    // 4 and 11 fail and wait ten minutes for their retry: 5-10 stay an acked range between them.
    const first = await run(new Set([4, 11]))
    expect(first.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    expect(await stored()).toEqual({ floor: 3, acked: [[5, 10], [12, 20]] })
    const second = await run(new Set())
    expect(second.filter((seq) => seq >= 5 && seq <= 10)).toEqual([])
    expect(await stored()).toEqual({ floor: 3, acked: [[5, 10], [12, 20]] })
  })
})
