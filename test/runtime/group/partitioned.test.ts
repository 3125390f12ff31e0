/**
 * Partitioned groups (issue 13): the assignment every member computes (even, complete, the same
 * from any view order, few moves when a member joins), the liveness rule of members, and whole
 * buses on one SQLite file under the TestClock: a member joining takes half the partitions, one
 * leaving gives them back, a crashed one (its store fails from then on: no heartbeat, no renewal,
 * no release) loses them once its heartbeat and leases have gone unrenewed, and a flapping member
 * moves partitions back and forth. Throughout, every event is handled, each key in order within
 * each owner's tenure, and nothing is done twice except what a crashed member had not committed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { rmSync } from "node:fs"
import { join as joinPath } from "node:path"
import { BusMetrics } from "../../../src/observability/BusMetrics.ts"
import { Bus } from "../../../src/runtime/Bus.ts"
import { assign } from "../../../src/runtime/group/assignment.ts"
import { MemberWatch } from "../../../src/runtime/group/members.ts"
import { unitName } from "../../../src/runtime/group/units.ts"
import type { HostInfo } from "../../../src/runtime/HostInfo.ts"
import type { GroupMember } from "../../../src/store/records.ts"
import * as Sqlite from "../../../src/store/sqlite/SqliteStore.ts"
import { Store, type StoreShape } from "../../../src/store/Store.ts"
import { StoreError } from "../../../src/store/storeErrors.ts"
import { makeTmpDir } from "../../helpers/tmp.ts"

describe("assigning partitions to members", () => {
  const memberIds = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 12 })

  it("every partition goes to exactly one member; counts differ by at most one; the order of the view does not matter", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), memberIds, (partitions, members) => {
      const a = assign(partitions, members)
      const b = assign(partitions, [...members].reverse())
      const owners = new Map<number, string>()
      for (const [m, ps] of a) for (const p of ps) {
        assert.isFalse(owners.has(p), `partition ${p} twice`)
        owners.set(p, m)
      }
      assert.strictEqual(owners.size, partitions)
      const counts = [...a.values()].map((ps) => ps.length)
      assert.isAtMost(Math.max(...counts) - Math.min(...counts), 1)
      assert.deepStrictEqual([...b].sort(), [...a].sort())
    }))
  })

  it("a member joining moves few partitions: on average within 1.6 times its own share (2000 random views)", () => {
    let seed = 42
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const id = () => Math.floor(random() * 2 ** 31).toString(36)
    const ownerOf = (m: ReadonlyMap<string, ReadonlyArray<number>>) => {
      const out = new Map<number, string>()
      for (const [member, ps] of m) for (const p of ps) out.set(p, member)
      return out
    }
    let ratio = 0
    const trials = 2000
    for (let t = 0; t < trials; t++) {
      const partitions = 1 + Math.floor(random() * 64)
      const members = Array.from({ length: 1 + Math.floor(random() * 12) }, id)
      const [x, y] = [ownerOf(assign(partitions, members)), ownerOf(assign(partitions, [...members, id()]))]
      let moved = 0
      for (let p = 0; p < partitions; p++) if (x.get(p) !== y.get(p)) moved++
      ratio += moved / Math.ceil(partitions / (members.length + 1))
    }
    assert.isAtMost(ratio / trials, 1.6)
  })
})

describe("member liveness", () => {
  const host: HostInfo = { pid: 1, hostname: "here", isAlive: (pid) => pid !== 666 }
  const row = (member: string, beats: number, extra: Partial<GroupMember> = {}): GroupMember => ({
    group: "g", member, pid: 2, host: "elsewhere", beats, joinedAt: 0, updatedAt: 0, ...extra
  })

  it("live while its counter moves; gone once it stood still for the timeout; a dead pid here at once; this member always", () => {
    const watch = new MemberWatch({ self: "me", timeoutMs: 1000, host })
    assert.deepStrictEqual(watch.observe([row("a", 1), row("me", 5, { beats: 0 })], 0).live, ["a", "me"])
    assert.deepStrictEqual(watch.observe([row("a", 2)], 900).live, ["a", "me"])
    assert.deepStrictEqual(watch.observe([row("a", 2)], 1800).live, ["a", "me"], "unchanged for 900 ms of 1000")
    const late = watch.observe([row("a", 2)], 1900)
    assert.deepStrictEqual(late.live, ["me"])
    assert.deepStrictEqual(late.gone.map((r) => r.member), ["a"])
    assert.deepStrictEqual(watch.observe([row("a", 3)], 1950).live, ["a", "me"], "it beat again: back")
    assert.deepStrictEqual(watch.observe([row("b", 1, { host: "here", pid: 666 })], 2000).gone.map((r) => r.member), ["b"])
  })
})

// ---- whole buses on one file, under the TestClock ---------------------------------------------------

const leaseMs = 3000
const partitions = 8

/** A store that fails every call once `crash()` is called: a process that died (or froze) for the others. */
const crashable = (store: StoreShape) => {
  let crashed = false
  const wrap = <T extends object>(part: T): T => {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(part)) {
      out[k] = Effect.isEffect(v)
        ? Effect.suspend(() => (crashed ? Effect.fail(new StoreError({ op: k, cause: "crashed" })) : v))
        : typeof v === "function"
        ? (...args: Array<unknown>) => (crashed ? Effect.fail(new StoreError({ op: k, cause: "crashed" })) : (v as (...a: Array<unknown>) => unknown)(...args))
        : v
    }
    return out as T
  }
  // Other buses' commits are seen by polling the change token on the Clock alone (the file system's
  // notifications would wake buses in real time, outside the TestClock).
  const changeToken = store.capabilities.changeToken
  const shape: StoreShape = {
    runtime: wrap(store.runtime), admin: wrap(store.admin), maintenance: wrap(store.maintenance),
    capabilities: changeToken === undefined ? {} : { changeToken: wrap({ changeToken }).changeToken }
  }
  return { shape, crash: () => (crashed = true) }
}

