/** What only the SQLite store has (the conformance suite runs on it from `conformance.test.ts`). */
import { assert, describe, it } from "@effect/vitest"
import SqliteDatabase from "better-sqlite3"
import { Effect, Exit, Fiber } from "effect"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { Kysely, SqliteDialect } from "kysely"
import { Migrator } from "kysely/migration"
import { migration0001 } from "../../src/store/migrations/0001_initial.ts"
import { migrations } from "../../src/store/migrations/index.ts"
import * as Sqlite from "../../src/store/sqlite/SqliteStore.ts"
import { type HandlerTransaction, TransactionSlot } from "../../src/store/Store.ts"
import { tmpDb, tmpDir } from "../helpers/tmp.ts"
import { draft, emptyBatch } from "./conformance.ts"


describe("SQLite store", () => {
  it.effect("uses WAL, the chosen synchronous level and a busy timeout", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      yield* Effect.scoped(Sqlite.make({ filename, synchronous: "FULL", busyTimeoutMs: 1234 }))
      const db = new SqliteDatabase(filename)
      assert.strictEqual(db.pragma("journal_mode", { simple: true }), "wal")
      db.close()
    }))

  it.effect("the page cache: pageCacheBytes sizes it; a connection the application hands in keeps its own unless told", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      const own = new SqliteDatabase(filename)
      const before = own.pragma("cache_size", { simple: true })
      yield* Effect.scoped(Sqlite.make({ filename, database: own }))
      assert.strictEqual(own.pragma("cache_size", { simple: true }), before)
      yield* Effect.scoped(Sqlite.make({ filename, database: own, pageCacheBytes: 1024 * 1024 }))
      // A negative cache_size is in KiB.
      assert.strictEqual(own.pragma("cache_size", { simple: true }), -1024)
      own.close()
    }))

  it.effect("data survives reopening; seqs continue after the last one", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      const first = yield* Effect.scoped(Effect.flatMap(Sqlite.make({ filename }), (s) => s.runtime.commit({ ...emptyBatch, appends: [draft("a", "t", 1)] })))
      const second = yield* Effect.scoped(Effect.gen(function*() {
        const store = yield* Sqlite.make({ filename })
        assert.strictEqual((yield* store.admin.readTopic("t", 0, 10))[0]?.id, "a")
        return yield* store.runtime.commit({ ...emptyBatch, appends: [draft("b", "t", 1)] })
      }))
      assert.isTrue(second.appended[0]!.seq > first.appended[0]!.seq)
    }))

  it.effect("one connection: while a handler transaction is open, other fibers' calls wait for it to end", () =>
    Effect.gen(function*() {
      const store = yield* Sqlite.make({ filename: ":memory:" })
      const slot = { current: undefined as HandlerTransaction | undefined }
      const open = yield* Effect.provideService(store.runtime.beginTransaction, TransactionSlot, slot)
      const other = yield* Effect.forkChild(Effect.provideService(store.runtime.commit({ ...emptyBatch, appends: [draft("other", "t", 1)] }), TransactionSlot, { current: undefined }))
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isUndefined(other.pollUnsafe(), "the other commit waits")
      yield* open.commit(emptyBatch)
      const done = yield* Fiber.join(other)
      assert.strictEqual(done.appended.length, 1)
    }))

  it.effect("read-only: reads what a writer committed, refuses writes, never opens :memory:", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      const writer = yield* Sqlite.make({ filename })
      yield* writer.runtime.commit({ ...emptyBatch, appends: [draft("a", "t", 1)] })
      const reader = yield* Sqlite.make({ filename, readOnly: true })
      assert.strictEqual((yield* reader.admin.readTopic("t", 0, 10))[0]?.id, "a")
      const before = yield* reader.capabilities.changeToken!
      yield* writer.runtime.commit({ ...emptyBatch, appends: [draft("b", "t", 2)] })
      assert.notStrictEqual(yield* reader.capabilities.changeToken!, before, "a reader sees other connections' commits")
      const refused = yield* Effect.flip(reader.runtime.commit({ ...emptyBatch, appends: [draft("c", "t", 3)] }))
      assert.match(String(refused.cause), /readonly/)
      const memory = yield* Effect.flip(Effect.scoped(Sqlite.make({ filename: ":memory:", readOnly: true })))
      assert.match(memory.message, /cannot be opened read-only/)
    }))

  it.effect("the change token moves when another connection commits", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      const store = yield* Sqlite.make({ filename })
      const before = yield* store.capabilities.changeToken!
      assert.strictEqual(yield* store.capabilities.changeToken!, before)
      const other = new SqliteDatabase(filename)
      other.prepare("insert into topics (name, config, created_at, updated_at) values ('x', '{}', 1, 1)").run()
      other.close()
      assert.notStrictEqual(yield* store.capabilities.changeToken!, before)
    }))

  it.effect("an unopenable path fails with StoreOpenError(unreadable) and a readable message", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.scoped(Sqlite.make({ filename: "/nonexistent-dir/sub/bus.db" })))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Effect.scoped(Sqlite.make({ filename: "/nonexistent-dir/sub/bus.db" })))
      assert.strictEqual(error.reason, "unreadable")
      assert.match(error.message, /cannot open database \/nonexistent-dir\/sub\/bus\.db/)
    }))

  it.effect("a file that is not a database is refused", () =>
    Effect.gen(function*() {
      const dir = yield* tmpDir
      const filename = join(dir, "junk.db")
      writeFileSync(filename, "this is not a sqlite database, just some text that is long enough to have a header".repeat(20))
      const error = yield* Effect.flip(Effect.scoped(Sqlite.make({ filename })))
      assert.strictEqual(error.reason, "unreadable")
    }))

  it.effect("migration 0002 upgrades a database of the previous schema: cursors keep their place, nothing skipped, tombstones found", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      const kysely = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(filename) }) })
      const migrated = yield* Effect.promise(() =>
        new Migrator({ db: kysely, provider: { getMigrations: () => Promise.resolve({ "0001_initial": migration0001("sqlite") }) } }).migrateToLatest()
      )
      assert.isUndefined(migrated.error)
      yield* Effect.promise(() => kysely.insertInto("events").values({ id: "a", ts: 1, topic: "t", key: "k", payload: "null" }).execute())
      yield* Effect.promise(() =>
        kysely.insertInto("cursors").values({ topic: "t", grp: "g", floor: 1, acked: null, leased_upto: 1, updated_at: 1 }).execute()
      )
      yield* Effect.promise(() => kysely.destroy())

      const store = yield* Sqlite.make({ filename })
      assert.deepStrictEqual((yield* store.admin.groupPositions).map((p) => [p.cursor.group, p.cursor.floor, p.skipped]), [["g", 1, 0]])
      const r = yield* store.maintenance.compactStep({ topic: "t", from: { phase: "tombstones", seq: 0 }, limit: 10, now: 1, deleteRetentionMs: 0 })
      assert.strictEqual(r.tombstones, 1)
      assert.deepStrictEqual(yield* store.admin.readTopic("t", 0, 10), [])
    }))

  it.effect("a database migrated by a newer version is refused and left untouched", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      yield* Effect.scoped(Sqlite.make({ filename }))
      const db = new SqliteDatabase(filename)
      db.prepare("insert into kysely_migration (name, timestamp) values ('9999_future', 'x')").run()
      db.close()
      const error = yield* Effect.flip(Effect.scoped(Sqlite.make({ filename })))
      assert.strictEqual(error.reason, "newer")
      assert.match(error.message, /newer version of sibus .*9999_future/)
      const check = new SqliteDatabase(filename)
      assert.strictEqual((check.prepare("select count(*) n from kysely_migration").get() as { n: number }).n, Object.keys(migrations("sqlite")).length + 1)
      check.close()
    }))
})
