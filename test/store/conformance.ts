/**
 * The store contract, as one suite every dialect must pass: `conformance.test.ts` runs it for each
 * entry of `storeFactories`. A backend-specific test is an addition, never a fork.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer } from "effect"
import { openStore } from "../../src/store/open.ts"
import { type CompactPosition, compactStart, type CompactStepResult, type PruneStepResult } from "../../src/store/maintenanceSteps.ts"
import type { DeadLetter, Delivery, EventDraft } from "../../src/store/records.ts"
import { type HandlerTransaction, Store, TransactionSlot } from "../../src/store/Store.ts"
import type { StoreFactory } from "../helpers/stores.ts"

const draft = (id: string, topic: string, payload: unknown, extra: Partial<EventDraft> = {}): EventDraft => ({
  id, ts: 1000, topic, key: null, partition: null, headers: null, payload: JSON.stringify(payload),
  causedBy: null, tags: null, sid: "sid-test", ...extra
})

const emptyBatch = { now: 1, appends: [], progress: [], deliveries: [], deadLetters: [] }

const delivery = (group: string, seq: number, state: Delivery["state"], extra: Partial<Delivery> = {}): Delivery => ({
  group, topic: "t", seq, eventId: `e${seq}`, attempts: 1, state, nextAttemptAt: null, lastError: "x",
  lastErrorStack: null, firstFailedAt: 1, lastFailedAt: 1, ...extra
})

const deadLetter = (group: string, seq: number, extra: Partial<DeadLetter> = {}): DeadLetter => ({
  group, topic: "t", seq, eventId: `e${seq}`, key: null, attempts: 5, errorMessage: "boom", errorStack: "at x",
  firstFailedAt: 1, lastFailedAt: 2, deadAt: 3, holdsKey: false, ...extra
})

/** A whole compaction pass in steps of `limit`, with the steps' results added up. */
const compactAll = (store: Store["Service"], topic: string, now: number, deleteRetentionMs: number, limit = 2) =>
  Effect.gen(function*() {
    let from: CompactPosition | undefined = compactStart
    const total = { superseded: 0, tombstones: 0, kept: 0, waiting: 0, steps: 0, slowestGroup: undefined as string | undefined }
    while (from !== undefined) {
      const r: CompactStepResult = yield* store.maintenance.compactStep({ topic, from, limit, now, deleteRetentionMs })
      assert.isAtMost(r.superseded + r.tombstones, limit)
      total.superseded += r.superseded
      total.tombstones += r.tombstones
      total.kept += r.kept
      total.waiting += r.waiting
      total.slowestGroup = r.slowestGroup
      total.steps++
      from = r.next
    }
    return total
  })

/** A whole retention pass in steps of `limit`. */
const pruneAll = (
  store: Store["Service"],
  step: { topic: string; expiredBefore?: number; expiredUpto?: number; retainUntilConsumed: boolean },
  limit = 2
) =>
  Effect.gen(function*() {
    let after: number | undefined = 0
    const total = { deleted: 0, kept: 0, skipped: new Map<string, number>(), waitingFor: undefined as string | undefined }
    while (after !== undefined) {
      const r: PruneStepResult = yield* store.maintenance.pruneStep({ expiredBefore: undefined, expiredUpto: undefined, ...step, afterSeq: after, limit })
      assert.isAtMost(r.deleted, limit)
      total.deleted += r.deleted
      total.kept += r.kept
      for (const s of r.skipped) total.skipped.set(s.group, (total.skipped.get(s.group) ?? 0) + s.events)
      total.waitingFor = r.waitingFor
      after = r.next
    }
    return total
  })

const ids = (events: ReadonlyArray<{ readonly id: string }>) => events.map((e) => e.id)

/** Runs `effect` as a consumer worker does: with its own `TransactionSlot`. */
const asWorker = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, TransactionSlot, { current: undefined })

/** A handler's own statement on its open transaction. */
const sql = <A>(tx: HandlerTransaction, f: (db: HandlerTransaction["db"]) => Promise<A>) => Effect.promise(() => f(tx.db))

/** The rows of the handler-owned table `app_state`, read in a transaction of its own. */
const appState = (store: Store["Service"]) =>
  asWorker(Effect.gen(function*() {
    const tx = yield* store.runtime.beginTransaction
    const rows = yield* sql(tx, (db) => db.selectFrom("app_state").select(["k", "v"]).orderBy("k").execute())
    yield* tx.rollback
    return rows.map((r) => [r.k, r.v])
  }))

const createAppState = (store: Store["Service"]) =>
  asWorker(Effect.gen(function*() {
    const tx = yield* store.runtime.beginTransaction
    yield* sql(tx, (db) => db.schema.createTable("app_state").addColumn("k", "text", (c) => c.primaryKey()).addColumn("v", "integer").execute())
    yield* tx.commit(emptyBatch)
  }))

