/**
 * Exactly-once handler publishes under `kill -9`: a pipeline stage (test/fixtures/pipeline-child.ts)
 * publishing two follow-ups per event is killed at random points, again and again, then run to the
 * end. Every handled event has exactly one of each follow-up (never zero, never two), caused by it,
 * exactly one row in the handler's own table (written through ctx.transaction), and the cursor is
 * at the head. 5 kills in the default tier, 50 with SIB_SLOW=1. On a shared database of every
 * store factory (the children get its location; the test creates and reads the handler's table
 * through an application connection of its own).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { createRuntime, type Event } from "../../src/index.ts"
import { fixture, sleep, spawnNode } from "../helpers/child.ts"
import { storeFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const slow = process.env.SIB_SLOW === "1"

const runCount = (file: string): number =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).length : 0

const readAll = async (rt: Awaited<ReturnType<typeof createRuntime>>, topic: string): Promise<Array<Event>> => {
  const out: Array<Event> = []
  for (;;) {
    const page = await rt.read(topic, out.length === 0 ? 0 : out[out.length - 1]!.seq, 1000)
    if (page.length === 0) return out
    out.push(...page)
  }
}

describe.each(storeFactories)("handler publishes under kill -9 ($name)", (factory) => {
  /** The directory of the run log, and the database the children share. */
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

  it(`every follow-up exists exactly once per handled event after ${slow ? 50 : 5} kills at random points`, async () => {
    const log = join(dir, "runs.log")
    const kills = slow ? 50 : 5
    const total = 200 * kills
    const rt = await createRuntime({ db })
    await rt.publishAll(Array.from({ length: total }, (_, n) => ({ topic: "orders", payload: { n }, key: `c${n % 11}` })))
    await rt.close()
    const setup = factory.kysely(db)
    await setup.schema.createTable("tally").addColumn("n", "integer", (c) => c.notNull()).addColumn("pid", "integer", (c) => c.notNull()).execute()
    await setup.destroy()
    let seed = Number(process.env.SIB_SEED ?? Date.now() % 100_000)
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const startSeed = seed
    let killedMidStream = 0
    for (let i = 0; i < kills; i++) {
      const before = runCount(log)
      const target = before + 10 + Math.floor(random() * 200)
      // Half the children do a little work between their two publishes, so kills also land
      // between a run's publishes and inside commits.
      const child = spawnNode(fixture("pipeline-child.ts"), [db, log, JSON.stringify({ workMs: i % 2 === 0 ? 0 : 1 })])
      let alive = true
      void child.exited.then(() => (alive = false))
      while (alive && runCount(log) < target) await sleep(2)
      await sleep(Math.floor(random() * 5))
      child.process.kill("SIGKILL")
      const exit = await child.exited
      if (exit.signal === "SIGKILL") killedMidStream++
    }
    const last = spawnNode(fixture("pipeline-child.ts"), [db, log, "{}"])
    const exit = await last.exited
    expect(exit.code, exit.stderr).toBe(0)
    expect(killedMidStream, `seed ${startSeed}: children killed mid-stream`).toBe(kills)

    const check = await createRuntime({ db })
    const orders = await readAll(check, "orders")
    const byOrder = new Map(orders.map((e) => [e.id, (e.payload as { n: number }).n]))
    for (const topic of ["invoices", "receipts"]) {
      const followUps = await readAll(check, topic)
      const counts = new Map<number, number>()
      for (const e of followUps) {
        const cause = byOrder.get(e.causedBy?.[0] ?? "")
        expect(cause, `${topic} ${e.id} is caused by an order`).toBe((e.payload as { n: number }).n)
        counts.set(cause!, (counts.get(cause!) ?? 0) + 1)
      }
      const wrong = [...Array(total).keys()].filter((n) => counts.get(n) !== 1).map((n) => `${n}: ${counts.get(n) ?? 0}`)
      expect(wrong, `seed ${startSeed}: ${topic} per order`).toEqual([])
    }
    const tally = factory.kysely(db)
    const tallied = await tally.selectFrom("tally").select((eb) => ["n", eb.fn.countAll().as("c")]).groupBy("n")
      .having((eb) => eb.fn.countAll(), "!=", 1).execute()
    const talliedCount = Number((await tally.selectFrom("tally").select((eb) => eb.fn.count("n").distinct().as("c")).executeTakeFirstOrThrow()).c)
    await tally.destroy()
    expect(tallied, `seed ${startSeed}: the handler's own writes committed once per order`).toEqual([])
    expect(talliedCount).toBe(total)
    expect(await check.getCursor("orders", "billing")).toBe(orders[orders.length - 1]!.seq)
    expect(await check.deadLetters()).toEqual([])
    // Runs that were killed before their commit were repeated: more runs than orders.
    expect(runCount(log)).toBeGreaterThanOrEqual(total)
    await check.close()
  }, slow ? 600_000 : 60_000)
})
