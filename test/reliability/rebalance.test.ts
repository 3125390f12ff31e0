/**
 * Issue 13's history scenarios on a partitioned group ("in" has 8 partitions, spread over the
 * member processes of group "g"), checked by the history checker (`history.ts`):
 * - scenario 3, a rebalance storm: members join and leave (SIGTERM: a graceful close) every second
 *   or two while publishers stream events; each move is a cooperative hand-off (the old owner
 *   drains and commits before the new one starts), so nothing runs twice;
 * - scenario 2 per partition: a member paused (SIGSTOP) past its lease loses its partitions to the
 *   other member; resumed, its late acks and follow-ups are refused.
 * On every conformance dialect (SQLite, one file; Postgres when SIB_TEST_POSTGRES_URL is set). 6
 * moves in `npm test`, 40 with SIB_SLOW=1. A failure prints the seed: SIB_SEED=<seed> repeats the
 * same choices.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createRuntime } from "../../src/promise.ts"
import { type Child, fixture, sleep, spawnNode } from "../helpers/child.ts"
import { conformanceFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { readHistory } from "./history.ts"
import { childEnv, drainAndCheckAt, pauseOutsideWrites } from "./scenario.ts"

const slow = process.env.SIB_SLOW === "1"
const partitions = 8

describe.each(conformanceFactories)("a partitioned group under membership changes, checked by the history checker ($name)", (factory) => {
  let dir: string
  let db: string
  let logs: string
  beforeEach(async () => {
    dir = makeTmpDir()
    db = factory.shared()
    logs = join(dir, "history")
    mkdirSync(logs)
    const setup = await createRuntime({ db })
    await setup.defineTopic("in", { partitions })
    await setup.close()
  })
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true })
    await factory.drop(db)
  })

  const member = () => spawnNode(fixture("history-member.ts"), [db, logs], childEnv)
  const ranBy = (pid: number) => readHistory(logs).filter((r) => r.k === "run" && r.pid === pid)

  const moves = slow ? 40 : 6
  it(`${moves} joins and leaves during a stream: no anomaly, nothing run twice`, async () => {
    const seed = Number(process.env.SIB_SEED ?? Date.now() % 100_000)
    let state = seed
    const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const reproduce = `seed ${seed}: SIB_SEED=${seed}${slow ? " SIB_SLOW=1" : ""} npx vitest run test/reliability/rebalance.test.ts -t "${factory.name}.*joins"`
    const stop = join(dir, "stop")
    const publishers = [0, 1].map(() => spawnNode(fixture("history-publisher.ts"), [db, logs, stop, String(Math.floor(random() * 1e9))], childEnv))
    const members: Array<Child> = [member(), member()]
    let joined = 0
    let left = 0
    // Joins and leaves alternate (the longest-serving member leaves), at random intervals: the two
    // members that started, which have run events, are among the first to leave, so their
    // partitions move in every run.
    for (let i = 0; i < moves; i++) {
      await sleep(1000 + random() * 1000)
      if (i % 2 === 0) {
        members.push(member())
        joined++
      } else {
        const leaving = members.shift()!
        leaving.process.kill("SIGTERM")
        const exit = await leaving.exited
        const ranNothing = ranBy(leaving.process.pid!).length === 0
        if (!(exit.signal === "SIGTERM" && ranNothing)) expect(exit.code, `${reproduce}\n${exit.stderr}`).toBe(0)
        left++
      }
    }
    writeFileSync(stop, "")
    for (const p of publishers) expect((await p.exited).code, reproduce).toBe(0)

    const { verdict, history } = await drainAndCheckAt(db, reproduce, logs, members, [])
    expect(verdict.anomalies, reproduce).toEqual([])
    expect(verdict.events, "the publishers' events were stored").toBeGreaterThan(200)
    // Every move was a cooperative hand-off: the old owner finished (or gave back) its work and
    // committed before the new one started.
    expect(verdict.redeliveries, reproduce).toBe(0)
    const runners = new Set(history.flatMap((r) => (r.k === "run" ? [r.pid] : [])))
    // The work moved: some partition was run by more than one member.
    const runnersOf = new Map<number, Set<number>>()
    for (const r of history) if (r.k === "run" && typeof r.partition === "number") runnersOf.set(r.partition, (runnersOf.get(r.partition) ?? new Set()).add(r.pid))
    expect([...runnersOf.values()].some((pids) => pids.size > 1), "the work moved between members").toBe(true)
    if (process.env.SIB_HISTORY_REPORT === "1") {
      console.log(`${factory.name}: ${joined} joins, ${left} leaves, ${runners.size} members ran events, ${verdict.events} events checked, ${verdict.redeliveries} redeliveries, anomalies ${verdict.anomalies.length}`)
    }
  }, 300_000)

  it("a member paused past its lease loses its partitions to the other; resumed, its late acks are fenced: no anomaly", async () => {
    const seed = Number(process.env.SIB_SEED ?? Date.now() % 100_000)
    const reproduce = `seed ${seed}: SIB_SEED=${seed} npx vitest run test/reliability/rebalance.test.ts -t "${factory.name}.*paused"`
    const members = [member(), member()]
    // Publishing at a steady pace until the scenario is over, so the partitions always have work.
    const stop = join(dir, "stop")
    const publisher = spawnNode(fixture("history-publisher.ts"), [db, logs, stop, String(seed)], childEnv)
    // Both members run a share of the partitions.
    const deadline = Date.now() + 60_000
    while (members.some((m) => ranBy(m.process.pid!).length < 20)) {
      if (Date.now() > deadline) throw new Error(`the members did not both run events (${reproduce})`)
      await sleep(50)
    }
    const [paused, other] = members as [Child, Child]
    // Each member's share now: the partitions it ran over the last second, once the two had settled
    // (one of them may have run every partition while it was alone).
    await sleep(2000)
    const counts = members.map((m) => ranBy(m.process.pid!).length)
    await sleep(1000)
    const recent = (m: Child, i: number) =>
      new Set(ranBy(m.process.pid!).slice(counts[i]!).flatMap((r) => (r.k === "run" && typeof r.partition === "number" ? [r.partition] : [])))
    const pausedPartitions = recent(paused, 0)
    const otherBefore = recent(other, 1)
    const taken = [...pausedPartitions].filter((p) => !otherBefore.has(p))
    expect(taken.length, "the paused member had partitions of its own").toBeGreaterThan(0)
    const otherAtPause = ranBy(other.process.pid!).length
    await pauseOutsideWrites(paused, factory.name, db)
    // The other member takes them over once the paused one's heartbeat and leases have lapsed.
    const takeover = Date.now() + 30_000
    const otherSincePause = () =>
      new Set(ranBy(other.process.pid!).slice(otherAtPause).flatMap((r) => (r.k === "run" && typeof r.partition === "number" ? [r.partition] : [])))
    while (!taken.some((p) => otherSincePause().has(p))) {
      if (Date.now() > takeover) {
        paused.process.kill("SIGCONT")
        throw new Error(`the other member did not take the paused one's partitions (${reproduce})`)
      }
      await sleep(50)
    }
    await sleep(500)
    paused.process.kill("SIGCONT")
    await sleep(500)
    writeFileSync(stop, "")
    const published = await publisher.exited
    expect(published.code, `${reproduce}\n${published.stderr}`).toBe(0)
    const { verdict } = await drainAndCheckAt(db, reproduce, logs, members, [])
    // Its runs in flight finished after the resume, but their acks and follow-ups were refused.
    expect(verdict.anomalies, reproduce).toEqual([])
    expect(verdict.redeliveries, reproduce).toBeLessThanOrEqual(4 * 110)
    if (process.env.SIB_HISTORY_REPORT === "1") {
      console.log(`${factory.name}: paused member's partitions ${[...pausedPartitions].join(",")}, ${verdict.events} events, ${verdict.redeliveries} redeliveries`)
    }
  }, 300_000)
})
