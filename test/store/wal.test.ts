/**
 * The WAL under a long reader (issue 13's scenario 6, on one process): while another connection
 * keeps a read transaction open, publishing grows the WAL past its limit (no publish fails) and a
 * warning names the cause; once the reader ends, the WAL is back under the limit within the guard's
 * interval, even with nothing published meanwhile. On the TestClock: the guard looks every second.
 */
import { assert, describe, it } from "@effect/vitest"
import SqliteDatabase from "better-sqlite3"
import { Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { statSync } from "node:fs"
import { Bus } from "../../src/facade/Bus.ts"
import { tmpDb } from "../helpers/tmp.ts"

const walSize = (filename: string) => {
  try {
    return statSync(`${filename}-wal`).size
  } catch {
    return 0
  }
}

describe("SQLite WAL limit", () => {
  it.effect("a long reader lets the WAL grow, with a warning; it is truncated under the limit once the reader ends", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      const limit = 1024 * 1024
      const logs: Array<string> = []
      const logger = Logger.make((options) => {
        logs.push(String(options.message))
      })
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        yield* bus.publish("t", { n: 0 })
        // Another connection holds a snapshot from before the publishes that follow.
        const reader = new SqliteDatabase(filename)
        reader.exec("BEGIN")
        reader.prepare("select count(*) from events").get()
        for (let i = 1; i <= 3000; i++) yield* bus.publish("t", { n: i, text: "x".repeat(200) })
        const grown = walSize(filename)
        assert.isAbove(grown, 2 * limit, "the WAL grew past the limit while the reader held its snapshot")
        yield* TestClock.adjust(1000)
        assert.isTrue(logs.some((l) => /WAL of .* past its limit of 1\.0 MiB/.test(l) && /read transaction/.test(l)), logs.join("\n"))
        assert.isAbove(walSize(filename), limit, "nothing is truncated while the reader holds its snapshot")
        // The reader ends; nothing more is published. Within one look the WAL is back under the limit.
        reader.exec("COMMIT")
        reader.close()
        yield* TestClock.adjust(1000)
        assert.isAtMost(walSize(filename), limit)
        assert.isTrue(logs.some((l) => /back to/.test(l)), logs.join("\n"))
        // Nothing was lost.
        const page = yield* bus.read("t", 0, 5000)
        assert.strictEqual(page.length, 3001)
      }).pipe(Effect.provide(Bus.open(filename, { walLimitBytes: limit, metrics: false }).pipe(Layer.provideMerge(Logger.layer([logger])))))
    }))
})
