/**
 * What the Postgres dialect must prove beyond the conformance suite: events become visible in seq
 * order with no gap filled later, although several connections write. A transaction that holds
 * the writers' lock with an event inserted and not committed keeps every other writer waiting, so a
 * consumer never reads past it (issue 12). Skipped (and reported so) without SIB_TEST_POSTGRES_URL.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import pg from "pg"
import { openStore } from "../../src/store/open.ts"
import { writersLock } from "../../src/store/postgres/location.ts"
import type { EventDraft } from "../../src/store/records.ts"
import { type HandlerTransaction, Store, TransactionSlot } from "../../src/store/Store.ts"
import { postgresFactory, postgresUrl } from "../helpers/stores.ts"

const draft = (id: string): EventDraft => ({
  id, ts: 1000, topic: "t", key: null, partition: null, headers: null, payload: "{}", causedBy: null, tags: null, sid: "s"
})

/**
 * A store on a schema of its own (dropped when the scope closes) and another connection to that
 * schema, "A", a writer of its own.
 */
const storeWithWriter = (factory: ReturnType<typeof postgresFactory>) =>
  Effect.gen(function*() {
    const location = factory.shared()
    const schema = new URL(location).searchParams.get("schema")!
    yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
    const store = Context.get(yield* Layer.build(openStore(location)), Store)
    const a = new pg.Client({ connectionString: postgresUrl!, options: `-c search_path=${schema}` })
    yield* Effect.promise(() => a.connect())
    yield* Effect.addFinalizer(() => Effect.promise(() => a.end()))
    return { a, schema, store }
  })

describe.skipIf(postgresUrl === undefined)("Postgres: seq order is visibility order", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("a transaction that appended and is still open holds back later appends; the consumer never passes it", () =>
    Effect.gen(function*() {
      const { a, schema, store } = yield* storeWithWriter(factory)
      // Transaction A, as the store's own writers do: the lock, then the insert; left open.
      yield* Effect.promise(async () => {
        await a.query("begin")
        await a.query(writersLock(schema))
        await a.query("insert into events (id, ts, topic, payload) values ('a', 1000, 't', '{}')")
      })
      // B appends through the store: it waits for A.
      const b = yield* Effect.forkChild(store.runtime.commit({ now: 1, appends: [draft("b")], progress: [], deliveries: [], deadLetters: [] }))
      yield* Effect.sleep("300 millis")
      assert.isUndefined(b.pollUnsafe(), "B waits while A holds the writers' lock")
      assert.deepStrictEqual((yield* store.runtime.readPage("t", 0, 10)).events, [], "a consumer sees neither")
      yield* Effect.promise(() => a.query("commit"))
      const committed = yield* Fiber.join(b)
      const page = (yield* store.runtime.readPage("t", 0, 10)).events
      assert.deepStrictEqual(page.map((e) => e.id), ["a", "b"], "A first: it took its seq first and was visible before B could take one")
      assert.isBelow(page[0]!.seq, committed.appended[0]!.seq)
    }).pipe(Effect.scoped))
})

