/**
 * WAL checkpoints run in a worker thread (`checkpointer.ts`): a commit never copies the WAL into
 * the database file itself (below the safety size), and the worker does, soon after, on the
 * Clock. Live clock: the worker is a real thread.
 */
import { assert, describe, it } from "@effect/vitest"
import SqliteDatabase from "better-sqlite3"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { statSync } from "node:fs"
import { join } from "node:path"
import { Bus } from "../../src/facade/Bus.ts"
import { makeTmpDir, tmpDb } from "../helpers/tmp.ts"

const sizeOf = (path: string) => {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/** Pages of the WAL not yet copied into the database file, as another connection sees them. */
const pendingPages = (filename: string) => {
  const db = new SqliteDatabase(filename)
  try {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ busy: number; log: number; checkpointed: number }>
    return row!.log - row!.checkpointed
  } finally {
    db.close()
  }
}

describe("SQLite checkpoints off the event loop", () => {
  it.live("a commit of more than SQLite's 1,000-page threshold leaves the copy to the worker, which makes it within moments", () =>
    Effect.gen(function*() {
      const filename = yield* tmpDb
      yield* Effect.gen(function*() {
        const bus = yield* Bus
        yield* bus.publish("t", { n: 0 })
        yield* Effect.sleep(300)
        const before = sizeOf(filename)
        // About 6 MiB of events in one transaction: past 1,000 pages of 4 KiB.
        const text = "x".repeat(2000)
        yield* bus.publishAll(Array.from({ length: 3000 }, (_, i) => ({ topic: "t", payload: { n: i, text } })))
        assert.isAbove(sizeOf(`${filename}-wal`), 4_000_000, "the WAL holds the batch")
        assert.isBelow(sizeOf(filename), before + 1_000_000, "the commit did not copy the WAL into the database file")
        // The worker looks every 100 ms.
        for (let i = 0; i < 50 && sizeOf(filename) < before + 5_000_000; i++) yield* Effect.sleep(100)
        assert.isAbove(sizeOf(filename), before + 5_000_000, "the worker copied the batch into the database file")
        assert.strictEqual((yield* bus.read("t", 0, 5000)).length, 3001)
      }).pipe(Effect.provide(Bus.open(filename, { metrics: false, maintenance: false })))
      // Closed: the store's connection was the last one, so the WAL is gone and nothing is pending.
      assert.strictEqual(sizeOf(`${filename}-wal`), 0)
      assert.strictEqual(pendingPages(filename), 0)
    }))

  it("the worker starts in a process run with --input-type=module too (an eval'd worker is then an ES module)", () => {
    const filename = join(makeTmpDir(), "bus.db")
    const promise = join(import.meta.dirname, "..", "..", "src", "promise.ts")
    const script = `
      const { createRuntime } = await import(${JSON.stringify(promise)})
      const rt = await createRuntime({ db: ${JSON.stringify(filename)}, maintenance: false })
      for (let b = 0; b < 5; b++) await rt.publishAll(Array.from({ length: 1000 }, (_, i) => ({ topic: "t", payload: { i, pad: "x".repeat(200) } })))
      await new Promise((resolve) => setTimeout(resolve, 1000))
      await rt.close()
    `
    const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    // A worker that fails to start says so and falls back to checkpointing in the process.
    assert.notInclude(output, "checkpoint")
  })
})
