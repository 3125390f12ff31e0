/**
 * Another connection holding SQLite's write lock: a call waits for it on the Clock, past a short
 * synchronous wait, so the process goes on meanwhile (timers, HTTP, other groups); it fails once
 * `busyTimeoutMs` have passed. Before, better-sqlite3's busy handler slept inside each call for the
 * whole busy timeout: the process froze (and a lock released by the same process's own timer could
 * never be).
 */
import { describe, expect, it } from "vitest"
import SqliteDatabase from "better-sqlite3"
import { join } from "node:path"
import { createRuntime, StoreError } from "../../src/index.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

/** Holds the write lock of `file` from another connection until `ms` have passed (on a timer of this process). */
const holdLock = (file: string, ms: number) => {
  const other = new SqliteDatabase(file)
  other.exec("begin immediate")
  return new Promise<void>((resolve) =>
    setTimeout(() => {
      other.exec("rollback")
      other.close()
      resolve()
    }, ms)
  )
}

/** The longest gap between ticks of a 10 ms interval while `f` runs. */
const longestPause = async <A>(f: () => Promise<A>): Promise<{ readonly value: A | unknown; readonly pauseMs: number }> => {
  let last = performance.now()
  let longest = 0
  const tick = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 10)
  try {
    const value = await f().catch((e: unknown) => e)
    return { value, pauseMs: Math.max(longest, performance.now() - last) }
  } finally {
    clearInterval(tick)
  }
}

describe("a write lock held by another connection", () => {
  it("a publish waits for it without holding the process, and is written once it is released", async () => {
    const file = join(makeTmpDir(), "bus.db")
    const rt = await createRuntime({ db: file })
    try {
      await rt.publish("t", 0)
      const released = holdLock(file, 1200)
      const t0 = performance.now()
      const { value, pauseMs } = await longestPause(() => rt.publish("t", 1))
      await released
      expect(value).toMatchObject({ topic: "t", payload: 1 })
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1100)
      expect(pauseMs, "the longest the process was held").toBeLessThan(300)
      expect((await rt.read("t", 0, 10)).map((e) => e.payload)).toEqual([0, 1])
    } finally {
      await rt.close()
    }
  }, 20_000)

  it("fails with a StoreError once busyTimeoutMs have passed, having held the process for none of it", async () => {
    const file = join(makeTmpDir(), "bus.db")
    const rt = await createRuntime({ db: file, busyTimeoutMs: 300 })
    try {
      await rt.publish("t", 0)
      const released = holdLock(file, 1500)
      const t0 = performance.now()
      const { value, pauseMs } = await longestPause(() => rt.publish("t", 1))
      const waited = performance.now() - t0
      await released
      expect(value).toBeInstanceOf(StoreError)
      expect(String((value as Error).message)).toMatch(/database is locked/)
      expect(waited).toBeGreaterThanOrEqual(250)
      expect(waited).toBeLessThan(1400)
      expect(pauseMs).toBeLessThan(200)
      expect((await rt.read("t", 0, 10)).map((e) => e.payload)).toEqual([0])
    } finally {
      await rt.close()
    }
  }, 20_000)
})