interface Member {
  readonly name: string
  readonly bus: Context.Service.Shape<typeof Bus>
  readonly scope: Scope.Closeable
  /** From now on its store fails every call. */
  readonly crash: () => void
  readonly unsubscribe: Effect.Effect<void>
}

interface Handled {
  readonly member: string
  readonly i: number
  readonly key: string
}

/** Lets the TestClock run `ms` in steps of 100 ms, every ready fiber running after each. */
const step = (ms: number) =>
  Effect.gen(function*() {
    for (let left = ms; left > 0; left -= 100) {
      yield* TestClock.adjust(Math.min(100, left))
      for (let i = 0; i < 30; i++) yield* Effect.yieldNow
    }
  })

/** Buses on one new SQLite file: members of group "g" on an 8-partition topic, and a publisher. */
const cluster = Effect.gen(function*() {
  const dir = makeTmpDir()
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  const file = joinPath(dir, "bus.db")
  const handled: Array<Handled> = []
  let hosts = 0

  const open = (name: string) =>
    Effect.gen(function*() {
      const store = crashable(yield* Sqlite.make({ filename: file }))
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const host: HostInfo = { pid: 10_000 + ++hosts, hostname: `host-${name}`, isAlive: () => true }
      const context = yield* Layer.buildWithScope(
        Bus.layer({ host, pollIntervalMs: 100 }).pipe(Layer.provide(Layer.succeed(Store, store.shape)), Layer.provide(BusMetrics.disabled)),
        scope
      )
      const bus = Context.get(context, Bus)
      yield* bus.defineTopic("orders", { partitions })
      return { bus, scope, store }
    })

  const publisher = (yield* open("publisher")).bus
  /** A connection of the test's own, to read leases and members. */
  const reader = (yield* Sqlite.make({ filename: file })).runtime
  let published = 0
  const publish = (n: number) =>
    Effect.forEach(Array.from({ length: n }), () => {
      const i = published++
      return publisher.publish("orders", { i }, { key: `k${i % 13}` })
    }, { discard: true })

  /** A member of the group; its handler never returns for the events `hangs` names. */
  const join = (name: string, hangs: (i: number) => boolean = () => false, options: { readonly maxInFlight?: number; readonly workMs?: number } = {}) =>
    Effect.gen(function*() {
      const { bus, scope, store } = yield* open(name)
      const subscription = yield* bus.subscribe("orders", "g", (event) => {
        const i = (event.payload as { i: number }).i
        handled.push({ member: name, i, key: event.key! })
        return hangs(i) ? Effect.never : options.workMs === undefined ? Effect.void : Effect.sleep(options.workMs)
      }, {
        from: "earliest", leaseMs, backoff: { initialMs: 100, jitter: 0 }, drainTimeoutMs: 1000, ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight })
      })
      return { name, bus, scope, crash: store.crash, unsubscribe: subscription.unsubscribe } satisfies Member
    })

  /** The owner of each partition's lease, by member name (null: nobody). */
  const owners = Effect.gen(function*() {
    const members = yield* reader.groupMembers("g")
    const names = new Map(members.map((m) => [m.member, m.host!.replace(/^host-/, "")]))
    const out: Array<string | null> = []
    for (let p = 0; p < partitions; p++) {
      const lease = yield* reader.readLease(unitName("g", p))
      out.push(lease?.ownerSid === null || lease?.ownerSid === undefined ? null : names.get(lease.ownerSid) ?? `unknown ${lease.ownerSid}`)
    }
    return out
  })
  /** What `assign` says for the members now stored, by name. */
  const expected = Effect.gen(function*() {
    const members = yield* reader.groupMembers("g")
    const names = new Map(members.map((m) => [m.member, m.host!.replace(/^host-/, "")]))
    const out = new Array<string>(partitions)
    for (const [member, ps] of assign(partitions, members.map((m) => m.member))) for (const p of ps) out[p] = names.get(member)!
    return out
  })

  /** Every published event handled; each key's events first handled in publish order. */
  const checkComplete = () => {
    const firsts = new Map<number, Handled>()
    for (const h of handled) if (!firsts.has(h.i)) firsts.set(h.i, h)
    for (let i = 0; i < published; i++) assert.isTrue(firsts.has(i), `event ${i} was never handled`)
    const lastOfKey = new Map<string, number>()
    for (const h of handled) {
      if (firsts.get(h.i) !== h) continue
      const last = lastOfKey.get(h.key) ?? -1
      assert.isAbove(h.i, last, `key ${h.key}: event ${h.i} handled after ${last}`)
      lastOfKey.set(h.key, h.i)
    }
    return handled.length - firsts.size
  }

  return { join, publish, owners, expected, handled, checkComplete }
})

