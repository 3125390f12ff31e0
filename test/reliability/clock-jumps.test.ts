/**
 * Issue 13's scenario 7: wall-clock jumps of an hour on one member, with Debian's libfaketime
 * (its monotonic clock left alone, as a clock step by NTP or an operator leaves CLOCK_MONOTONIC):
 * - a standby whose clock runs an hour ahead (or behind) steals no lease from a live owner, and a
 *   partitioned group's members an hour apart keep their shares (no member judged gone, nothing
 *   moved, nothing run twice); checked by the history checker;
 * - a member whose clock is stepped back an hour while a handler hangs still times that run out
 *   after `ackTimeoutMs` and runs it again.
 * On SQLite in `npm test`, on every conformance dialect with SIB_SLOW=1. Without libfaketime the
 * tests are reported as skipped (`.ci/run` installs it); `SIB_FAKETIME_LIB` names another path to it.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createRuntime } from "../../src/promise.ts"
import { type Child, fixture, sleep, spawnNode } from "../helpers/child.ts"
import { conformanceFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { readHistory } from "./history.ts"
import { childEnv, drainAndCheckAt } from "./scenario.ts"

const lib = process.env["SIB_FAKETIME_LIB"] ?? ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"]
  .find((p) => existsSync(p))
const missing = lib === undefined || !existsSync(lib)

/** The environment of a child whose wall clock is off by `offset` ("+1h", "-1h"), read from `file` (so it can be stepped). */
const fakeClock = (file: string, offset: string) => {
  writeFileSync(file, offset)
  return { ...childEnv, LD_PRELOAD: lib!, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" }
}

// Liveness and deadlines are judged in the runtime, on monotonic time, the same on every dialect:
// npm test runs these on SQLite; the long tier (SIB_SLOW=1) on Postgres too.
const dialects = process.env.SIB_SLOW === "1" ? conformanceFactories : conformanceFactories.filter((f) => f.name === "sqlite")

describe.skipIf(missing)("wall-clock jumps on one member (libfaketime)", () => {
  describe.each(dialects)("$name", (factory) => {
    let dir: string
    let db: string
    let logs: string
    beforeEach(() => {
      dir = makeTmpDir()
      db = factory.shared()
      logs = join(dir, "history")
      mkdirSync(logs)
    })
    afterEach(async () => {
      rmSync(dir, { recursive: true, force: true })
      await factory.drop(db)
    })
    const ran = (pid: number) => readHistory(logs).filter((r) => r.k === "run" && r.pid === pid)

    for (const offset of ["+1h", "-1h"]) {
      it(`a standby ${offset} steals no lease from a live owner; after the owner stops it takes over: no anomaly`, async () => {
        await (await createRuntime({ db })).close()
        const owner = spawnNode(fixture("history-member.ts"), [db, logs], childEnv)
        const stop = join(dir, "stop")
        const publisher = spawnNode(fixture("history-publisher.ts"), [db, logs, stop, "1"], childEnv)
        const deadline = Date.now() + 60_000
        while (ran(owner.process.pid!).length < 20) {
          if (Date.now() > deadline) throw new Error("the owner ran nothing")
          await sleep(50)
        }
        const standby = spawnNode(fixture("history-member.ts"), [db, logs], fakeClock(join(dir, "clock"), offset))
        // Three leases' worth of time: the owner renews, the standby must not take over.
        await sleep(3000)
        expect(ran(standby.process.pid!), "the standby took the lease from a live owner").toEqual([])
        owner.process.kill("SIGTERM")
        expect((await owner.exited).code).toBe(0)
        const takeover = Date.now() + 30_000
        while (ran(standby.process.pid!).length === 0) {
          if (Date.now() > takeover) throw new Error("the standby did not take over once the owner stopped")
          await sleep(50)
        }
        writeFileSync(stop, "")
        expect((await publisher.exited).code).toBe(0)
        const { verdict } = await drainAndCheckAt(db, `offset ${offset}`, logs, [standby], [])
        expect(verdict.anomalies).toEqual([])
        expect(verdict.redeliveries).toBe(0)
      }, 180_000)
    }

    it("partitioned: members an hour apart keep their shares; nothing moves, nothing runs twice", async () => {
      const setup = await createRuntime({ db })
      await setup.defineTopic("in", { partitions: 8 })
      await setup.close()
      const members: Array<Child> = [
        spawnNode(fixture("history-member.ts"), [db, logs], fakeClock(join(dir, "clock-a"), "+1h")),
        spawnNode(fixture("history-member.ts"), [db, logs], fakeClock(join(dir, "clock-b"), "-1h"))
      ]
      const stop = join(dir, "stop")
      const publisher = spawnNode(fixture("history-publisher.ts"), [db, logs, stop, "2"], childEnv)
      const partitionsOf = (pid: number) => new Set(ran(pid).flatMap((r) => (r.k === "run" && typeof r.partition === "number" ? [r.partition] : [])))
      const deadline = Date.now() + 60_000
      // Settled: each member runs a share, and they do not overlap.
      while (members.some((m) => partitionsOf(m.process.pid!).size === 0)) {
        if (Date.now() > deadline) throw new Error("the members did not both run events")
        await sleep(100)
      }
      // Each member's share: the partitions it ran over a second, once two seconds in a row showed
      // the same disjoint shares (the first member may run every partition until the second has
      // joined, and a hand-off takes a beat or two; under load, longer).
      const window = async () => {
        const from = members.map((m) => ran(m.process.pid!).length)
        await sleep(1000)
        return members.map((m, i) =>
          [...new Set(ran(m.process.pid!).slice(from[i]!).flatMap((r) => (r.k === "run" && typeof r.partition === "number" ? [r.partition] : [])))].sort())
      }
      const key = (shares: ReadonlyArray<ReadonlyArray<number>>) => JSON.stringify(shares)
      const settle = Date.now() + 30_000
      let last = await window()
      for (;;) {
        const next = await window()
        const disjoint = next[0]!.every((p) => !next[1]!.includes(p))
        if (key(next) === key(last) && disjoint && next.every((share) => share.length > 0 && share.length < 8)) break
        if (Date.now() > settle) throw new Error(`the members' shares did not settle: ${key(last)} then ${key(next)}`)
        last = next
      }
      const shares = last.map((share) => new Set(share))
      const before = members.map((m) => ran(m.process.pid!).length)
      await sleep(3000)
      expect(members.map((m) => ran(m.process.pid!).length).every((n, i) => n > before[i]!), "both kept running").toBe(true)
      // Nothing moved in those 3 s: each member ran only partitions of its share.
      for (const [i, m] of members.entries()) {
        const since = ran(m.process.pid!).slice(before[i]!).flatMap((r) => (r.k === "run" && typeof r.partition === "number" ? [r.partition] : []))
        expect(since.filter((p) => !shares[i]!.has(p)), `member ${i} took partitions it did not run before`).toEqual([])
      }
      writeFileSync(stop, "")
      expect((await publisher.exited).code).toBe(0)
      const { verdict } = await drainAndCheckAt(db, "partitioned, clocks an hour apart", logs, members, [])
      expect(verdict.anomalies).toEqual([])
      expect(verdict.redeliveries).toBe(0)
    }, 180_000)

    // (A process's own deadlines: the same on every dialect, so on SQLite alone.)
    it.skipIf(factory.name !== "sqlite")("a member's clock stepped back an hour while a handler hangs: its ack timeout still fires after 1 s", async () => {
      const log = join(dir, "runs.jsonl")
      const clock = join(dir, "clock")
      const child = spawnNode(fixture("clock-member.ts"), [db, log], fakeClock(clock, "+0"))
      const rt = await createRuntime({ db })
      try {
        await new Promise<void>((resolve) => child.process.stdout!.on("data", (d) => String(d).includes("ready") && resolve()))
        await rt.publish("in", { hang: true })
        const runs = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { attempt: number; wall: number; mono: number }) : [])
        const first = Date.now() + 30_000
        while (runs().length === 0) {
          if (Date.now() > first) throw new Error("the member never ran the event")
          await sleep(20)
        }
        writeFileSync(clock, "-1h")
        const retried = Date.now() + 30_000
        while (runs().length < 2) {
          if (Date.now() > retried) throw new Error("the hung run was never timed out")
          await sleep(20)
        }
        const [a, b] = runs() as [{ attempt: number; wall: number; mono: number }, { attempt: number; wall: number; mono: number }]
        expect(b.attempt).toBe(2)
        expect(a.wall - b.wall, "the member's wall clock went back about an hour").toBeGreaterThan(3_500_000)
        expect(b.mono - a.mono, "the retry came after ackTimeoutMs, on time").toBeLessThan(5000)
        expect(b.mono - a.mono).toBeGreaterThanOrEqual(1000)
      } finally {
        child.process.kill("SIGTERM")
        await child.exited
        await rt.close()
      }
    }, 120_000)
  })
})
