/**
 * Out-of-order acks stored before a crash survive the next session: a recovered group whose
 * stored cursor holds an acked range between two events still to run keeps that range through its
 * flushes and its clean stop, so the range's events are never delivered again. Real SQLite file,
 * the Promise runtime.
 */
import SqliteDatabase from "better-sqlite3"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { createRuntime } from "../../src/index.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

describe("stored acked ranges across a recovery", () => {
  it("events acked before the crash are not redelivered after a clean stop of the recovered group", async () => {
    const db = join(makeTmpDir(), "bus.db")
    const rt1 = await createRuntime({ db })
    await rt1.publishAll(Array.from({ length: 20 }, (_, i) => ({ topic: "t", payload: i + 1, key: `k${i + 1}` })))
    await rt1.close()
    // As a crashed owner on another host would leave it: 5-10 acked out of order, 1-20 leased.
    const raw = new SqliteDatabase(db)
    raw.prepare("insert into consumer_groups (grp, owner_sid, owner_pid, owner_host, lease_expires_at, created_at, updated_at) values ('g', 'dead', 999999, 'elsewhere', 0, 0, 0)").run()
    raw.prepare("insert into cursors (topic, grp, floor, acked, leased_upto, updated_at) values ('t', 'g', 0, '[[5,10]]', 20, 0)").run()
    const stored = () => raw.prepare("select floor, acked from cursors where grp = 'g'").get()

    const run = async (failing: ReadonlySet<number>) => {
      const rt = await createRuntime({ db })
      const seen: Array<number> = []
      const unsubscribe = await rt.subscribe("t", "g", async (e) => {
        seen.push(e.seq)
        if (failing.has(e.seq)) throw new Error("not yet")
      }, { from: "earliest", backoff: { initialMs: 600_000, maxMs: 600_000, jitter: 0 }, commitIntervalMs: 5 })
      for (let i = 0; i < 400 && seen.length < 20 - 6; i++) await new Promise((resolve) => setTimeout(resolve, 5))
      await new Promise((resolve) => setTimeout(resolve, 50))
      await unsubscribe()
      await rt.close()
      return seen
    }
    // 4 and 11 fail and wait ten minutes for their retry: 5-10 stay an acked range between them.
    const first = await run(new Set([4, 11]))
    expect(first.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
    expect(stored()).toEqual({ floor: 3, acked: "[[5,10],[12,20]]" })
    const second = await run(new Set())
    expect(second.filter((seq) => seq >= 5 && seq <= 10)).toEqual([])
    expect(stored()).toEqual({ floor: 3, acked: "[[5,10],[12,20]]" })
    raw.close()
  })
})
