/**
 * The `sibus/promise` entry on its own: every error class the Promise API rejects with is exported
 * from it as a value (so `instanceof` works, as the README tells Promise users to check errors),
 * together with `renderTestReport`; each is checked against a real rejection, on a real SQLite file.
 */
import SqliteDatabase from "better-sqlite3"
import { Kysely, SqliteDialect } from "kysely"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import {
  AckError,
  BusClosedError,
  BusOptionsError,
  createOutbox,
  createRuntime,
  GroupError,
  HttpServeError,
  MaintenanceError,
  OutboxAddError,
  OutboxDbError,
  OutboxOptionsError,
  PublishError,
  renderTestReport,
  type Runtime,
  runSibTests,
  SibError,
  StoreError,
  StoreOpenError,
  SubscribeError,
  TopicError
} from "../src/promise.ts"
import { makeTmpDir } from "./helpers/tmp.ts"

describe("sibus/promise exports the errors its calls reject with", () => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })

  it("each class is a value there, with its tag", () => {
    const classes = {
      AckError, BusClosedError, BusOptionsError, GroupError, HttpServeError, MaintenanceError, OutboxAddError, OutboxDbError, OutboxOptionsError,
      PublishError, SibError, StoreError, StoreOpenError, SubscribeError, TopicError
    }
    for (const [name, value] of Object.entries(classes)) {
      expect(typeof value, name).toBe("function")
      expect((new (value as new(args: object) => { _tag: string })({}))._tag, name).toBe(name)
    }
  })

  it("a rejection of each kind is an instance of the class exported here", async () => {
    const dir = makeTmpDir()
    const db = join(dir, "events.db")
    await expect(createRuntime({ db, bogus: 1 } as never)).rejects.toBeInstanceOf(BusOptionsError)
    await expect(createRuntime({ db: join(dir, "missing.db"), existing: true })).rejects.toBeInstanceOf(StoreOpenError)
    const rt = await createRuntime({ db, busyTimeoutMs: 50, maintenance: false })
    open.push(rt)
    await expect(rt.publish("bad topic", 1)).rejects.toBeInstanceOf(PublishError)
    await expect(rt.subscribe("t", "g", () => {}, { bogus: 1 } as never)).rejects.toBeInstanceOf(SubscribeError)
    await expect(rt.ack("g", "nope")).rejects.toBeInstanceOf(AckError)
    await expect(rt.read("bad topic", 0, 1)).rejects.toBeInstanceOf(TopicError)
    await expect(rt.requeue("g", 5 as never)).rejects.toBeInstanceOf(GroupError)
    await expect(rt.compact(5 as never)).rejects.toBeInstanceOf(MaintenanceError)
    await expect(rt.serveHttp({ port: 70_000 })).rejects.toBeInstanceOf(HttpServeError)
    await expect(rt.load([{ file: "bad.sib", text: "(" }])).rejects.toBeInstanceOf(SibError)

    // Another connection holds the write lock past the busy timeout: the publish fails in the database.
    const other = new SqliteDatabase(db)
    other.exec("begin immediate")
    try {
      await expect(rt.publish("t", 1)).rejects.toBeInstanceOf(StoreError)
    } finally {
      other.exec("rollback")
      other.close()
    }

    const app = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, "app.db")) }) })
    try {
      await expect(createOutbox({ db: app, table: "no such table!" })).rejects.toBeInstanceOf(OutboxOptionsError)
      const outbox = await createOutbox({ db: app })
      await expect(app.transaction().execute((trx) => outbox.add(trx, { topic: "bad topic", payload: 1 }))).rejects.toBeInstanceOf(OutboxAddError)
    } finally {
      await app.destroy()
    }

    await rt.close()
    await expect(rt.publish("t", 1)).rejects.toBeInstanceOf(BusClosedError)
  })

  it("renderTestReport renders runSibTests' report", async () => {
    const report = await runSibTests([{ file: "t.sib", text: `(deftest "adds" (expect= 4 (+ 2 2)))\n` }])
    expect(renderTestReport(report)).toMatch(/^ok +adds \(t\.sib:1\)\n1 passed, 0 failed$/)
  })
})