describe("a partitioned group over several buses on one file (TestClock)", () => {
  it.effect("a member joining takes its share (as assign says); one leaving gives it back; nothing lost, nothing twice", () =>
    Effect.gen(function*() {
      const c = yield* cluster
      const a = yield* c.join("a")
      yield* step(1000)
      assert.deepStrictEqual(yield* c.owners, Array(partitions).fill("a"), "alone, a runs every partition")
      yield* c.publish(100)
      yield* step(1000)
      assert.strictEqual(c.handled.length, 100)

      const b = yield* c.join("b")
      yield* step(3 * leaseMs)
      const owners = yield* c.owners
      assert.deepStrictEqual(owners, yield* c.expected)
      assert.strictEqual(owners.filter((o) => o === "a").length, 4)
      assert.strictEqual(owners.filter((o) => o === "b").length, 4)
      // The API shows what sib groups shows: a position per partition with its owner, and the members.
      const described = yield* a.bus.describeGroup("g")
      assert.deepStrictEqual(described.positions.map((p) => p.partition), [0, 1, 2, 3, 4, 5, 6, 7])
      assert.deepStrictEqual(described.members.map((m) => m.host).sort(), ["host-a", "host-b"])
      const sidOfA = described.members.find((m) => m.host === "host-a")!.member
      assert.strictEqual(described.positions.filter((p) => p.owner?.sid === sidOfA).length, 4)
      assert.isTrue(described.positions.every((p) => p.lag === 0))
      yield* c.publish(200)
      yield* step(2000)
      assert.isAbove(c.handled.filter((h) => h.member === "b").length, 0, "b took a share of the work")

      yield* b.unsubscribe
      yield* step(2 * leaseMs)
      assert.deepStrictEqual(yield* c.owners, Array(partitions).fill("a"), "b left: a runs every partition again")
      yield* c.publish(100)
      yield* step(2000)
      assert.strictEqual(c.checkComplete(), 0, "a cooperative hand-off redelivers nothing")
    }))

  it.effect("a crashed member's partitions move once its heartbeat and leases go unrenewed; only its uncommitted work runs again", () =>
    Effect.gen(function*() {
      const c = yield* cluster
      yield* c.join("a")
      // b hangs on some events: it dies with work in flight, below events of a's partitions.
      const b = yield* c.join("b", (i) => i % 10 === 5)
      yield* step(3 * leaseMs)
      yield* c.publish(100)
      yield* step(1000)
      b.crash()
      yield* c.publish(100)
      yield* step(leaseMs)
      assert.isTrue((yield* c.owners).includes("b"), "not taken before the lease ran out")
      yield* step(4 * leaseMs)
      assert.deepStrictEqual(yield* c.owners, Array(partitions).fill("a"))
      const again = c.checkComplete()
      assert.isAtMost(again, c.handled.filter((h) => h.member === "b").length)
      // What a ran again is only what b had not committed: never an event a had run itself.
      const ranByA = c.handled.filter((h) => h.member === "a").map((h) => h.i)
      assert.strictEqual(new Set(ranByA).size, ranByA.length, "a ran one of its own events twice (recovery read other partitions)")
    }))

  it.effect("maxInFlight is the member's: its partitions share it", () =>
    Effect.gen(function*() {
      const c = yield* cluster
      yield* c.join("a", () => false, { maxInFlight: 3, workMs: 1000 })
      yield* step(1000)
      yield* c.publish(50)
      yield* step(500)
      assert.strictEqual(c.handled.length, 3, "8 partitions, yet 3 handlers at once, as maxInFlight says")
      yield* step(1000)
      assert.strictEqual(c.handled.length, 6)
      yield* step(20_000)
      assert.strictEqual(c.checkComplete(), 0)
    }))

  it.effect("a flapping member: partitions move back and forth, every event is handled once, each key in order", () =>
    Effect.gen(function*() {
      const c = yield* cluster
      yield* c.join("a")
      yield* step(1000)
      for (let cycle = 0; cycle < 4; cycle++) {
        const flapper = yield* c.join(`c${cycle}`)
        yield* c.publish(30)
        yield* step(leaseMs)
        yield* c.publish(30)
        yield* flapper.unsubscribe
        yield* step(leaseMs / 2)
      }
      yield* step(3 * leaseMs)
      assert.deepStrictEqual(yield* c.owners, Array(partitions).fill("a"))
      assert.strictEqual(c.checkComplete(), 0)
    }))
})
