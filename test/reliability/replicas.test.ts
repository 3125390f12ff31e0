/**
 * Several processes on one database, as replicas of a service run them (issue 12's soak): two
 * replica processes consume three groups and hold a live subscription each; eight publisher
 * processes publish on keys of their own in small transactions with random delays, 5% of which
 * roll back (four through an outbox in an application transaction, four by `publishAll`, refused as
 * a whole when one of its events is bad). Afterwards, from the processes' logs and the store:
 * every committed event is stored once and handled by every group once, none skipped, in key
 * order; no rolled-back or refused event is stored or delivered; each replica's live subscription
 * gave every committed event once, in seq order.
 *
 * On every dialect of the conformance suite (SQLite, and Postgres when SIB_TEST_POSTGRES_URL is
 * set): 5,000 events in the default tier, 50,000 with SIB_SLOW=1.
 */
import { existsSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createRuntime } from "../../src/promise.ts"
import type { Event } from "../../src/store/records.ts"
import { type Child, fixture, sleep, spawnNode } from "../helpers/child.ts"
import { conformanceFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const slow = process.env.SIB_SLOW === "1"
const childEnv = { NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache") }
const groups = ["g1", "g2", "g3"]

const lines = (file: string) => existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => l.split(" ")) : []

/** Every event of `topic` in the store, in seq order. */
const readAll = async (db: string, topic: string): Promise<Array<Event>> => {
  const rt = await createRuntime({ db })
  const all: Array<Event> = []
  for (let after = 0;;) {
    const page = await rt.read(topic, after, 5000)
    if (page.length === 0) break
    all.push(...page)
    after = page[page.length - 1]!.seq
  }
  await rt.close()
  return all
}

/** Waits until `done`; on a timeout the error says what was awaited and, with `state`, where things stood. */
const within = async (ms: number, what: string, done: () => boolean | Promise<boolean>, state?: () => string | Promise<string>) => {
  const deadline = Date.now() + ms
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${state === undefined ? "" : ` (${await state()})`}`)
    await sleep(100)
  }
}

describe.each(conformanceFactories)("replicas on one database ($name)", (factory) => {
  let dir: string
  let busDb: string
  let appDb: string
  beforeEach(() => {
    dir = makeTmpDir()
    busDb = factory.shared()
    appDb = factory.shared()
  })
  afterEach(async () => {
    rmSync(dir, { recursive: true, force: true })
    await factory.drop(busDb)
    await factory.drop(appDb)
  })

  const total = slow ? 50_000 : 3_000
  it(`soak: 2 replicas, 8 publishers with rollbacks, 3 groups, ${total} events: each committed event handled once per group in key order, live once per replica`, async () => {
    const replicaLog = join(dir, "replicas.log")
    const publisherLog = join(dir, "publishers.log")
    // Migrated once before the processes start (they would otherwise race to create the tables).
    await (await createRuntime({ db: busDb })).close()

    const replicas: Array<Child> = [0, 1].map(() => spawnNode(fixture("soak-replica.ts"), [busDb, replicaLog, JSON.stringify(groups)], childEnv))
    await within(60_000, "the replicas to start", () => lines(replicaLog).filter((l) => l[0] === "ready").length === 2)

    const seed = Number(process.env.SIB_SEED ?? Date.now() % 100_000)
    const publishers = Array.from({ length: 8 }, (_, index) =>
      spawnNode(fixture("soak-publisher.ts"), [factory.name, appDb, busDb, publisherLog, JSON.stringify({
        index,
        count: total / 8,
        seed: seed + index,
        via: index % 2 === 0 ? "outbox" : "direct",
        keys: 20
      })], childEnv))
    const t0 = Date.now()
    for (const p of publishers) {
      const exit = await p.exited
      expect(exit.code, `publisher: ${exit.stderr}`).toBe(0)
    }

    const published = lines(publisherLog)
    const committed = new Map(published.filter((l) => l[0] === "c").map(([, id, key, n]) => [id!, { key: key!, n: Number(n) }]))
    const rolledBack = new Set(published.filter((l) => l[0] === "r").map((l) => l[1]!))
    expect(committed.size, `seed ${seed}`).toBe(total)
    expect(rolledBack.size, "some transactions rolled back").toBeGreaterThan(0)

    // Every group and both live subscriptions reach every committed event.
    const caughtUp = () => {
      const log = lines(replicaLog)
      const handled = groups.map((g) => new Set(log.filter((l) => l[0] === "h" && l[1] === g).map((l) => l[4])))
      const live = replicas.map((r) => log.filter((l) => l[0] === "l" && l[1] === String(r.process.pid)).length)
      return handled.every((s) => [...committed.keys()].every((id) => s.has(id))) && live.every((n) => n >= total)
    }
    const t1 = Date.now()
    await within(120_000, "every group and live subscription to catch up", caughtUp)
    if (process.env.SIB_SOAK_TIMES === "1") console.log(`${factory.name}: publishers ${t1 - t0} ms, catch-up after them ${Date.now() - t1} ms`)
    for (const r of replicas) r.process.kill("SIGTERM")
    for (const r of replicas) {
      const exit = await r.exited
      expect(exit.code, `replica: ${exit.stderr}`).toBe(0)
    }

    // The store holds exactly the committed events, each key's in the order its publisher committed them.
    const stored = await readAll(busDb, "soak")
    expect(stored.length).toBe(total)
    const storedIds = new Set(stored.map((e) => e.id))
    expect(storedIds.size).toBe(total)
    for (const id of committed.keys()) expect(storedIds.has(id), `committed ${id} is stored`).toBe(true)
    for (const id of rolledBack) expect(storedIds.has(id), `rolled back ${id} is not stored`).toBe(false)
    const lastN = new Map<string, number>()
    for (const e of stored) {
      const { key, n } = e.payload as { key: string; n: number }
      expect(e.key).toBe(key)
      expect(n, `key ${key} stored in order`).toBe((lastN.get(key) ?? 0) + 1)
      lastN.set(key, n)
    }

    const log = lines(replicaLog)
    for (const group of groups) {
      const runs = log.filter((l) => l[0] === "h" && l[1] === group)
      // Once each: no replica lost its lease, so nothing was redelivered.
      expect(runs.length, `group ${group} handled each event once`).toBe(total)
      const byOwner = new Map<string, Map<string, number>>()
      for (const [, , pid, , id, key, n] of runs) {
        expect(committed.has(id!), `group ${group} handled only committed events`).toBe(true)
        const keys = byOwner.get(pid!) ?? new Map<string, number>()
        byOwner.set(pid!, keys)
        expect(Number(n), `group ${group}: key ${key} in order`).toBeGreaterThan(keys.get(key!) ?? 0)
        keys.set(key!, Number(n))
      }
    }
    for (const r of replicas) {
      const seqs = log.filter((l) => l[0] === "l" && l[1] === String(r.process.pid)).map((l) => Number(l[2]))
      expect(seqs.length, "live: every committed event once").toBe(total)
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!, "live: in seq order").toBeGreaterThan(seqs[i - 1]!)
    }
  }, 300_000)

  it("kill -9 of the replica holding a group: the standby takes over after the lease; acked work is not redone, unacked work is redelivered, no follow-up is doubled", async () => {
    const log = join(dir, "takeover.log")
    // Enough that the owner, killed once it has handled 1,200, cannot have finished them all by then.
    const jobs = 8000
    const app = factory.kysely(busDb)
    await app.schema.createTable("done").addColumn("job", "text").addColumn("pid", "integer").execute()
    const rt = await createRuntime({ db: busDb })
    await rt.publishAll(Array.from({ length: jobs }, (_, n) => ({ topic: "jobs", payload: { n }, key: `k${n % 10}` })))
    await rt.close()
    const handled = (pid: number) => lines(log).filter((l) => l[0] === "h" && l[1] === String(pid)).map((l) => l[2]!)

    const a = spawnNode(fixture("takeover-child.ts"), [busDb, log], childEnv)
    await within(60_000, "the first replica to handle jobs", () => handled(a.process.pid!).length >= 200)
    const b = spawnNode(fixture("takeover-child.ts"), [busDb, log], childEnv)
    await within(60_000, "the standby to subscribe", () => lines(log).some((l) => l[0] === "ready" && l[1] === String(b.process.pid)))
    await within(60_000, "the owner to handle more", () => handled(a.process.pid!).length >= 1200)
    expect(handled(b.process.pid!), "the standby handles nothing while the owner lives").toEqual([])
    a.process.kill("SIGKILL")
    await a.exited
    expect(handled(a.process.pid!).length, "the owner still had jobs to run when it was killed").toBeLessThan(jobs)
    const killedAt = Date.now()
    await within(30_000, "the standby to take over", () => handled(b.process.pid!).length > 0)
    expect(Date.now() - killedAt, "takeover follows the lease's expiry (1 s), not much later").toBeLessThan(10_000)
    await within(120_000, "every job to have its follow-up", async () => (await readAll(busDb, "jobs.done")).length >= jobs, async () =>
      `${(await readAll(busDb, "jobs.done")).length} follow-ups of ${jobs}; the standby handled ${handled(b.process.pid!).length}, ${new Set(handled(b.process.pid!)).size} distinct`)
    b.process.kill("SIGTERM")
    const exit = await b.exited
    expect(exit.code, exit.stderr).toBe(0)

    const followUps = await readAll(busDb, "jobs.done")
    const rows = await app.selectFrom("done").select(["job", "pid"]).execute() as Array<{ job: string; pid: number }>
    await app.destroy()
    const jobIds = (await readAll(busDb, "jobs")).map((e) => e.id)
    // One follow-up and one row per job, written by the run whose ack committed, caused by the job.
    expect(followUps.length).toBe(jobs)
    expect(rows.length).toBe(jobs)
    const byJob = new Map(followUps.map((e) => [(e.payload as { job: string }).job, e]))
    expect([...byJob.keys()].sort()).toEqual([...jobIds].sort())
    const rowPid = new Map(rows.map((r) => [r.job, Number(r.pid)]))
    for (const [job, e] of byJob) {
      expect(e.causedBy).toEqual([job])
      expect(rowPid.get(job), "the row and the follow-up come from the same committed run").toBe((e.payload as { pid: number }).pid)
    }
    const byA = handled(a.process.pid!)
    const byB = new Set(handled(b.process.pid!))
    const ackedByA = [...byJob.values()].filter((e) => (e.payload as { pid: number }).pid === a.process.pid).map((e) => (e.payload as { job: string }).job)
    expect(ackedByA.length, "the killed owner had acked work").toBeGreaterThan(0)
    for (const job of ackedByA) expect(byB.has(job), `acked job ${job} is not redone`).toBe(false)
    const unackedByA = byA.filter((job) => !ackedByA.includes(job))
    for (const job of unackedByA) expect(byB.has(job), `job ${job} run but not acked by the killed owner is redelivered`).toBe(true)
    // Only the runs in flight at the kill, or done but waiting for their commit, are redone.
    expect(unackedByA.length).toBeLessThanOrEqual(50)
  }, 300_000)
})