describe.skipIf(postgresUrl === undefined)("Postgres: a batch of publishes as one statement", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")
  const batch = (drafts: ReadonlyArray<EventDraft>) => ({ now: 1, appends: drafts, progress: [], deliveries: [], deadLetters: [] })

  it.live("it takes the writers' lock before it takes a seq: a writer holding the lock and inserting later still comes first", () =>
    Effect.gen(function*() {
      const { a, schema, store } = yield* storeWithWriter(factory)
      // A holds the lock and has taken no seq yet.
      yield* Effect.promise(async () => {
        await a.query("begin")
        await a.query(writersLock(schema))
      })
      const b = yield* Effect.forkChild(store.runtime.commit(batch([draft("b1"), draft("b2")])))
      yield* Effect.sleep("300 millis")
      assert.isUndefined(b.pollUnsafe(), "the batch waits for the lock")
      yield* Effect.promise(async () => {
        await a.query("insert into events (id, ts, topic, payload) values ('a', 1000, 't', '{}')")
        await a.query("commit")
      })
      const committed = yield* Fiber.join(b)
      const page = (yield* store.runtime.readPage("t", 0, 10)).events
      assert.deepStrictEqual(page.map((e) => e.id), ["a", "b1", "b2"])
      assert.deepStrictEqual(committed.appended.map((x) => x.seq), [page[1]!.seq, page[2]!.seq])
    }).pipe(Effect.scoped))

  it.live("a batch of 1,000 with an id twice and an id stored before: each written once, the others answered with the stored event", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const store = Context.get(yield* Layer.build(openStore(location)), Store)
      yield* store.runtime.commit(batch([{ ...draft("old"), payload: "1" }]))
      const drafts = Array.from({ length: 1000 }, (_, i) => draft(i === 500 ? "old" : i === 999 ? "e0" : `e${i}`))
      const result = yield* store.runtime.commit(batch(drafts))
      assert.strictEqual(result.appended.length, 1000)
      assert.strictEqual(result.appended[500]!.existing?.payload, 1)
      assert.strictEqual(result.appended[999]!.existing?.id, "e0")
      assert.strictEqual(result.appended[999]!.seq, result.appended[0]!.seq)
      assert.strictEqual(result.appended.filter((x) => x.existing === undefined).length, 998)
      const stored = yield* store.admin.readTopic("t", 0, 2000)
      assert.strictEqual(stored.length, 999)
      assert.deepStrictEqual(stored.slice(1).map((e) => e.seq), result.appended.filter((x) => x.existing === undefined).map((x) => x.seq))
    }).pipe(Effect.scoped))
})

describe.skipIf(postgresUrl === undefined)("Postgres: a lost listener costs latency, never events", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("the LISTEN connections are killed again and again during a publish stream: every event still arrives, in order", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      const schema = new URL(location).searchParams.get("schema")!
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const a = Context.get(yield* Layer.build(Bus.open(location, { maintenance: false })), Bus)
      const b = Context.get(yield* Layer.build(Bus.open(location, { maintenance: false })), Bus)
      const admin = new pg.Client({ connectionString: postgresUrl! })
      yield* Effect.promise(() => admin.connect())
      yield* Effect.addFinalizer(() => Effect.promise(() => admin.end()))
      const killListeners = Effect.promise(() =>
        admin.query("select pg_terminate_backend(pid) from pg_stat_activity where query = $1", [`listen "sibus_${schema}"`])
      ).pipe(Effect.map((r) => r.rowCount ?? 0))
      const received = yield* Effect.forkChild(Stream.runCollect(Stream.take(a.live("t"), 200)))
      yield* Effect.sleep("100 millis")
      let killed = 0
      for (let n = 0; n < 200; n++) {
        yield* b.publish("t", { n })
        if (n % 20 === 0) killed += yield* killListeners
        if (n % 5 === 0) yield* Effect.sleep("5 millis")
      }
      const events = [...(yield* Fiber.join(received).pipe(Effect.timeout("20 seconds")))]
      assert.deepStrictEqual(events.map((e) => (e.payload as { n: number }).n), Array.from({ length: 200 }, (_, n) => n))
      assert.isAbove(killed, 2, "listeners were killed while events flowed")
    }).pipe(Effect.scoped))
})

describe.skipIf(postgresUrl === undefined)("Postgres without notifications (?listen=false)", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("nothing is lost, and another process's events arrive within the poll interval", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const quiet = new URL(location)
      quiet.searchParams.set("listen", "false")
      const pollIntervalMs = 50
      const a = Context.get(yield* Layer.build(Bus.open(quiet.toString(), { maintenance: false, pollIntervalMs })), Bus)
      const b = Context.get(yield* Layer.build(Bus.open(quiet.toString(), { maintenance: false, pollIntervalMs })), Bus)
      const schema = quiet.searchParams.get("schema")!
      const admin = new pg.Client({ connectionString: postgresUrl! })
      yield* Effect.promise(() => admin.connect())
      yield* Effect.addFinalizer(() => Effect.promise(() => admin.end()))
      const listening = yield* Effect.promise(() => admin.query("select count(*)::int as n from pg_stat_activity where query = $1", [`listen "sibus_${schema}"`]))
      assert.strictEqual((listening.rows[0] as { n: number }).n, 0, "no LISTEN connection")
      const arrivals: Array<number> = []
      const sent: Array<number> = []
      yield* a.subscribe("t", "g", (e) => Effect.sync(() => void (arrivals[(e.payload as { n: number }).n] = performance.now())), { from: "earliest" })
      for (let n = 0; n < 40; n++) {
        sent[n] = performance.now()
        yield* b.publish("t", { n })
        yield* Effect.sleep("7 millis")
      }
      const deadline = performance.now() + 5000
      while (arrivals.filter((x) => x !== undefined).length < 40 && performance.now() < deadline) yield* Effect.sleep("10 millis")
      const latencies = sent.map((t, n) => arrivals[n]! - t)
      assert.strictEqual(latencies.filter(Number.isFinite).length, 40, "every event arrived")
      // The poll alone: within its interval, plus a delivery's own time (generous on a busy machine).
      assert.isBelow(Math.max(...latencies), pollIntervalMs + 250)
    }).pipe(Effect.scoped))
})

