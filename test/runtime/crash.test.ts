/**
 * Crashes with real processes: a consumer killed with SIGKILL at random moments loses nothing and
 * keeps per-key order within each run; an event that kills the process is dead-lettered after
 * exactly maxAttempts runs while the others are delivered. On a shared database of every store
 * factory (the children get its location).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { createRuntime } from "../../src/index.ts"
import { fixture, sleep, spawnNode } from "../helpers/child.ts"
import { storeFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const slow = process.env.SIB_SLOW === "1"

interface Run {
  readonly n: number
  readonly attempt: number
  readonly pid: number
}
const readLog = (file: string): Array<Run> =>
  existsSync(file)
    ? readFileSync(file, "utf8").trim().split("\n").filter((l) => l.length > 0).map((line) => {
      const [n, attempt, pid] = line.split(" ").map(Number)
      return { n: n!, attempt: attempt!, pid: pid! }
    })
    : []

describe.each(storeFactories)("crash recovery with real processes ($name)", (factory) => {
  /** The directory of the run logs, and the database the children share. */
  let dir: string
  let db: string
  beforeEach(() => {
    dir = makeTmpDir()
    db = factory.shared()
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
    factory.drop(db)
  })

  it("SIGKILL at random points: every event is handled, in key order within each run, and the cursor ends at the head", async () => {
    const log = join(dir, "runs.log")
    const kills = slow ? 12 : 4
    const total = 500 * kills
    const rt = await createRuntime({ db })
    await rt.publishAll(Array.from({ length: total }, (_, n) => ({ topic: "t", payload: { n }, key: `k${n % 7}` })))
    await rt.close()
    let seed = Number(process.env.SIB_SEED ?? Date.now() % 100_000)
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const killed: Array<number> = []
    for (let i = 0; i < kills; i++) {
      // Kill once this child has run a random number of handlers: always mid-stream.
      const before = readLog(log).length
      const target = before + 20 + Math.floor(random() * 300)
      const child = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ workMs: 1 })])
      let alive = true
      void child.exited.then(() => (alive = false))
      while (alive && readLog(log).length < target) await sleep(5)
      child.process.kill("SIGKILL")
      const exit = await child.exited
      if (exit.signal === "SIGKILL") killed.push(child.process.pid!)
    }
    const last = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({})])
    const exit = await last.exited
    expect(exit.code, exit.stderr).toBe(0)

    const runs = readLog(log)
    const handled = new Set(runs.map((r) => r.n))
    expect(handled.size, `seed ${seed}`).toBe(total)
    const handledByKilled = killed.filter((pid) => runs.some((r) => r.pid === pid))
    expect(killed.length, "the consumers were killed mid-stream").toBe(kills)
    expect(handledByKilled.length, "every killed consumer had handled events").toBe(kills)
    const byPid = new Map<number, Array<Run>>()
    for (const r of runs) byPid.set(r.pid, [...(byPid.get(r.pid) ?? []), r])
    for (const [pid, list] of byPid) {
      for (let k = 0; k < 7; k++) {
        const order = list.filter((r) => r.n % 7 === k).map((r) => r.n)
        const firsts = order.filter((n, i) => order.indexOf(n) === i)
        expect(firsts, `pid ${pid} key k${k}`).toEqual([...firsts].sort((a, b) => a - b))
      }
    }
    const check = await createRuntime({ db })
    expect(await check.getCursor("t", "g")).toBe(total)
    expect(await check.deadLetters()).toEqual([])
    await check.close()
  }, 120_000)

  it("a filter holds across SIGKILL: filtered-out events are never delivered, even on recovery", async () => {
    const log = join(dir, "runs.log")
    const total = 1200
    const rt = await createRuntime({ db })
    await rt.publishAll(Array.from({ length: total }, (_, n) => ({ topic: "t", payload: { n }, key: `k${n % 5}` })))
    await rt.close()
    for (let i = 0; i < 3; i++) {
      const before = readLog(log).length
      const child = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ workMs: 1, filterOdd: true })])
      let alive = true
      void child.exited.then(() => (alive = false))
      while (alive && readLog(log).length < before + 40 + i * 30) await sleep(5)
      child.process.kill("SIGKILL")
      await child.exited
    }
    const last = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ filterOdd: true })])
    expect((await last.exited).code).toBe(0)
    const runs = readLog(log)
    expect(runs.filter((r) => r.n % 2 === 1)).toEqual([])
    expect(new Set(runs.map((r) => r.n)).size).toBe(total / 2)
  }, 120_000)

  it("with maxAttempts 1, a crash dead-letters no event that did not run: each event that may have been running is charged, and runs once before that charge could end it", async () => {
    const log = join(dir, "runs.log")
    const rt = await createRuntime({ db })
    await rt.publishAll(Array.from({ length: 400 }, (_, n) => ({ topic: "t", payload: { n }, key: `k${n % 5}` })))
    await rt.close()
    const child = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ maxAttempts: 1, workMs: 5 })])
    let alive = true
    void child.exited.then(() => (alive = false))
    while (alive && readLog(log).length < 30) await sleep(2)
    child.process.kill("SIGKILL")
    await child.exited
    const ranBefore = new Set(readLog(log).map((r) => r.n))
    // A second kill while the first crash's recovered events run (concurrently, each start
    // recorded): none of those dead-letters either (each runs alone once more first).
    const again = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ maxAttempts: 1, workMs: 5 })])
    let againAlive = true
    void again.exited.then(() => (againAlive = false))
    const before = readLog(log).length
    while (againAlive && readLog(log).length < before + 40) await sleep(2)
    again.process.kill("SIGKILL")
    await again.exited
    const last = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ maxAttempts: 1 })])
    expect((await last.exited).code).toBe(0)
    const check = await createRuntime({ db })
    const dead = await check.deadLetters({ group: "g" })
    await check.close()
    // Only an event that was running when the process died can be dead-lettered by it (none here
    // crash the process themselves, so none is): every other event ran and was done.
    expect(dead.length, JSON.stringify(dead.slice(0, 3))).toBe(0)
    expect(new Set(readLog(log).map((r) => r.n)).size).toBe(400)
    expect(ranBefore.size).toBeGreaterThan(0)
  }, 60_000)

  it("a long backlog of few keys fetched ahead: a crash charges one event per key, not the backlog parked behind them", async () => {
    const log = join(dir, "runs.log")
    const rt = await createRuntime({ db })
    await rt.publishAll(Array.from({ length: 2000 }, (_, n) => ({ topic: "t", payload: { n }, key: `k${n % 3}` })))
    await rt.close()
    const child = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ workMs: 2 })])
    let alive = true
    void child.exited.then(() => (alive = false))
    // By then the fetcher has read far ahead: three keys run, the rest waits parked behind them.
    while (alive && readLog(log).length < 60) await sleep(5)
    child.process.kill("SIGKILL")
    await child.exited
    const before = readLog(log).length
    const last = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({})])
    expect((await last.exited).code).toBe(0)
    const after = readLog(log).slice(before)
    // One charge per key (its first pending event may have been running), none for the events
    // that waited behind it; every event handled.
    const charged = after.filter((r) => r.attempt > 1)
    expect(charged.length, JSON.stringify(charged.slice(0, 5))).toBeLessThanOrEqual(3)
    expect(new Set(readLog(log).map((r) => r.n)).size).toBe(2000)
    const check = await createRuntime({ db })
    expect(await check.deadLetters({ group: "g" })).toEqual([])
    expect(await check.getCursor("t", "g")).toBe(2000)
    await check.close()
  }, 120_000)

  it("an event that kills the process is dead-lettered after maxAttempts counted runs; the others are delivered", async () => {
    const log = join(dir, "runs.log")
    const rt = await createRuntime({ db })
    const events = await rt.publishAll(
      Array.from({ length: 60 }, (_, n) => ({ topic: "t", payload: n === 20 ? { n, poison: true } : { n }, key: `k${n % 3}` }))
    )
    await rt.close()
    let spawns = 0
    for (;;) {
      spawns++
      expect(spawns, "the poison event must stop killing the consumer").toBeLessThan(10)
      const child = spawnNode(fixture("consumer-child.ts"), [db, log, JSON.stringify({ maxAttempts: 3 })])
      const exit = await child.exited
      if (exit.code === 0) break
      expect(exit.signal, exit.stderr).toBe("SIGKILL")
    }
    const runs = readLog(log)
    // Counted runs: its first crash goes uncounted when its key's earlier events had finished just
    // before it and their acks were not stored yet (it was not its key's first pending event).
    const poisonRuns = runs.filter((r) => r.n === 20)
    expect(poisonRuns.length).toBeGreaterThanOrEqual(3)
    expect(poisonRuns.length).toBeLessThanOrEqual(4)
    expect(poisonRuns.slice(-3).map((r) => r.attempt)).toEqual([1, 2, 3])
    const innocentRuns = runs.filter((r) => r.n !== 20)
    // The first crash's recovered events run concurrently (the poison among them); from the second
    // crash on, suspects run alone: an innocent event is charged at most twice for it.
    expect(Math.max(...innocentRuns.map((r) => r.attempt)), "an innocent event is charged at most two crashes").toBeLessThanOrEqual(3)
    expect(new Set(runs.map((r) => r.n)).size).toBe(60)
    const check = await createRuntime({ db })
    const dead = await check.deadLetters({ group: "g" })
    expect(dead.map((d) => [d.eventId, d.attempts])).toEqual([[events[20]!.id, 3]])
    expect(dead[0]!.errorMessage).toMatch(/process stopped while the handler was running/)
    expect(await check.getCursor("t", "g")).toBe(60)
    await check.close()
  }, 120_000)
})
