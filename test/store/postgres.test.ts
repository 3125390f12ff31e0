/**
 * What the Postgres dialect must prove beyond the conformance suite: events become visible in seq
 * order with no gap filled later, although several connections write. A transaction that holds
 * the writers' lock with an event inserted and not committed keeps every other writer waiting, so a
 * consumer never reads past it (issue 12). Skipped (and reported so) without SIB_TEST_POSTGRES_URL.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer } from "effect"
import pg from "pg"
import { openStore } from "../../src/store/open.ts"
import { writersLock } from "../../src/store/postgres/PostgresStore.ts"
import type { EventDraft } from "../../src/store/records.ts"
import { Store } from "../../src/store/Store.ts"
import { postgresFactory, postgresUrl } from "../helpers/stores.ts"

const draft = (id: string): EventDraft => ({
  id, ts: 1000, topic: "t", key: null, partition: null, headers: null, payload: "{}", causedBy: null, tags: null, sid: "s"
})

describe.skipIf(postgresUrl === undefined)("Postgres: seq order is visibility order", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")

  it.live("a transaction that appended and is still open holds back later appends; the consumer never passes it", () =>
    Effect.gen(function*() {
      const location = factory.shared()
      const schema = new URL(location).searchParams.get("schema")!
      yield* Effect.addFinalizer(() => Effect.promise(async () => factory.drop(location)))
      const store = Context.get(yield* Layer.build(openStore(location)), Store)
      // Transaction A, as the store's own writers do: the lock, then the insert; left open.
      const a = new pg.Client({ connectionString: postgresUrl!, options: `-c search_path=${schema}` })
      yield* Effect.promise(() => a.connect())
      yield* Effect.addFinalizer(() => Effect.promise(() => a.end()))
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
