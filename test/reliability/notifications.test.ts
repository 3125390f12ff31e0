/**
 * Issue 13's scenario 4, on Postgres: wake-ups that go missing. Members of a partitioned group
 * ("in", 8 partitions) and paced publishers run while (a) the members' LISTEN connections are
 * terminated by the server every 300 ms, or (b) no member listens at all (`?listen=false`: the
 * `pollIntervalMs` poll of the change counter is all there is). A lost notification may cost
 * latency, never events: the history checker finds no anomaly and nothing runs twice. Skipped
 * (and reported so) without SIB_TEST_POSTGRES_URL.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import pg from "pg"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createRuntime } from "../../src/promise.ts"
import { fixture, sleep, spawnNode } from "../helpers/child.ts"
import { postgresFactory } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { readHistory } from "./history.ts"
import { childEnv, drainAndCheckAt } from "./scenario.ts"

const url = process.env["SIB_TEST_POSTGRES_URL"]

describe.skipIf(url === undefined)("lost notifications on Postgres, checked by the history checker", () => {
  const factory = postgresFactory(url!)
  let dir: string
  let db: string
  let logs: string
  beforeEach(async () => {
    dir = makeTmpDir()
    db = factory.shared()
    logs = join(dir, "history")
    mkdirSync(logs)
    const setup = await createRuntime({ db })
    await setup.defineTopic("in", { partitions: 8 })
    await setup.close()
  })
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true })
    await factory.drop(db)
  })

  /** Members on `location`, two paced publishers for `ms`, then a drain and the check. */
  const scenario = async (location: string, ms: number, meanwhile: () => Promise<void> = async () => {}) => {
    const stop = join(dir, "stop")
    const members = [0, 1, 2].map(() => spawnNode(fixture("history-member.ts"), [location, logs], childEnv))
    const publishers = [1, 2].map((seed) => spawnNode(fixture("history-publisher.ts"), [db, logs, stop, String(seed)], childEnv))
    // The time counts from the publishers' first events (starting processes can take seconds under load).
    const started = Date.now() + 60_000
    while (!publishers.every((p) => readHistory(logs).some((r) => r.k === "resolved" && r.pid === p.process.pid))) {
      if (Date.now() > started) throw new Error("the publishers published nothing")
      await sleep(50)
    }
    const until = Date.now() + ms
    while (Date.now() < until) await meanwhile()
    writeFileSync(stop, "")
    for (const p of publishers) expect((await p.exited).code).toBe(0)
    return drainAndCheckAt(db, "scenario 4", logs, members, [])
  }

  it("the LISTEN connections terminated every 300 ms: no anomaly, nothing run twice", async () => {
    const schema = new URL(db).searchParams.get("schema")!
    const admin = new pg.Client({ connectionString: url })
    await admin.connect()
    let terminated = 0
    try {
      const { verdict } = await scenario(db, 4000, async () => {
        await sleep(300)
        const r = await admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where query = $1 and pid <> pg_backend_pid()",
          [`listen "sibus_${schema}"`]
        )
        terminated += r.rowCount ?? 0
      })
      expect(verdict.anomalies).toEqual([])
      expect(verdict.redeliveries).toBe(0)
      expect(verdict.events).toBeGreaterThan(200)
      expect(terminated, "listeners were terminated (and reconnected)").toBeGreaterThan(5)
      if (process.env.SIB_HISTORY_REPORT === "1") console.log(`postgres: ${terminated} LISTEN connections terminated, ${verdict.events} events checked, ${verdict.redeliveries} redeliveries, anomalies 0`)
    } finally {
      await admin.end()
    }
  }, 180_000)

  it("no member listens (?listen=false): the poll alone delivers everything, no anomaly", async () => {
    const silent = `${db}${db.includes("?") ? "&" : "?"}listen=false`
    const { verdict } = await scenario(silent, 3000, async () => {
      await sleep(100)
    })
    expect(verdict.anomalies).toEqual([])
    expect(verdict.redeliveries).toBe(0)
    expect(verdict.events).toBeGreaterThan(200)
    if (process.env.SIB_HISTORY_REPORT === "1") console.log(`postgres, listen=false: ${verdict.events} events checked, ${verdict.redeliveries} redeliveries, anomalies 0`)
  }, 180_000)
})
