/**
 * The relay under `kill -9`: a relay process (test/fixtures/outbox-child.ts) is killed again and
 * again, half the time exactly between a publish that committed and the marking of its rows as
 * sent, half the time at a random moment; then one runs to the end. Afterwards the bus holds
 * exactly the outbox's rows: every row's event once (its id is the row id), none missing, none
 * doubled, even though the interrupted batches were published twice. 5 kills in the default tier,
 * 50 with SIB_SLOW=1. On every store factory: the application's database and the bus's are two
 * shared databases of the factory, whose name and locations the relay processes get.
 */
import { existsSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { createOutbox } from "../../src/promise.ts"
import { createRuntime } from "../../src/promise.ts"
import type { Event } from "../../src/store/records.ts"
import { fixture, sleep, spawnNode } from "../helpers/child.ts"
import { storeFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const slow = process.env.SIB_SLOW === "1"
/** Children start faster with Node's compile cache (the cache bin/sib.js enables). */
const childEnv = { NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache") }

interface LogLine {
  readonly kind: "pub" | "paused"
  readonly pid: number
  readonly ids: ReadonlyArray<string>
}
const readLog = (file: string): Array<LogLine> =>
  existsSync(file)
    ? readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((line) => {
      const [kind, pid, ids] = line.split(" ")
      return { kind: kind as LogLine["kind"], pid: Number(pid), ids: ids === undefined ? [] : ids.split(",") }
    })
    : []

describe.each(storeFactories)("outbox relay under kill -9 ($name)", (factory) => {
  /** The directory of the relay log, the application's database and the bus's. */
  let dir: string
  let appDb: string
  let busDb: string
  beforeEach(() => {
    dir = makeTmpDir()
    appDb = factory.shared()
    busDb = factory.shared()
  })
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true })
    factory.drop(appDb)
    factory.drop(busDb)
  })

  it(`events in the bus equal the outbox rows after ${slow ? 50 : 5} kills between publish and mark-sent`, async () => {
    const log = join(dir, "relay.log")
    const kills = slow ? 50 : 5
    const total = 200 * kills
    // The application: orders and their outbox rows, written together.
    const db = factory.kysely(appDb)
    await db.schema.createTable("orders").addColumn("n", "integer", (c) => c.primaryKey()).execute()
    const outbox = await createOutbox({ db })
    for (let from = 0; from < total; from += 100) {
      await db.transaction().execute(async (trx) => {
        const ns = Array.from({ length: Math.min(100, total - from) }, (_, i) => from + i)
        await trx.insertInto("orders").values(ns.map((n) => ({ n }))).execute()
        await outbox.addAll(trx, ns.map((n) => ({ topic: "orders", payload: { n }, key: `c${n % 13}` })))
      })
    }
    let seed = Number(process.env.SIB_SEED ?? Date.now() % 100_000)
    const startSeed = seed
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    const pausedPids: Array<number> = []
    let killed = 0
    for (let i = 0; i < kills; i++) {
      const pause = i % 2 === 0
      const k = 1 + Math.floor(random() * 4)
      const before = readLog(log).filter((l) => l.kind === "pub").length
      const child = spawnNode(fixture("outbox-child.ts"), [factory.name, appDb, busDb, log, JSON.stringify({
        pauseAfter: pause ? k : undefined,
        batchSize: 10 + Math.floor(random() * 30)
      })], childEnv)
      let alive = true
      void child.exited.then(() => (alive = false))
      const pid = child.process.pid!
      const reached = () => {
        const lines = readLog(log)
        return pause
          ? lines.some((l) => l.kind === "paused" && l.pid === pid)
          : lines.filter((l) => l.kind === "pub").length >= before + k
      }
      while (alive && !reached()) await sleep(2)
      if (!pause) await sleep(Math.floor(random() * 4))
      child.process.kill("SIGKILL")
      const exit = await child.exited
      if (exit.signal === "SIGKILL") killed++
      if (pause && exit.signal === "SIGKILL") pausedPids.push(pid)
    }
    const last = spawnNode(fixture("outbox-child.ts"), [factory.name, appDb, busDb, log, "{}"], childEnv)
    const exit = await last.exited
    expect(exit.code, exit.stderr).toBe(0)
    expect(killed, `seed ${startSeed}: relays killed mid-stream`).toBe(kills)

    const rows = await db.selectFrom("sib_outbox").select(["id", "state", "attempts"]).orderBy("id").execute()
    expect(rows.length).toBe(total)
    expect(rows.filter((r) => r.state !== "sent" || r.attempts !== 0), "every row sent, none refused").toEqual([])
    expect((await db.selectFrom("orders").select((eb) => eb.fn.countAll().as("n")).executeTakeFirstOrThrow()).n).toBe(total)
    await db.destroy()

    const rt = await createRuntime({ db: busDb })
    const events: Array<Event> = []
    for (;;) {
      const page = await rt.read("orders", events.length === 0 ? 0 : events[events.length - 1]!.seq, 1000)
      if (page.length === 0) break
      events.push(...page)
    }
    await rt.close()
    expect(events.length, `seed ${startSeed}: one event per row`).toBe(total)
    expect(events.map((e) => e.id).sort(), `seed ${startSeed}: the events are the rows`).toEqual(rows.map((r) => r.id))
    const ns = events.map((e) => (e.payload as { n: number }).n)
    expect(new Set(ns).size, `seed ${startSeed}: no payload twice`).toBe(total)

    // The paused batches were published, killed before being marked, and published again later.
    const lines = readLog(log)
    for (const pid of pausedPids) {
      const at = lines.findIndex((l) => l.kind === "paused" && l.pid === pid)
      const batch = lines[at - 1]!
      expect(batch.pid).toBe(pid)
      const resent = new Set(lines.slice(at + 1).filter((l) => l.kind === "pub").flatMap((l) => l.ids))
      expect(batch.ids.filter((id) => !resent.has(id)), `seed ${startSeed}: pid ${pid}'s interrupted batch was sent again`).toEqual([])
    }
    const published = lines.filter((l) => l.kind === "pub").reduce((n, l) => n + l.ids.length, 0)
    expect(published, "more publishes than rows: the re-sends were deduplicated").toBeGreaterThan(total)
  }, slow ? 600_000 : 60_000)
})