describe.skipIf(postgresUrl === undefined)("Postgres: change detection sees other processes only", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("a store's own commits never move its token nor notify it, even while a token read overlaps them; another store's do", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const store = Context.get(yield* Layer.build(openStore(location)), Store)
      const other = Context.get(yield* Layer.build(openStore(location)), Store)
      let notified = 0
      yield* store.capabilities.commitNotifications!(() => void notified++)
      yield* Effect.sleep("200 millis")
      const token = store.capabilities.changeToken!
      const before = yield* token
      notified = 0
      // Commits back to back (group commits and single-statement writes), token reads meanwhile:
      // a read often answers while a commit's answer is still on its way.
      const commits = yield* Effect.forkChild(Effect.forEach(Array.from({ length: 60 }, (_, i) => i), (i) =>
        i % 3 === 0
          ? store.runtime.upsertTopic(`t${i}`, {}, i)
          : Effect.asVoid(store.runtime.commit({ now: i, appends: [draft(`own${i}`)], progress: [], deliveries: [], deadLetters: [] })), { concurrency: 4, discard: true }))
      const seen = new Set<number>()
      while (commits.pollUnsafe() === undefined) seen.add(yield* token)
      yield* Fiber.join(commits)
      seen.add(yield* token)
      assert.deepStrictEqual([...seen], [before], "own commits leave the token alone")
      yield* Effect.sleep("200 millis")
      assert.strictEqual(notified, 0, "own notifications are dropped")
      yield* other.runtime.commit({ now: 1, appends: [draft("theirs")], progress: [], deliveries: [], deadLetters: [] })
      assert.notStrictEqual(yield* token, before, "another store's commit moves it")
      const deadline = performance.now() + 2000
      while (notified === 0 && performance.now() < deadline) yield* Effect.sleep("10 millis")
      assert.isAbove(notified, 0, "and notifies")
    }).pipe(Effect.scoped))
})

describe.skipIf(postgresUrl === undefined)("Postgres: a consumer's page cut by bytes on the server", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("readPage stops before the event that would bring the page above maxBytes; the first event always comes", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const store = Context.get(yield* Layer.build(openStore(location)), Store)
      assert.isTrue(store.runtime.pageBytes)
      // Payloads of 10, 20, 30, 40 and 50 bytes ("é" is two bytes in UTF-8, one JavaScript char).
      const sizes = [10, 20, 30, 40, 50]
      const drafts = sizes.map((n, i) => ({ ...draft(`e${i}`), payload: JSON.stringify("x".repeat(n - 4) + "é") }))
      yield* store.runtime.commit({ now: 1, appends: drafts, progress: [], deliveries: [], deadLetters: [] })
      const ids = (after: number, limit: number, maxBytes?: number) =>
        Effect.map(store.runtime.readPage("t", after, limit, maxBytes), (p) => p.events.map((e) => e.id))
      assert.deepStrictEqual(yield* ids(0, 10, 60), ["e0", "e1", "e2"], "10 + 20 + 30 = 60 bytes: the 40-byte event would pass it")
      assert.deepStrictEqual(yield* ids(0, 10, 59), ["e0", "e1"])
      assert.deepStrictEqual(yield* ids(0, 10, 60.75), ["e0", "e1", "e2"], "a room counted in average event sizes has fractions")
      assert.deepStrictEqual(yield* ids(0, 2, 1000), ["e0", "e1"], "the count still bounds it")
      assert.deepStrictEqual(yield* ids(3, 10, 1), ["e3"], "a first event larger than maxBytes comes alone")
      assert.deepStrictEqual(yield* ids(0, 10), ["e0", "e1", "e2", "e3", "e4"], "without maxBytes, by count alone")
      assert.deepStrictEqual(yield* ids(5, 10, 100), [])
    }).pipe(Effect.scoped))
})

