/**
 * Issue 13's scenario 6, on SQLite: a long reader (another connection holding a read transaction
 * open) while members of a partitioned group run and publishers stream. The reader stops every
 * checkpoint from finishing, so the WAL grows past its cap (1 MiB here); no error reaches a
 * publisher, the history checker finds no anomaly, and within seconds of the reader ending the WAL
 * is truncated back under its cap. 8 s of reading in `npm test`, 60 s with SIB_SLOW=1.
 */
import SqliteDatabase from "better-sqlite3"
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createRuntime } from "../../src/promise.ts"
import { fixture, sleep, spawnNode } from "../helpers/child.ts"
import { sqliteFactory } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { readHistory } from "./history.ts"
import { childEnv, drainAndCheckAt } from "./scenario.ts"

const slow = process.env.SIB_SLOW === "1"
const cap = 1024 * 1024

describe("a long reader during publishing (sqlite)", () => {
  let dir: string
  let db: string
  let logs: string
  beforeEach(async () => {
    dir = makeTmpDir()
    db = sqliteFactory.shared()
    logs = join(dir, "history")
    mkdirSync(logs)
    const setup = await createRuntime({ db })
    await setup.defineTopic("in", { partitions: 4 })
    await setup.close()
  })
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true })
    await sqliteFactory.drop(db)
  })

  const readMs = slow ? 60_000 : 8000
  it(`a read transaction open for ${readMs / 1000} s: no publisher error, no anomaly, the WAL back under its cap once it ends`, async () => {
    const env = { ...childEnv, SIB_TEST_WAL_LIMIT: String(cap) }
    const stop = join(dir, "stop")
    const members = [0, 1].map(() => spawnNode(fixture("history-member.ts"), [db, logs], env))
    const publishers = [1, 2].map((seed) => spawnNode(fixture("history-publisher.ts"), [db, logs, stop, String(seed)], env))
    const wal = `${db}-wal`
    const walSize = () => (existsSync(wal) ? statSync(wal).size : 0)
    // Start reading once the publishers are publishing.
    const started = Date.now() + 60_000
    while (!publishers.every((p) => readHistory(logs).some((r) => r.k === "resolved" && r.pid === p.process.pid))) {
      if (Date.now() > started) throw new Error("the publishers published nothing")
      await sleep(50)
    }
    const reader = new SqliteDatabase(db, { readonly: true })
    reader.exec("BEGIN")
    reader.prepare("select count(*) from events").get()
    let largest = 0
    const until = Date.now() + readMs
    while (Date.now() < until) {
      largest = Math.max(largest, walSize())
      await sleep(100)
    }
    reader.exec("COMMIT")
    reader.close()
    const ended = Date.now()
    // Within seconds of the reader ending, a checkpoint truncates the WAL under its cap (it may grow
    // again meanwhile, but not past the cap while nobody holds it back).
    const back = Date.now() + 10_000
    while (walSize() > cap) {
      if (Date.now() > back) throw new Error(`the WAL stayed at ${walSize()} bytes after the reader ended (cap ${cap})`)
      await sleep(100)
    }
    const backMs = Date.now() - ended
    writeFileSync(stop, "")
    for (const p of publishers) expect((await p.exited).code).toBe(0)
    const { verdict, history } = await drainAndCheckAt(db, "long reader", logs, members, [])
    expect(largest, "the reader held the WAL past its cap").toBeGreaterThan(cap)
    expect(history.filter((r) => r.k === "failed"), "an error reached a publisher").toEqual([])
    expect(verdict.anomalies).toEqual([])
    expect(verdict.redeliveries).toBe(0)
    if (process.env.SIB_HISTORY_REPORT === "1") {
      console.log(`sqlite: reader ${readMs / 1000} s, WAL up to ${(largest / 2 ** 20).toFixed(1)} MiB (cap 1 MiB), back under it ${backMs} ms after the reader ended; ${verdict.events} events checked, anomalies 0`)
    }
  }, 240_000)
})