export const storeConformance = (factory: StoreFactory, where: "fresh" | "shared") =>
  describe(`Store conformance: ${factory.name} (${where} database)`, () => {
    const withStore = <A, E>(f: (store: Store["Service"]) => Effect.Effect<A, E>) =>
      Effect.flatMap(Effect.service(Store), f).pipe(Effect.provide(openStore(factory[where]()), { local: true }))

    /** Group "g" owned by "A" with a cursor on "t" at 0, and events on "t"; returns their seqs. */
    const ownedGroup = (store: Store["Service"], events: number) =>
      Effect.gen(function*() {
        yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
        yield* store.runtime.initCursor("g", "t", 0, 1)
        const r = yield* store.runtime.commit({ ...emptyBatch, appends: Array.from({ length: events }, (_, i) => draft(`e${i + 1}`, "t", i + 1)) })
        return r.appended.map((a) => a.seq)
      })

    it.effect("the store provides the capabilities its dialect declares", () =>
      withStore((store) =>
        Effect.sync(() => {
          // No other connection can reach an in-memory database: it has no change token to poll.
          assert.strictEqual(store.capabilities.changeToken !== undefined, factory.capabilities.changeToken && !(where === "fresh" && factory.name === "sqlite"))
          assert.isFunction(store.capabilities.operations, "every store counts its operations (Testing.settle reads it)")
          assert.strictEqual(store.capabilities.checkpoint !== undefined, factory.capabilities.checkpoint)
        })
      ))

    // ---- acks, progress and fencing ----------------------------------------------------------------

    it.effect("ack writes merge into the stored cursor: out-of-order seqs are ranges, the floor rises over a contiguous run", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const [s1, s2, s3, s4] = yield* ownedGroup(store, 4)
          const ack = (...seqs: Array<number>) => seqs.map((seq) => ({ group: "g", owner: "A", topic: "t", seq }))
          yield* store.runtime.commit({ ...emptyBatch, acks: ack(s2!, s4!) })
          let cursor = yield* store.runtime.getCursor("g", "t")
          assert.deepStrictEqual([cursor?.floor, cursor?.acked], [0, [[s2!, s2!], [s4!, s4!]]])
          yield* store.runtime.commit({ ...emptyBatch, acks: ack(s1!) })
          cursor = yield* store.runtime.getCursor("g", "t")
          assert.deepStrictEqual([cursor?.floor, cursor?.acked], [s2, [[s4!, s4!]]])
          assert.isAtLeast(cursor!.leasedUpto, cursor!.floor, "the lease mark is never below the floor")
          yield* store.runtime.commit({ ...emptyBatch, acks: ack(s3!) })
          cursor = yield* store.runtime.getCursor("g", "t")
          assert.deepStrictEqual([cursor?.floor, cursor?.acked], [s4, []])
          // A group without a cursor on the topic: nothing to merge into, nothing written.
          yield* store.runtime.commit({ ...emptyBatch, acks: [{ group: "g", owner: "A", topic: "other", seq: s1! }] })
          assert.isUndefined(yield* store.runtime.getCursor("g", "other"))
        })
      ))

    it.effect("a fenced ack rolls back the whole batch, its publishes included", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const [s1] = yield* ownedGroup(store, 1)
          const exit = yield* Effect.exit(store.runtime.commit({
            ...emptyBatch,
            appends: [draft("follow-up", "out", 1)],
            acks: [{ group: "g", owner: "B", topic: "t", seq: s1! }]
          }))
          assert.isTrue(Exit.isFailure(exit))
          assert.isUndefined(yield* store.runtime.eventById("follow-up"))
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.floor, 0)
        })
      ))

    it.effect("progressNow is read when the transaction applies it, and is fenced like progress", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const [s1, s2] = yield* ownedGroup(store, 2)
          let reads = 0
          let floor = 0
          const batch = {
            ...emptyBatch,
            progressNow: () => {
              reads++
              return [{ group: "g", owner: "A", topic: "t", floor, acked: [], leasedUpto: s2! }]
            }
          }
          floor = s1!
          yield* store.runtime.commit(batch)
          assert.strictEqual(reads, 1)
          assert.deepStrictEqual([(yield* store.runtime.getCursor("g", "t"))?.floor, (yield* store.runtime.getCursor("g", "t"))?.leasedUpto], [s1, s2])
          const fenced = yield* store.runtime.commit({
            ...emptyBatch,
            progressNow: () => [{ group: "g", owner: "B", topic: "t", floor: s2!, acked: [], leasedUpto: s2! }]
          })
          assert.deepStrictEqual(fenced.fenced, ["g"])
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.floor, s1)
        })
      ))

    // ---- handler transactions ------------------------------------------------------------------

    it.effect("a handler transaction commits the handler's statements, its ack and its publishes together", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* createAppState(store)
          const [s1] = yield* ownedGroup(store, 1)
          let committed = 0
          const result = yield* asWorker(Effect.gen(function*() {
            const tx = yield* store.runtime.beginTransaction
            assert.strictEqual(yield* store.runtime.beginTransaction, tx, "the slot's transaction is the one open")
            yield* sql(tx, (db) => db.insertInto("app_state").values({ k: "a", v: 1 }).execute())
            // The holder's own store calls run inside its transaction (no waiting for itself).
            assert.strictEqual((yield* store.runtime.eventById("e1"))?.seq, s1)
            return yield* tx.commit({
              ...emptyBatch,
              appends: [draft("follow-up", "out", { from: 1 })],
              acks: [{ group: "g", owner: "A", topic: "t", seq: s1! }]
            }, () => committed++)
          }))
          assert.strictEqual(committed, 1)
          assert.strictEqual(result.appended.length, 1)
          assert.deepStrictEqual(yield* appState(store), [["a", 1]])
          assert.strictEqual((yield* store.runtime.eventById("follow-up"))?.seq, result.appended[0]!.seq)
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.floor, s1)
        })
      ))

    it.effect("a rolled-back handler transaction leaves nothing; a handle kept after it ended cannot write", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* createAppState(store)
          yield* ownedGroup(store, 1)
          const kept = yield* asWorker(Effect.gen(function*() {
            const tx = yield* store.runtime.beginTransaction
            yield* sql(tx, (db) => db.insertInto("app_state").values({ k: "gone", v: 1 }).execute())
            yield* tx.rollback
            yield* tx.rollback
            return tx
          }))
          assert.deepStrictEqual(yield* appState(store), [])
          const late = yield* Effect.exit(Effect.tryPromise(() => kept.db.insertInto("app_state").values({ k: "late", v: 2 }).execute()))
          assert.isTrue(Exit.isFailure(late), "a statement on an ended transaction fails")
          assert.isTrue(Exit.isFailure(yield* Effect.exit(kept.commit(emptyBatch))), "an ended transaction cannot commit")
          assert.deepStrictEqual(yield* appState(store), [])
        })
      ))

    it.effect("a fenced ack in a handler transaction rolls back the handler's statements and publishes", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* createAppState(store)
          const [s1] = yield* ownedGroup(store, 1)
          const exit = yield* asWorker(Effect.gen(function*() {
            const tx = yield* store.runtime.beginTransaction
            yield* sql(tx, (db) => db.insertInto("app_state").values({ k: "a", v: 1 }).execute())
            return yield* Effect.exit(tx.commit({
              ...emptyBatch,
              appends: [draft("follow-up", "out", 1)],
              acks: [{ group: "g", owner: "B", topic: "t", seq: s1! }]
            }))
          }))
          assert.isTrue(Exit.isFailure(exit))
          assert.deepStrictEqual(yield* appState(store), [])
          assert.isUndefined(yield* store.runtime.eventById("follow-up"))
          // The transaction ended: the next one opens.
          yield* appState(store)
        })
      ))

    it.effect("writes by other fibers while a handler transaction is open all commit, none inside it", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* createAppState(store)
          yield* ownedGroup(store, 1)
          const outcome = yield* asWorker(Effect.gen(function*() {
            const tx = yield* store.runtime.beginTransaction
            // Another worker (its own slot) publishes while this transaction is open.
            const other = yield* Effect.forkChild(asWorker(store.runtime.commit({ ...emptyBatch, appends: [draft("other", "t", 2)] })))
            yield* Effect.yieldNow
            yield* sql(tx, (db) => db.insertInto("app_state").values({ k: "mine", v: 1 }).execute())
            yield* tx.rollback
            return yield* Fiber.join(other)
          }))
          assert.strictEqual(outcome.appended.length, 1)
          assert.isDefined(yield* store.runtime.eventById("other"), "the other fiber's publish survives this transaction's rollback")
          assert.deepStrictEqual(yield* appState(store), [])
        })
      ))

    it.effect("appends assign increasing seqs and read back in order", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const r = yield* store.runtime.commit({ ...emptyBatch, appends: [draft("a", "t", { n: 1 }), draft("b", "u", 2), draft("c", "t", [3])] })
          const seqs = r.appended.map((a) => a.seq)
          assert.isTrue(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!)
          assert.deepStrictEqual(r.appended.map((a) => a.existing), [undefined, undefined, undefined])
          const events = yield* store.admin.readTopic("t", 0, 10)
          assert.deepStrictEqual(events.map((e) => [e.id, e.payload]), [["a", { n: 1 }], ["c", [3]]])
          assert.deepStrictEqual(yield* store.admin.readTopic("t", seqs[0]!, 10).pipe(Effect.map((es) => es.map((e) => e.id))), ["c"])
          assert.deepStrictEqual(yield* store.admin.readTopic("t", 0, 1).pipe(Effect.map((es) => es.map((e) => e.id))), ["a"])
          assert.strictEqual(yield* store.runtime.headSeq("t"), seqs[2])
          assert.strictEqual(yield* store.runtime.headSeq("none"), 0)
        })
      ))

    it.effect("a consumer's page says how many payload bytes it holds", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const big = "x".repeat(1000)
          yield* store.runtime.commit({ ...emptyBatch, appends: [draft("a", "t", big), draft("b", "t", big), draft("c", "t", { n: 1 })] })
          const all = yield* store.runtime.readPage("t", 0, 10)
          assert.deepStrictEqual(all.events.map((e) => e.id), ["a", "b", "c"])
          assert.strictEqual(all.bytes, 2 * 1002 + JSON.stringify({ n: 1 }).length)
          assert.deepStrictEqual((yield* store.runtime.readPage("t", 0, 2)).events.map((e) => e.id), ["a", "b"])
          assert.deepStrictEqual(yield* store.runtime.readPage("t", 99, 10), { events: [], bytes: 0 })
        })
      ))

    it.effect("optional columns round-trip and absent ones stay absent", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.runtime.commit({
            ...emptyBatch,
            appends: [
              draft("full", "t", { x: "é" }, {
                key: "k", partition: 3, headers: JSON.stringify({ traceparent: "00-1" }),
                causedBy: JSON.stringify(["p"]), tags: JSON.stringify(["a", "b"])
              }),
              draft("bare", "t", null, { sid: null })
            ]
          })
          const [full, bare] = yield* store.admin.readTopic("t", 0, 10)
          assert.deepStrictEqual(
            { ...full, seq: 0 },
            { id: "full", seq: 0, ts: 1000, topic: "t", key: "k", partition: 3, headers: { traceparent: "00-1" }, payload: { x: "é" }, causedBy: ["p"], tags: ["a", "b"], sid: "sid-test" }
          )
          assert.deepStrictEqual({ ...bare, seq: 0 }, { id: "bare", seq: 0, ts: 1000, topic: "t", payload: null })
        })
      ))

    it.effect("an existing id is not written again; the stored event is returned", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const first = yield* store.runtime.commit({ ...emptyBatch, appends: [draft("dup", "t", 1)] })
          const again = yield* store.runtime.commit({ ...emptyBatch, appends: [draft("dup", "t", 2), draft("dup", "t", 3)] })
          assert.strictEqual(again.appended[0]!.seq, first.appended[0]!.seq)
          assert.strictEqual(again.appended[0]!.existing?.payload, 1)
          assert.strictEqual(again.appended[1]!.existing?.payload, 1)
          assert.strictEqual((yield* store.admin.readTopic("t", 0, 10)).length, 1)
          assert.strictEqual((yield* store.runtime.eventById("dup"))?.payload, 1)
          assert.strictEqual(yield* store.runtime.eventById("missing"), undefined)
        })
      ))

    it.effect("readSeqs returns the existing events ascending; floorForTs finds the first event at or after ts", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const r = yield* store.runtime.commit({
            ...emptyBatch,
            appends: [draft("a", "t", 1, { ts: 100 }), draft("b", "t", 2, { ts: 200 }), draft("c", "t", 3, { ts: 300 })]
          })
          const [a, b, c] = r.appended.map((x) => x.seq)
          assert.deepStrictEqual((yield* store.runtime.readSeqs([c!, a!, 999])).map((e) => e.id), ["a", "c"])
          assert.strictEqual(yield* store.runtime.floorForTs("t", 150), b! - 1)
          assert.strictEqual(yield* store.runtime.floorForTs("t", 100), a! - 1)
          assert.strictEqual(yield* store.runtime.floorForTs("t", 999), c)
          assert.strictEqual(yield* store.runtime.floorForTs("empty", 1), 0)
        })
      ))

    it.effect("latestByKey returns the newest event of each key in one topic", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.runtime.commit({
            ...emptyBatch,
            appends: [
              draft("a1", "s", 1, { key: "a" }), draft("b1", "s", 2, { key: "b" }), draft("a2", "s", 3, { key: "a" }),
              draft("x", "other", 4, { key: "a" })
            ]
          })
          const latest = yield* store.runtime.latestByKey("s", ["a", "b", "c", "a"])
          assert.deepStrictEqual([...latest].map(([k, e]) => [k, e.id]), [["a", "a2"], ["b", "b1"]])
        })
      ))

    it.effect("leases are compare-and-set, renewable by their owner only, and releasable", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const claim = { group: "g", pid: 1, host: "h", expiresAt: 100, now: 1 }
          assert.isUndefined(yield* store.runtime.readLease("g"))
          assert.isTrue(yield* store.runtime.claimLease({ ...claim, expectedOwner: null, owner: "A" }))
          assert.isFalse(yield* store.runtime.claimLease({ ...claim, expectedOwner: null, owner: "B" }))
          assert.isFalse(yield* store.runtime.claimLease({ ...claim, expectedOwner: "C", owner: "B" }))
          assert.strictEqual((yield* store.runtime.readLease("g"))?.ownerSid, "A")
          assert.isTrue(yield* store.runtime.renewLease("g", "A", 200, 2))
          assert.isFalse(yield* store.runtime.renewLease("g", "B", 200, 2))
          assert.strictEqual((yield* store.runtime.readLease("g"))?.expiresAt, 200)
          assert.isTrue(yield* store.runtime.claimLease({ ...claim, expectedOwner: "A", owner: "B" }))
          yield* store.runtime.releaseLease("g", "A", 3)
          assert.strictEqual((yield* store.runtime.readLease("g"))?.ownerSid, "B")
          yield* store.runtime.releaseLease("g", "B", 3)
          assert.deepStrictEqual(yield* store.runtime.readLease("g"), { group: "g", ownerSid: null, ownerPid: null, ownerHost: null, expiresAt: null })
        })
      ))

    it.effect("group writes are fenced by the lease", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.initCursor("g", "t", 0, 1)
          const progress = { group: "g", topic: "t", floor: 5, acked: [[7, 9]] as const, leasedUpto: 12 }
          const fenced = yield* store.runtime.commit({
            ...emptyBatch,
            appends: [draft("x", "t", 1)],
            progress: [{ ...progress, owner: "B" }],
            deliveries: [{ _tag: "upsert", owner: "B", delivery: delivery("g", 3, "retry") }]
          })
          assert.deepStrictEqual(fenced.fenced, ["g"])
          assert.strictEqual(fenced.appended.length, 1, "other parts of the batch still commit")
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.floor, 0)
          assert.strictEqual((yield* store.runtime.loadGroup("g", ["t"])).deliveries.length, 0)
          const ok = yield* store.runtime.commit({
            ...emptyBatch,
            progress: [{ ...progress, owner: "A" }],
            deliveries: [{ _tag: "upsert", owner: "A", delivery: delivery("g", 13, "retry") }]
          })
          assert.deepStrictEqual(ok.fenced, [])
          const cursor = yield* store.runtime.getCursor("g", "t")
          assert.deepStrictEqual([cursor?.floor, cursor?.acked, cursor?.leasedUpto], [5, [[7, 9]], 12])
        })
      ))

    it.effect("leases on append raise the lease mark to the highest new seq, never lower it, and are fenced", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.initCursor("g", "t", 0, 1)
          const first = yield* store.runtime.commit({
            ...emptyBatch,
            appends: [draft("a", "t", 1), draft("b", "u", 2), draft("c", "t", 3)],
            leases: [{ group: "g", owner: "A", topic: "t" }, { group: "g", owner: "A", topic: "none" }]
          })
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.leasedUpto, first.appended[2]!.seq)
          yield* store.runtime.commit({ ...emptyBatch, appends: [draft("a", "t", 1)], leases: [{ group: "g", owner: "A", topic: "t" }] })
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.leasedUpto, first.appended[2]!.seq, "an existing id leases nothing")
          const fenced = yield* store.runtime.commit({ ...emptyBatch, appends: [draft("d", "t", 4)], leases: [{ group: "g", owner: "B", topic: "t" }] })
          assert.deepStrictEqual(fenced.fenced, ["g"])
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.leasedUpto, first.appended[2]!.seq)
          yield* store.runtime.commit({
            ...emptyBatch,
            appends: [draft("e", "t", 5)],
            progress: [{ group: "g", owner: "A", topic: "t", floor: 0, acked: [], leasedUpto: 0 }],
            leases: [{ group: "g", owner: "A", topic: "t" }]
          })
          const e = yield* store.runtime.eventById("e")
          assert.strictEqual((yield* store.runtime.getCursor("g", "t"))?.leasedUpto, e!.seq, "applied after the batch's progress writes")
        })
      ))

    it.effect("cursors: init keeps an existing cursor; set resets ack state and forgets retries but not requeues", () =>
      withStore((store) =>
        Effect.gen(function*() {
          assert.isUndefined(yield* store.runtime.getCursor("g", "t"))
          assert.strictEqual((yield* store.runtime.initCursor("g", "t", 4, 1)).floor, 4)
          assert.strictEqual((yield* store.runtime.initCursor("g", "t", 9, 1)).floor, 4)
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.commit({
            ...emptyBatch,
            progress: [{ group: "g", owner: "A", topic: "t", floor: 6, acked: [[8, 8]], leasedUpto: 10 }],
            deliveries: [
              { _tag: "upsert", owner: "A", delivery: delivery("g", 7, "retry") },
              { _tag: "upsert", owner: "A", delivery: delivery("g", 2, "requeued") }
            ]
          })
          yield* store.runtime.commit({ ...emptyBatch, deadLetters: [{ owner: "A", deadLetter: deadLetter("g", 1) }, { owner: "A", deadLetter: deadLetter("g", 5) }] })
          yield* store.admin.setCursor("g", "t", 1, 2)
          assert.deepStrictEqual((yield* store.admin.deadLetters({ group: "g" })).map((d) => d.seq), [1], "dead letters above the new floor are replayed")
          const cursor = yield* store.runtime.getCursor("g", "t")
          assert.deepStrictEqual([cursor?.floor, cursor?.acked, cursor?.leasedUpto], [1, [], 1])
          assert.deepStrictEqual((yield* store.runtime.loadGroup("g", ["t"])).deliveries.map((d) => [d.seq, d.state]), [[2, "requeued"]])
          yield* store.admin.setCursor("g", "new", 3, 2)
          assert.strictEqual((yield* store.runtime.getCursor("g", "new"))?.floor, 3)
        })
      ))

    it.effect("deliveries: upsert replaces, delete removes, loadGroup filters by topic", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.commit({
            ...emptyBatch,
            deliveries: [
              { _tag: "upsert", owner: "A", delivery: delivery("g", 1, "retry") },
              { _tag: "upsert", owner: "A", delivery: delivery("g", 1, "suspect", { attempts: 3, nextAttemptAt: 50 }) },
              { _tag: "upsert", owner: "A", delivery: delivery("g", 2, "retry", { topic: "other" }) },
              { _tag: "upsert", owner: "A", delivery: delivery("g", 3, "retry") },
              { _tag: "delete", owner: "A", group: "g", seq: 3 }
            ]
          })
          const snapshot = yield* store.runtime.loadGroup("g", ["t"])
          assert.deepStrictEqual(snapshot.deliveries, [delivery("g", 1, "suspect", { attempts: 3, nextAttemptAt: 50 })])
          assert.strictEqual(snapshot.lease?.ownerSid, "A")
          assert.deepStrictEqual([...snapshot.cursors.keys()], [])
        })
      ))

    it.effect("dead letters: stored with their delivery removed, listed, requeued, dropped", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.commit({ ...emptyBatch, deliveries: [{ _tag: "upsert", owner: "A", delivery: delivery("g", 4, "retry") }] })
          yield* store.runtime.commit({
            ...emptyBatch,
            deadLetters: [
              { owner: "A", deadLetter: deadLetter("g", 4, { holdsKey: true, key: "k" }) },
              { owner: "A", deadLetter: deadLetter("g", 5, { topic: "u" }) },
              { owner: "A", deadLetter: deadLetter("g", 6) }
            ]
          })
          const snapshot = yield* store.runtime.loadGroup("g", ["t"])
          assert.deepStrictEqual(snapshot.deliveries, [])
          assert.deepStrictEqual(snapshot.holds, [deadLetter("g", 4, { holdsKey: true, key: "k" })])
          assert.deepStrictEqual((yield* store.admin.deadLetters({ group: "g" })).map((d) => d.seq), [4, 5, 6])
          assert.deepStrictEqual((yield* store.admin.deadLetters({ topic: "u" })).map((d) => d.seq), [5])
          assert.deepStrictEqual((yield* store.admin.deadLetters({ group: "other" })).map((d) => d.seq), [])
          assert.deepStrictEqual((yield* store.admin.deadLetters({ limit: 1 })).map((d) => d.seq), [4])
          assert.deepStrictEqual((yield* store.admin.deadLetters({ eventId: "e5" })).map((d) => [d.group, d.seq]), [["g", 5]])
          assert.deepStrictEqual(yield* store.admin.deadLetters({ eventId: "e5", group: "other" }), [])
          const requeued = yield* store.admin.requeue("g", [4, 99])
          assert.deepStrictEqual(requeued.map((d) => [d.seq, d.state, d.attempts]), [[4, "requeued", 0]])
          assert.deepStrictEqual((yield* store.admin.deliveries({ eventId: "e4" })).map((d) => [d.group, d.seq, d.state]), [["g", 4, "requeued"]])
          assert.deepStrictEqual((yield* store.admin.deliveries({ group: "g" })).map((d) => d.seq), [4])
          assert.deepStrictEqual(yield* store.admin.deliveries({ eventId: "e4", group: "other" }), [])
          assert.deepStrictEqual((yield* store.admin.deadLetters({ group: "g" })).map((d) => d.seq), [5, 6])
          assert.isTrue(yield* store.admin.dropDeadLetter("g", 6))
          assert.isFalse(yield* store.admin.dropDeadLetter("g", 6))
          assert.deepStrictEqual((yield* store.admin.requeue("g", "all")).map((d) => d.seq), [5])
          assert.deepStrictEqual(yield* store.admin.deadLetters({}), [])
        })
      ))

    it.effect("topic stats, group positions and event counts describe what is stored", () =>
      withStore((store) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* store.admin.topicStats, [])
          assert.deepStrictEqual(yield* store.admin.groupPositions, [])
          const r = yield* store.runtime.commit({
            ...emptyBatch,
            appends: [draft("a", "t", 1, { ts: 10 }), draft("b", "u", 2, { ts: 20 }), draft("c", "t", 3, { ts: 30 }), draft("d", "t", 4, { ts: 40 })]
          })
          const [a, b, c, d] = r.appended.map((x) => x.seq)
          assert.deepStrictEqual(yield* store.admin.topicStats, [
            { topic: "t", events: 3, firstSeq: a!, lastSeq: d!, lastTs: 40 },
            { topic: "u", events: 1, firstSeq: b!, lastSeq: b!, lastTs: 20 }
          ])
          assert.strictEqual(yield* store.admin.countEvents("t", 0, d!), 3)
          assert.strictEqual(yield* store.admin.countEvents("t", a!, c!), 1)
          assert.strictEqual(yield* store.admin.countEvents("u", b!, d!), 0)
          assert.strictEqual(yield* store.admin.floorForLast("t", 2), c! - 1)
          assert.strictEqual(yield* store.admin.floorForLast("t", 3), a! - 1)
          assert.strictEqual(yield* store.admin.floorForLast("t", 10), 0)
          assert.strictEqual(yield* store.admin.floorForLast("t", 0), d!)
          assert.strictEqual(yield* store.admin.floorForLast("none", 5), 0)

          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 7, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.initCursor("g", "t", a!, 1)
          yield* store.runtime.initCursor("g", "u", 0, 1)
          yield* store.runtime.initCursor("idle", "t", d!, 1)
          yield* store.runtime.commit({ ...emptyBatch, deliveries: [{ _tag: "upsert", owner: "A", delivery: delivery("g", c!, "retry") }] })
          yield* store.runtime.commit({ ...emptyBatch, deadLetters: [{ owner: "A", deadLetter: deadLetter("g", d!) }] })
          const positions = yield* store.admin.groupPositions
          assert.deepStrictEqual(positions.map((p) => [p.cursor.group, p.cursor.topic, p.cursor.floor, p.lease?.ownerPid ?? null, p.retrying, p.deadLetters]), [
            ["g", "t", a!, 7, 1, 1],
            ["g", "u", 0, 7, 0, 0],
            ["idle", "t", d!, null, 0, 0]
          ])
        })
      ))

    it.effect("topics are upserted and listed by name", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* store.runtime.upsertTopic("b", { compaction: true }, 1)
          yield* store.runtime.upsertTopic("a", {}, 1)
          yield* store.runtime.upsertTopic("b", { retention: { maxCount: 3 } }, 2)
          const topics = yield* store.runtime.topics
          assert.deepStrictEqual(topics.map((t) => [t.name, t.config, t.createdAt, t.updatedAt]), [
            ["a", {}, 1, 1],
            ["b", { retention: { maxCount: 3 } }, 1, 2]
          ])
        })
      ))

    // ---- compaction and retention -------------------------------------------------------------

    it.effect("latestByKey reads many keys at once, and a tombstone (null payload) reads as absent", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const keys = Array.from({ length: 60 }, (_, i) => `k${i}`)
          yield* store.runtime.commit({ ...emptyBatch, appends: keys.map((k, i) => draft(`v1-${k}`, "s", i, { key: k })) })
          yield* store.runtime.commit({
            ...emptyBatch,
            appends: [
              draft("v2-k1", "s", "new", { key: "k1" }), draft("gone-k2", "s", null, { key: "k2" }),
              draft("gone-k3", "s", null, { key: "k3" }), draft("back-k3", "s", "back", { key: "k3" })
            ]
          })
          const latest = yield* store.runtime.latestByKey("s", [...keys, "nope", "k1"])
          assert.strictEqual(latest.size, 59)
          assert.strictEqual(latest.get("k1")?.payload, "new")
          assert.isFalse(latest.has("k2"), "deleted by its tombstone")
          assert.strictEqual(latest.get("k3")?.id, "back-k3")
          assert.strictEqual(latest.get("k59")?.payload, 59)
          assert.strictEqual((yield* store.runtime.latestByKey("s", [])).size, 0)
          assert.strictEqual((yield* store.runtime.latestByKey("s", ["k2"])).size, 0, "one key: the same rules")
          assert.strictEqual((yield* store.runtime.latestByKey("s", ["k1", "k1"])).get("k1")?.payload, "new")
        })
      ))

    it.effect("compaction deletes superseded events at or below the slowest cursor, never one a dead letter or a delivery points to", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const r = yield* store.runtime.commit({
            ...emptyBatch,
            appends: [
              draft("a1", "t", 1, { key: "a" }), draft("b1", "t", 1, { key: "b" }), draft("a2", "t", 2, { key: "a" }),
              draft("x1", "other", 1, { key: "a" }), draft("b2", "t", 2, { key: "b" }), draft("a3", "t", 3, { key: "a" }),
              draft("c1", "t", 1, { key: "c" }), draft("c2", "t", 2, { key: "c" }), draft("x2", "other", 2, { key: "a" })
            ]
          })
          const seq = Object.fromEntries(r.appended.map((a, i) => [["a1", "b1", "a2", "x1", "b2", "a3", "c1", "c2", "x2"][i]!, a.seq]))
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.initCursor("g", "t", seq["b1"]!, 1)
          yield* store.runtime.initCursor("fast", "t", seq["c2"]!, 1)
          yield* store.runtime.commit({
            ...emptyBatch,
            deadLetters: [{ owner: "A", deadLetter: deadLetter("g", seq["a1"]!) }],
            deliveries: [{ _tag: "upsert", owner: "A", delivery: delivery("g", seq["c1"]!, "requeued") }]
          })

          const first = yield* compactAll(store, "t", 10_000, 0, 1)
          // b1 goes; a1 stays for its dead letter; a2 and c1 are above g's cursor (c1 is also requeued).
          assert.deepStrictEqual([first.superseded, first.kept, first.waiting, first.slowestGroup], [1, 1, 2, "g"])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["a1", "a2", "b2", "a3", "c1", "c2"])

          yield* store.admin.setCursor("g", "t", seq["c2"]!, 2)
          const second = yield* compactAll(store, "t", 10_000, 0, 1)
          assert.deepStrictEqual([second.superseded, second.kept, second.waiting], [1, 2, 0], "a2 goes; a1 (dead letter) and c1 (requeued) stay")
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["a1", "b2", "a3", "c1", "c2"])

          assert.isTrue(yield* store.admin.dropDeadLetter("g", seq["a1"]!))
          yield* store.runtime.commit({ ...emptyBatch, deliveries: [{ _tag: "delete", owner: "A", group: "g", seq: seq["c1"]! }] })
          const third = yield* compactAll(store, "t", 10_000, 0, 5)
          assert.deepStrictEqual([third.superseded, third.kept, third.waiting], [2, 0, 0])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["b2", "a3", "c2"])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("other", 0, 100)), ["x1", "x2"], "other topics are untouched")
          assert.deepStrictEqual([...(yield* store.runtime.latestByKey("t", ["a", "b", "c"])).values()].map((e) => e.id), ["a3", "b2", "c2"])
          const again = yield* compactAll(store, "t", 10_000, 0, 5)
          assert.deepStrictEqual([again.superseded, again.tombstones], [0, 0])
          const next = yield* store.runtime.commit({ ...emptyBatch, appends: [draft("a4", "t", 4, { key: "a" })] })
          assert.isAbove(next.appended[0]!.seq, seq["x2"]!, "seqs are never reused")
        })
      ))

    it.effect("compaction without cursors has no bound; steps resume inside a key", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const appends = Array.from({ length: 23 }, (_, i) => draft(`e${i}`, "t", i, { key: `k${i % 3}` }))
          yield* store.runtime.commit({ ...emptyBatch, appends })
          const r = yield* compactAll(store, "t", 0, 0, 2)
          assert.deepStrictEqual([r.superseded, r.waiting, r.slowestGroup], [20, 0, undefined])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["e20", "e21", "e22"])
        })
      ))

    it.effect("tombstones go after deleteRetentionMs, at or below the slowest cursor, once nothing older of their key is stored", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const r = yield* store.runtime.commit({
            ...emptyBatch,
            appends: [
              draft("k-v1", "t", 1, { key: "k", ts: 100 }), draft("k-del", "t", null, { key: "k", ts: 1000 }),
              draft("j-del", "t", null, { key: "j", ts: 1000 }),
              draft("m-v1", "t", 1, { key: "m", ts: 100 }), draft("m-del", "t", null, { key: "m", ts: 200 }), draft("m-v2", "t", 2, { key: "m", ts: 300 }),
              draft("p-v1", "t", 1, { key: "p", ts: 100 }), draft("p-del", "t", null, { key: "p", ts: 100 }),
              draft("late-del", "t", null, { key: "late", ts: 100 })
            ]
          })
          const seqOf = (i: number) => r.appended[i]!.seq
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.initCursor("g", "t", seqOf(7), 1)
          yield* store.runtime.commit({ ...emptyBatch, deadLetters: [{ owner: "A", deadLetter: deadLetter("g", seqOf(6), { key: "p" }) }] })

          const young = yield* compactAll(store, "t", 1499, 500, 1)
          assert.deepStrictEqual([young.superseded, young.tombstones], [3, 0], "k-v1, m-v1 and m-del go; the tombstones are too young")
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["k-del", "j-del", "m-v2", "p-v1", "p-del", "late-del"])

          const old = yield* compactAll(store, "t", 1500, 500, 1)
          // p-del stays: p-v1 (kept for its dead letter) would come back; late-del is above g's cursor.
          assert.deepStrictEqual([old.superseded, old.tombstones, old.kept], [0, 2, 1])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["m-v2", "p-v1", "p-del", "late-del"])
          const latest = yield* store.runtime.latestByKey("t", ["k", "j", "m", "p", "late"])
          assert.deepStrictEqual([...latest.keys()], ["m"])
        })
      ))

    it.effect("retention deletes the oldest expired events (by count or age), never above the slowest cursor nor a dead letter's event", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const r = yield* store.runtime.commit({
            ...emptyBatch,
            appends: [100, 200, 300, 400, 500, 600].map((ts, i) => draft(`e${i + 1}`, "t", i, { ts }))
          })
          const seqs = r.appended.map((a) => a.seq)
          yield* store.runtime.claimLease({ group: "g", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.initCursor("g", "t", seqs[1]!, 1)
          yield* store.runtime.commit({ ...emptyBatch, deadLetters: [{ owner: "A", deadLetter: deadLetter("g", seqs[0]!) }] })

          // Keep the last 2: e1..e4 are expired; e1 has a dead letter; g has processed e1 and e2 only.
          const byCount = yield* pruneAll(store, { topic: "t", expiredUpto: yield* store.admin.floorForLast("t", 2), retainUntilConsumed: true }, 1)
          assert.deepStrictEqual([byCount.deleted, byCount.kept, byCount.waitingFor], [1, 1, "g"])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["e1", "e3", "e4", "e5", "e6"])

          yield* store.admin.setCursor("g", "t", seqs[5]!, 2)
          // Older than 450: e1..e4 (e1 kept for its dead letter); the walk stops at e5.
          const byAge = yield* pruneAll(store, { topic: "t", expiredBefore: 450, retainUntilConsumed: true })
          assert.deepStrictEqual([byAge.deleted, byAge.kept, byAge.waitingFor], [2, 1, undefined])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["e1", "e5", "e6"])
          assert.deepStrictEqual([...byAge.skipped], [])

          const everything = yield* pruneAll(store, { topic: "t", expiredBefore: 10_000, retainUntilConsumed: true })
          assert.strictEqual(everything.deleted, 2)
          const next = yield* store.runtime.commit({ ...emptyBatch, appends: [draft("e7", "t", 7)] })
          assert.isAbove(next.appended[0]!.seq, seqs[5]!, "seqs are never reused")
        })
      ))

    it.effect("retention with retainUntilConsumed false deletes anyway and counts, per group, the events it had not processed", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const r = yield* store.runtime.commit({ ...emptyBatch, appends: [1, 2, 3, 4, 5].map((n) => draft(`e${n}`, "t", n)) })
          const seqs = r.appended.map((a) => a.seq)
          yield* store.runtime.claimLease({ group: "slow", expectedOwner: null, owner: "A", pid: 1, host: "h", expiresAt: 100, now: 1 })
          yield* store.runtime.initCursor("slow", "t", 0, 1)
          yield* store.runtime.commit({ ...emptyBatch, progress: [{ group: "slow", owner: "A", topic: "t", floor: 0, acked: [[seqs[1]!, seqs[1]!]], leasedUpto: 0 }] })
          yield* store.runtime.initCursor("fast", "t", seqs[3]!, 1)
          yield* store.runtime.initCursor("slow", "u", 0, 1)

          const result = yield* pruneAll(store, { topic: "t", expiredUpto: seqs[3]!, retainUntilConsumed: false }, 3)
          assert.deepStrictEqual([result.deleted, [...result.skipped], result.waitingFor], [4, [["slow", 3]], undefined])
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["e5"])
          const positions = yield* store.admin.groupPositions
          assert.deepStrictEqual(positions.map((p) => [p.cursor.group, p.cursor.topic, p.skipped]), [["fast", "t", 0], ["slow", "t", 3], ["slow", "u", 0]])
        })
      ))

    // ---- deleting groups and topics ------------------------------------------------------------

    it.effect("deleteGroup deletes a group's rows only while its owner is the one expected", () =>
      withStore((store) =>
        Effect.gen(function*() {
          yield* ownedGroup(store, 2)
          yield* store.runtime.initCursor("g", "u", 0, 1)
          yield* store.runtime.initCursor("other", "t", 0, 1)
          yield* store.runtime.commit({
            ...emptyBatch,
            deliveries: [{ _tag: "upsert", owner: "A", delivery: delivery("g", 1, "retry") }],
            deadLetters: [{ owner: "A", deadLetter: deadLetter("g", 2) }]
          })
          assert.isUndefined(yield* store.admin.deleteGroup("g", null), "the owner is A, not nobody")
          assert.strictEqual((yield* store.admin.groupPositions).length, 3, "nothing deleted")
          assert.deepStrictEqual(yield* store.admin.deleteGroup("g", "A"), { cursors: 2, deliveries: 1, deadLetters: 1 })
          assert.deepStrictEqual((yield* store.admin.groupPositions).map((p) => p.cursor.group), ["other"])
          assert.isUndefined(yield* store.runtime.readLease("g"))
          assert.deepStrictEqual(yield* store.admin.deleteGroup("g", null), { cursors: 0, deliveries: 0, deadLetters: 0 })
        })
      ))

    it.effect("a purge deletes a topic's events in bounded steps up to a seq, then its retries and dead letters; cursors move up or go", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const seqs = yield* ownedGroup(store, 5)
          yield* store.runtime.commit({ ...emptyBatch, appends: [draft("u1", "u", 1)] })
          yield* store.runtime.commit({ ...emptyBatch, deadLetters: [{ owner: "A", deadLetter: deadLetter("g", seqs[0]!) }] })
          const upto = seqs[3]!
          assert.strictEqual(yield* store.admin.purgeStep("t", upto, 3), 3)
          assert.strictEqual(yield* store.admin.purgeStep("t", upto, 3), 1)
          assert.strictEqual(yield* store.admin.purgeStep("t", upto, 3), 0)
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("t", 0, 100)), ["e5"], "events after the bound stay")
          assert.deepStrictEqual(ids(yield* store.admin.readTopic("u", 0, 100)), ["u1"])
          yield* store.admin.finishPurge("t", upto, 9, false)
          assert.deepStrictEqual(yield* store.admin.deadLetters({}), [])
          const cursor = yield* store.runtime.getCursor("g", "t")
          assert.deepStrictEqual([cursor?.floor, cursor?.leasedUpto], [upto, upto])
          yield* store.runtime.upsertTopic("t", { compaction: false }, 1)
          yield* store.admin.finishPurge("t", upto, 9, true)
          assert.isUndefined(yield* store.runtime.getCursor("g", "t"))
          assert.deepStrictEqual((yield* store.runtime.topics).map((t) => t.name), [])
        })
      ))

    // ---- capabilities ------------------------------------------------------------------------

    it.live("notifications, where a store gives them: another connection's commit notifies within a second", () =>
      Effect.gen(function*() {
        const location = factory.shared()
        yield* Effect.scoped(Effect.gen(function*() {
          const watcher = Context.get(yield* Layer.build(openStore(location)), Store)
          const writer = Context.get(yield* Layer.build(openStore(location)), Store)
          const notifications = watcher.capabilities.commitNotifications
          if (notifications === undefined) return
          let notified = 0
          yield* notifications(() => void notified++)
          yield* writer.runtime.commit({ ...emptyBatch, appends: [draft("x", "t", 1)] })
          const started = Date.now()
          while (notified === 0 && Date.now() - started < 1000) yield* Effect.sleep(5)
          assert.isAbove(notified, 0)
        }))
      }))

    it.effect.skipIf(!factory.capabilities.changeToken)("change detection: a commit by another connection moves the change token", () =>
      Effect.gen(function*() {
        const location = factory.shared()
        const run = <A, E>(f: (a: Store["Service"], b: Store["Service"]) => Effect.Effect<A, E>) =>
          Effect.flatMap(Effect.service(Store), (a) =>
            Effect.flatMap(Effect.service(Store), (b) => f(a, b)).pipe(Effect.provide(openStore(location), { local: true }))
          ).pipe(Effect.provide(openStore(location), { local: true }))
        yield* run((watcher, writer) =>
          Effect.gen(function*() {
            const token = watcher.capabilities.changeToken!
            const before = yield* token
            assert.strictEqual(yield* token, before, "nothing committed: no change")
            yield* writer.runtime.commit({ ...emptyBatch, appends: [draft("x", "t", 1)] })
            assert.notStrictEqual(yield* token, before)
          }))
      }))
  })

export { draft, emptyBatch }