describe.skipIf(postgresUrl === undefined)("Postgres: relaxed commits (lease marks)", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("a relaxed batch is stored but announces nothing: another process's change token does not move", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const mine = Context.get(yield* Layer.build(openStore(location)), Store)
      const other = Context.get(yield* Layer.build(openStore(location)), Store)
      yield* mine.runtime.commit({ now: 1, appends: [draft("a")], progress: [], deliveries: [], deadLetters: [] })
      yield* mine.runtime.initCursor("g", "t", 0, 1)
      assert.isTrue(yield* mine.runtime.claimLease({ group: "g", expectedOwner: null, owner: "me", pid: null, host: null, expiresAt: 60_000, now: 1 }))
      const token = yield* other.capabilities.changeToken!
      yield* mine.runtime.commit({
        now: 2, appends: [], deliveries: [], deadLetters: [], relaxed: true,
        progress: [{ group: "g", owner: "me", topic: "t", floor: 0, acked: [], leasedUpto: 1 }]
      })
      assert.strictEqual((yield* mine.runtime.getCursor("g", "t"))?.leasedUpto, 1, "stored")
      assert.strictEqual(yield* other.capabilities.changeToken!, token, "not announced")
      yield* mine.runtime.commit({ now: 3, appends: [draft("b")], progress: [], deliveries: [], deadLetters: [] })
      assert.notStrictEqual(yield* other.capabilities.changeToken!, token, "a write is")
    }).pipe(Effect.scoped))
})

describe.skipIf(postgresUrl === undefined)("Postgres: handler transactions", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("a handler transaction interrupted while it opens (a run timed out, a session ended) leaves no connection idle in its transaction and no permit taken", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const app = `sib_begin_${process.pid}_${Date.now()}`
      const url = new URL(location)
      url.searchParams.set("application_name", app)
      // A pool of 3: one handler transaction at a time.
      const store = Context.get(yield* Layer.build(openStore(url.toString(), { maxConnections: 3 })), Store)
      const beginIn = (slot: { current: HandlerTransaction | undefined }) => Effect.provideService(store.runtime.beginTransaction, TransactionSlot, slot)
      for (let i = 0; i < 40; i++) {
        // Each opening has its slot, as each worker does.
        const slot: { current: HandlerTransaction | undefined } = { current: undefined }
        const opening = yield* Effect.forkChild(beginIn(slot))
        // Interrupted at every stage of opening: waiting for a connection, connecting, in BEGIN.
        for (let y = 0; y < i % 8; y++) yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
        yield* Fiber.interrupt(opening)
        const exit = opening.pollUnsafe()
        // Opened before the interruption: the caller's to roll back, as a worker does when it ends.
        if (exit !== undefined && exit._tag === "Success") yield* exit.value.rollback
        else if (slot.current !== undefined) yield* slot.current.rollback
      }
      yield* Effect.sleep("300 millis")
      const probe = new pg.Client({ connectionString: postgresUrl! })
      yield* Effect.promise(() => probe.connect())
      const idle = yield* Effect.promise(() => probe.query("select count(*)::int as n from pg_stat_activity where application_name = $1 and state = 'idle in transaction'", [app]))
      yield* Effect.promise(() => probe.end())
      assert.strictEqual(idle.rows[0].n, 0, "connections left idle in a transaction")
      // The one permit is free: a transaction opens at once.
      const tx = yield* beginIn({ current: undefined }).pipe(Effect.timeout("2 seconds"))
      yield* tx.rollback
    }).pipe(Effect.scoped), 30_000)
})
