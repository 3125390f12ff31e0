/**
 * The one lease-liveness rule and the one start-position translation, as plain functions: a lease
 * is live while held, unexpired and not owned by a dead pid on this host; `floorOf` places every
 * start form on a `:memory:` store and refuses what it cannot place.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { claimLease, heldByOther, isLive, renewLease } from "../../../src/runtime/group/lease.ts"
import { floorOf } from "../../../src/runtime/group/startFrom.ts"
import type { HostInfo } from "../../../src/runtime/HostInfo.ts"
import type { GroupLease } from "../../../src/store/records.ts"
import * as Sqlite from "../../../src/store/sqlite/SqliteStore.ts"

const host: HostInfo = { pid: 100, hostname: "here", isAlive: (pid) => pid !== 666 }

const lease = (extra: Partial<GroupLease>): GroupLease => ({
  group: "g", ownerSid: "other", ownerPid: 200, ownerHost: "here", expiresAt: 2_000, ...extra
})

describe("lease liveness", () => {
  it("live while held and unexpired, unless its owner is a dead pid on this host", () => {
    assert.isTrue(isLive(lease({}), 1_000, host))
    assert.isFalse(isLive(undefined, 1_000, host), "no lease row")
    assert.isFalse(isLive(lease({ ownerSid: null }), 1_000, host), "released")
    assert.isFalse(isLive(lease({ expiresAt: 1_000 }), 1_000, host), "expired")
    assert.isFalse(isLive(lease({ expiresAt: null }), 1_000, host))
    assert.isFalse(isLive(lease({ ownerPid: 666 }), 1_000, host), "a dead pid on this host")
    assert.isTrue(isLive(lease({ ownerPid: 666, ownerHost: "elsewhere" }), 1_000, host), "a pid on another host cannot be checked")
    assert.isTrue(isLive(lease({ ownerPid: null }), 1_000, host))
    assert.isTrue(isLive(lease({ ownerPid: 100 }), 1_000, { ...host, isAlive: () => false }), "our own pid is alive")
  })

  it("held by another owner: live and not ours", () => {
    assert.isTrue(heldByOther(lease({}), "me", 1_000, host))
    assert.isFalse(heldByOther(lease({ ownerSid: "me" }), "me", 1_000, host))
    assert.isFalse(heldByOther(lease({ expiresAt: 0 }), "me", 1_000, host))
  })
})

/** The current Clock with its wall time moved by `offsetMs` (monotonic time unchanged): another host's clock. */
const skewed = (offsetMs: number) =>
  Effect.map(Clock.clockWith(Effect.succeed), (clock): Clock.Clock => ({
    ...clock,
    currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe() + offsetMs,
    currentTimeMillis: Effect.sync(() => clock.currentTimeMillisUnsafe() + offsetMs),
    currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe() + BigInt(offsetMs) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => clock.currentTimeNanosUnsafe() + BigInt(offsetMs) * 1_000_000n)
  }))

describe("claiming under skewed wall clocks (issue 13)", () => {
  const spec = { name: "g", leaseMs: 3_000, label: "group g" }
  const elsewhere: HostInfo = { pid: 1, hostname: "b", isAlive: () => true }

  for (const offset of [3_600_000, -3_600_000]) {
    it.effect(`a standby whose clock is ${offset > 0 ? "an hour ahead" : "an hour behind"} takes the lease only once renewals stop, leaseMs later`, () =>
      Effect.gen(function*() {
        const store = yield* Sqlite.make({ filename: ":memory:" })
        const ownerHost: HostInfo = { pid: 2, hostname: "a", isAlive: () => true }
        assert.strictEqual(yield* claimLease(spec, { store: store.runtime, sid: "A", host: ownerHost }, Effect.void), null)
        const renewing = yield* Effect.forkChild(renewLease(store.runtime, "g", "A", spec.leaseMs))
        const clock = yield* skewed(offset)
        const standby = yield* Effect.forkChild(claimLease(spec, { store: store.runtime, sid: "B", host: elsewhere }, Effect.void).pipe(
          Effect.provideService(Clock.Clock, clock)
        ))
        // Ten leases' worth of renewals: never taken.
        for (let i = 0; i < 100; i++) yield* TestClock.adjust(300)
        assert.isUndefined(standby.pollUnsafe(), "the standby took the lease from a live, renewing owner")
        assert.strictEqual((yield* store.runtime.readLease("g"))?.ownerSid, "A")
        // The owner stops renewing (paused, or dead on another host): taken after leaseMs, not before.
        yield* Fiber.interrupt(renewing)
        for (let i = 0; i < 8; i++) yield* TestClock.adjust(300)
        assert.isUndefined(standby.pollUnsafe(), "taken before leaseMs without renewal")
        for (let i = 0; i < 10; i++) yield* TestClock.adjust(300)
        assert.strictEqual(yield* Fiber.join(standby), "A")
        assert.strictEqual((yield* store.runtime.readLease("g"))?.ownerSid, "B")
      }))
  }
})

describe("floorOf", () => {
  it.effect("every start form, and the positions it cannot place", () =>
    Effect.gen(function*() {
      const store = yield* Sqlite.make({ filename: ":memory:" })
      const draft = (n: number, topic: string, ts: number) => ({
        id: `e${n}`, ts, topic, key: null, partition: null, headers: null, payload: "1", causedBy: null, tags: null, sid: "s"
      })
      yield* store.runtime.commit({
        now: 1, progress: [], deliveries: [], deadLetters: [],
        appends: [draft(1, "t", 1_000), draft(2, "u", 2_000), draft(3, "t", 3_000), draft(4, "t", 4_000)]
      })
      const floor = (position: Parameters<typeof floorOf>[2]) =>
        floorOf(store.runtime, "t", position).pipe(Effect.catchTag("StartFromError", (e) => Effect.succeed(e.reason)))
      assert.strictEqual(yield* floor("earliest"), 0)
      assert.strictEqual(yield* floor("latest"), 4)
      assert.strictEqual(yield* floor(2), 2)
      assert.strictEqual(yield* floor({ seq: 3 }), 2, "seq N is the first delivered")
      assert.strictEqual(yield* floor({ seq: 0 }), 0)
      assert.strictEqual(yield* floor({ ts: 2_500 }), 2, "just before the first event of the topic stamped at or after it")
      assert.strictEqual(yield* floor({ ts: new Date(3_000) }), 2)
      assert.strictEqual(yield* floor({ ts: new Date(3_000).toISOString() }), 2)
      assert.strictEqual(yield* floor({ ts: 9_000 }), 4, "none stamped after it: the head")
      assert.strictEqual(yield* floor({ afterId: "e2" }), 2, "after that event, whatever its topic")
      assert.strictEqual(yield* floor({ afterId: "missing" }), "no-such-event")
      assert.strictEqual(yield* floor({ id: "e2" }), 1, "starting with that event, whatever its topic")
      assert.strictEqual(yield* floor({ id: "missing" }), "no-such-event")
      assert.strictEqual(yield* floor({ ts: "not a date" }), "bad-time")
      for (const bad of [1.5, -1, Number.NaN, { seq: 1.5 }, { seq: "2" }, "somewhere"]) {
        assert.strictEqual(yield* floor(bad as never), "bad-position", JSON.stringify(bad))
      }
    }).pipe(Effect.scoped))
})
