/** The Promise facade: the whole surface from plain async code (maintenance included), and typed rejections. */
import { afterEach, describe, expect, it } from "vitest"
import { existsSync, rmSync } from "node:fs"
import { join } from "node:path"
import { AckError, BusClosedError, BusOptionsError, createRuntime, GroupError, TopicError, MaintenanceError, PublishError, type Runtime, StoreOpenError, SubscribeError } from "../src/index.ts"
import { makeTmpDir } from "./helpers/tmp.ts"
import SqliteDatabase from "better-sqlite3"
import type { Kysely } from "kysely"

const waitFor = async (check: () => boolean | Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe("createRuntime (Promise facade)", () => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })

  it("ctx.transaction(): the handler's rows commit with its ack; runtime calls inside it do not wait for it", async () => {
    const dir = makeTmpDir()
    const db = join(dir, "app.db")
    const rt = await createRuntime({ db })
    open.push(rt)
    await rt.publish("orders", { id: 1 })
    const outcomes: Array<string> = []
    let done = false
    await rt.subscribe("orders", "ledger", async (event, ctx) => {
      const trx = await ctx.transaction()
      await trx.schema.createTable("ledger").ifNotExists().addColumn("id", "integer").execute()
      await trx.insertInto("ledger").values({ id: (event.payload as { id: number }).id }).execute()
      const started = Date.now()
      // The runtime's own publish cannot join the handler's transaction: refused at once.
      await rt.publish("audit", "x").then(() => outcomes.push("published"), (e: unknown) => outcomes.push((e as Error).constructor.name))
      // A read runs inside it (and sees the handler's own row's effects on the bus: none here).
      outcomes.push(`read ${(await rt.read("orders", 0, 10)).length}`)
      outcomes.push(Date.now() - started < 500 ? "fast" : "waited")
      await ctx.publish("billed", event.payload)
      done = true
    }, { from: "earliest", ackTimeoutMs: 5000 })
    await waitFor(() => done)
    await waitFor(() => rt.groupStats("ledger")?.buffered === 0)
    expect(outcomes).toEqual(["PublishError", "read 1", "fast"])
    expect((await rt.read("billed", 0, 10)).map((e) => e.payload)).toEqual([{ id: 1 }])
    expect((await rt.read("audit", 0, 10)).length).toBe(0)
    expect((await rt.deadLetters({ group: "ledger" })).length).toBe(0)
  })

  it("ctx.transaction(): a handle kept past its run (timed out, or after it returned) fails and writes nothing", async () => {
    const dir = makeTmpDir()
    const rt = await createRuntime({ db: join(dir, "app.db") })
    open.push(rt)
    const late: Array<string> = []
    let saved: Kysely<any> | undefined
    let finished = false
    await rt.subscribe("jobs", "worker", async (event, ctx) => {
      const trx = await ctx.transaction()
      await trx.schema.createTable("rows").ifNotExists().addColumn("n", "integer").addColumn("attempt", "integer").execute()
      if (ctx.attempt === 1) {
        // Times out (ackTimeoutMs 200) but goes on, and writes through its old handle afterwards.
        await new Promise((resolve) => setTimeout(resolve, 600))
        await trx.insertInto("rows").values({ n: -1, attempt: 1 }).execute().then(() => late.push("written"), () => late.push("refused"))
        finished = true
        return
      }
      await trx.insertInto("rows").values({ n: 1, attempt: ctx.attempt }).execute()
      saved = trx
    }, { from: "earliest", ackTimeoutMs: 200, backoff: { initialMs: 10, jitter: 0 } })
    await rt.publish("jobs", 1)
    await waitFor(() => finished && saved !== undefined)
    await waitFor(() => rt.groupStats("worker")?.buffered === 0)
    await saved!.insertInto("rows").values({ n: -2, attempt: 0 }).execute().then(() => late.push("written"), () => late.push("refused"))
    expect(late).toEqual(["refused", "refused"])
    await rt.close()
    const raw = new SqliteDatabase(join(dir, "app.db"), { readonly: true })
    expect(raw.prepare("select n, attempt from rows").all()).toEqual([{ n: 1, attempt: 2 }])
    raw.close()
  })

  it("publishes, consumes with async handlers, publishes follow-ups, and persists cursors", async () => {
    const dir = makeTmpDir()
    const db = join(dir, "events.db")
    const rt = await createRuntime({ db })
    open.push(rt)
    const seen: Array<unknown> = []
    const unsubscribe = await rt.subscribe("orders", "billing", async (event, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      seen.push(event.payload)
      expect(ctx.group).toBe("billing")
      expect(ctx.signal.aborted).toBe(false)
      const { publish } = ctx
      await publish("invoices", { order: (event.payload as { id: number }).id })
    }, { from: "earliest" })
    const e = await rt.publish("orders", { id: 1 }, { key: "c-1", headers: { source: "test" } })
    expect(e).toMatchObject({ seq: 1, topic: "orders", key: "c-1", payload: { id: 1 }, headers: { source: "test" } })
    await rt.publishAll([{ topic: "orders", payload: { id: 2 } }, { topic: "orders", payload: { id: 3 } }])
    await waitFor(() => seen.length === 3)
    await unsubscribe()
    expect(await rt.getCursor("orders", "billing")).toBe(3)
    const invoices = await rt.read("invoices", 0, 10)
    expect(invoices.map((i) => [i.payload, i.causedBy?.length])).toEqual([[{ order: 1 }, 1], [{ order: 2 }, 1], [{ order: 3 }, 1]])
    await rt.close()
    open.pop()
    const again = await createRuntime({ db })
    open.push(again)
    expect(await again.getCursor("orders", "billing")).toBe(3)
    rmSync(dir, { recursive: true, force: true })
  })

  it("a handler past its ack timeout sees its signal aborted, whether it read the signal before or after; a handler that returns no promise completes at once", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    const aborted: Array<string> = []
    const gate: { release?: () => void } = {}
    await rt.subscribe("slow", "early", (_event, ctx) =>
      new Promise<void>((resolve) => {
        // Read at the start: aborted when the run times out.
        ctx.signal.addEventListener("abort", () => {
          aborted.push(`early ${ctx.attempt}`)
          resolve()
        })
      }), { from: "earliest", ackTimeoutMs: 100, maxAttempts: 1 })
    await rt.subscribe("slow", "late", (_event, ctx) =>
      new Promise<void>((resolve) => {
        // Read only after the timeout: already aborted.
        gate.release = () => {
          aborted.push(`late ${ctx.signal.aborted}`)
          resolve()
        }
      }), { from: "earliest", ackTimeoutMs: 100, maxAttempts: 1 })
    let syncRuns = 0
    await rt.subscribe("slow", "sync", () => {
      syncRuns++
    }, { from: "earliest" })
    await rt.publish("slow", 1)
    await waitFor(() => aborted.includes("early 1") && gate.release !== undefined && syncRuns === 1)
    await new Promise((resolve) => setTimeout(resolve, 150))
    gate.release!()
    await waitFor(() => aborted.includes("late true"))
    for (let i = 0; i < 100 && ((await rt.deadLetters({ group: "early" })).length === 0 || (await rt.deadLetters({ group: "late" })).length === 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    expect([(await rt.deadLetters({ group: "early" })).length, (await rt.deadLetters({ group: "late" })).length]).toEqual([1, 1])
    expect(await rt.getCursor("slow", "sync")).toBe(1)
  })

  it("a handler that blocks the process past its ack timeout fails that attempt when it returns (no timer could interrupt it): its publish is not written", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    let runs = 0
    await rt.subscribe("busy", "spinner", async (_e, ctx) => {
      runs++
      const until = Date.now() + 400
      while (Date.now() < until) {
        // blocking
      }
      await ctx.publish("busy.out", 1)
    }, { from: "earliest", ackTimeoutMs: 100, maxAttempts: 1 })
    await rt.publish("busy", 1)
    await waitFor(async () => (await rt.deadLetters({ group: "spinner" })).length === 1)
    const [dead] = await rt.deadLetters({ group: "spinner" })
    expect(dead!.errorMessage).toMatch(/did not finish within 100 ms \(ackTimeoutMs\)/)
    expect(runs).toBe(1)
    expect(await rt.read("busy.out", 0, 10)).toEqual([])
  })

  it("rejects with the typed error instances", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    await expect(rt.publish("bad topic", 1)).rejects.toBeInstanceOf(PublishError)
    await expect(rt.publish("t", { n: 1n })).rejects.toThrow(/BigInt/)
    await expect(rt.subscribe("t", "g", () => {}, { batchsize: 1 } as never)).rejects.toBeInstanceOf(SubscribeError)
    await expect(rt.ack("g", "nope")).rejects.toBeInstanceOf(AckError)
    await expect(createRuntime({ db: "/no/such/dir/x.db" })).rejects.toBeInstanceOf(StoreOpenError)
    await expect(createRuntime({} as never)).rejects.toBeInstanceOf(BusOptionsError)
  })

  it("misused calls reject with typed errors, never a bare TypeError: deliveries without a query, requeue of a number, read of a bad topic or range, a validate function that throws", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    expect(await rt.deliveries()).toEqual([])
    expect(await rt.deliveries(null as never)).toEqual([])
    await expect(rt.deliveries("g" as never)).rejects.toBeInstanceOf(GroupError)
    await expect(rt.requeue("g", 5 as never)).rejects.toBeInstanceOf(GroupError)
    await expect(rt.requeue("g", [1] as never)).rejects.toThrow(/requeue takes "all", an event id or an array of event ids/)
    await expect(rt.read("a b", 0, 1)).rejects.toBeInstanceOf(TopicError)
    await expect(rt.read("t", "x" as never, 1)).rejects.toThrow(/afterSeq must be an integer >= 0, got "x"/)
    await expect(rt.read("t", 0, -1)).rejects.toThrow(/limit must be a positive integer, got -1/)
    await expect(rt.read("t", 0, Number.NaN)).rejects.toThrow(/got NaN/)
    await expect(rt.latestByKey("t", "k" as never)).rejects.toThrow(`cannot read topic "t": latestByKey takes an array of string keys, got "k"`)
    await expect(rt.latestByKey("t", [1] as never)).rejects.toBeInstanceOf(TopicError)
    await expect(rt.latestByKey("bad topic", ["k"])).rejects.toBeInstanceOf(TopicError)
    await rt.defineTopic("nulled", null as never)
    // A typo in a query or an admin option must not widen the query or skip a `force`.
    await expect(rt.deadLetters({ grop: "g1" } as never)).rejects.toThrow(`unknown dead letter query field "grop"; valid fields: group, topic, eventId, limit`)
    await expect(rt.deadLetters("g1" as never)).rejects.toBeInstanceOf(GroupError)
    await expect(rt.deliveries({ grp: "g" } as never)).rejects.toThrow(/unknown delivery query field "grp"/)
    await rt.publish("purged", 1)
    await expect(rt.purgeTopic("purged", { forcee: true } as never)).rejects.toThrow(`cannot purge topic "purged": unknown option field "forcee"; valid fields: force`)
    await expect(rt.purgeTopic("purged", { force: "yes" } as never)).rejects.toThrow(/force must be true or false, got "yes"/)
    expect((await rt.read("purged", 0, 10)).length).toBe(1)
    await expect(rt.deleteGroup("g", { forse: true } as never)).rejects.toBeInstanceOf(GroupError)
    await expect(rt.prune({ topic: "t" } as never)).rejects.toThrow(/prune takes a topic name, or nothing for every topic/)
    await expect(rt.compact(5 as never)).rejects.toBeInstanceOf(MaintenanceError)
    await expect(rt.setCursor("t", "g", Number.NaN)).rejects.toThrow(/cannot place the cursor at NaN/)
    await expect(rt.defineTopic("c", 5 as never)).rejects.toThrow(`cannot define topic "c": the options must be an object, got 5`)
    expect(() => rt.live("a b")).toThrow(TopicError)
    expect(() => rt.live([])).toThrow(/a topic name or a non-empty array of them/)
    expect(() => rt.live("t", { bufferSize: 0 })).toThrow(/bufferSize must be an integer from 1 to 1000000, got 0/)
    expect(() => rt.live("t", { bufersize: 5 } as never)).toThrow(/unknown option "bufersize"/)
    await rt.defineTopic("checked", {
      validate: (p) => {
        if ((p as { n?: unknown }).n === 0) throw new Error("validator bug")
        return undefined
      }
    })
    const refused = await rt.publish("checked", { n: 0 }).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(PublishError)
    expect((refused as PublishError).reason).toBe("schema")
    expect(String((refused as Error).message)).toMatch(/its validate function threw: validator bug/)
    await rt.publish("checked", { n: 1 })
    await rt.defineTopic("counted", { payloadSchema: { n: "int" } })
    await expect(rt.publish("counted", { n: 2 ** 60 })).rejects.toThrow(/n must be an integer from -\(2\^53 - 1\) to 2\^53 - 1 \(exact in JSON\), got 1152921504606847000/)
    await rt.publish("counted", { n: Number.MAX_SAFE_INTEGER })
    expect((await rt.read("checked", 0, 10)).map((e) => e.payload)).toEqual([{ n: 1 }])
  })

  it("refuses store options that do not fit and names that are no option, before the database is touched", async () => {
    const dir = makeTmpDir()
    const db = join(dir, "bus.db")
    const refused = [
      [{ synchronous: "OFF" }, /synchronous must be "NORMAL" or "FULL", got "OFF"/],
      [{ synchronous: "1 garbage" }, /synchronous must be "NORMAL" or "FULL"/],
      [{ busyTimeoutMs: -1 }, /busyTimeoutMs must be an integer >= 0 \(milliseconds\), got -1/],
      [{ busyTimeoutMs: "abc" }, /busyTimeoutMs must be/],
      [{ walLimitBytes: -1 }, /walLimitBytes must be an integer >= 0, got -1/],
      [{ pageCacheBytes: "x" }, /pageCacheBytes must be an integer >= 65536, got "x"/],
      [{ maxConnections: 0 }, /maxConnections must be a positive integer, got 0/],
      [{ pollIntervalMsTypo: 10 }, /unknown option "pollIntervalMsTypo"; valid options: .*pollIntervalMs.*synchronous/]
    ] as const
    for (const [options, message] of refused) {
      const opened = createRuntime({ db, ...(options as object) })
      await expect(opened, JSON.stringify(options)).rejects.toBeInstanceOf(BusOptionsError)
      await expect(opened).rejects.toThrow(message)
    }
    expect(existsSync(db), "no database was created").toBe(false)
    // createRuntime's own options, refused the same way.
    const own = [
      [{}, /db must be a SQLite file path, ":memory:" or a postgres:\/\/ URL, got undefined/],
      [{ db: 5 }, /db must be a SQLite file path/],
      [{ db, logger: 5 }, /logger must be a function \(entry\) => void, got 5/],
      [{ db, tracing: "bogus" }, /tracing must be "env" or \{ url, encoding\?, serviceName\?, headers\?, exportIntervalMs\?, exportTimeoutMs\? \}, got "bogus"/],
      [{ db, tracing: { url: "http://c:4318/v1/traces", encodng: "json" } }, /unknown tracing option "encodng"/],
      [{ db, tracing: { url: "collector:4318" } }, /tracing.url must be an http\(s\) URL/]
    ] as const
    for (const [options, message] of own) {
      const opened = createRuntime(options as never)
      await expect(opened, JSON.stringify(options)).rejects.toBeInstanceOf(BusOptionsError)
      await expect(opened).rejects.toThrow(message)
    }
    expect(existsSync(db), "no database was created").toBe(false)
    const rt = await createRuntime({ db, synchronous: "FULL", busyTimeoutMs: 0, walLimitBytes: 0, pageCacheBytes: 65536 })
    open.push(rt)
    await rt.publish("t", 1)
  })

  it("manual ack (ctx's methods destructured), dead letters and requeue from plain async code", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    let healthy = false
    const attempts: Array<number> = []
    await rt.subscribe("jobs", "workers", async (_event, { attempt, ack }) => {
      attempts.push(attempt)
      if (!healthy) throw new Error("upstream down")
      await ack()
    }, { from: "earliest", ackMode: "manual", maxAttempts: 2, backoff: { initialMs: 1, jitter: 0 } })
    const job = await rt.publish("jobs", { task: "resize" })
    await waitFor(() => attempts.length === 2)
    await waitFor(() => rt.groupStats("workers")?.buffered === 0)
    const [dead] = await rt.deadLetters({ group: "workers" })
    expect(dead).toMatchObject({ eventId: job.id, attempts: 2, errorMessage: "upstream down" })
    healthy = true
    expect(await rt.requeue("workers", "all")).toBe(1)
    await waitFor(() => attempts.length === 3)
    await waitFor(() => rt.groupStats("workers")?.buffered === 0)
    expect(await rt.deadLetters()).toEqual([])
  })

  it("a handler's failures are failed runs: a synchronous throw, a rejection, and a thenable whose then throws", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    const handlers: Record<string, () => unknown> = {
      sync: () => {
        throw new Error("thrown at once")
      },
      rejected: () => Promise.reject(new Error("rejected later")),
      thenable: () => ({
        then() {
          throw new Error("then threw")
        }
      })
    }
    for (const [name, handler] of Object.entries(handlers)) {
      await rt.subscribe("jobs", name, handler, { from: "earliest", maxAttempts: 1 })
    }
    await rt.publish("jobs", { n: 1 })
    await waitFor(async () => (await rt.deadLetters()).length === 3)
    const dead = Object.fromEntries((await rt.deadLetters()).map((d) => [d.group, d.errorMessage]))
    expect(dead).toEqual({ sync: "thrown at once", rejected: "rejected later", thenable: "then threw" })
  })

  it("close is idempotent and a closed runtime refuses work", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    await rt.close()
    await rt.close()
    await expect(rt.publish("t", 1)).rejects.toThrow()
  })

  it("close lets the publishes under way finish (resolved and stored, never rejected yet written); later calls reject with BusClosedError", async () => {
    const dir = makeTmpDir()
    const db = join(dir, "events.db")
    const rt = await createRuntime({ db })
    open.push(rt)
    const single = rt.publish("t", 1)
    const batch = rt.publishAll([{ topic: "t", payload: 2 }, { topic: "t", payload: 3 }])
    const closed = rt.close()
    await expect(rt.publish("t", 4)).rejects.toBeInstanceOf(BusClosedError)
    const [one, more] = await Promise.all([single, batch])
    await closed
    await expect(rt.read("t", 0, 10)).rejects.toBeInstanceOf(BusClosedError)
    const again = await createRuntime({ db })
    open.push(again)
    const stored = await again.read("t", 0, 10)
    expect(stored.map((e) => [e.id, e.payload])).toEqual([one, ...more].map((e) => [e.id, e.payload]))
    rmSync(dir, { recursive: true, force: true })
  })

  it("compact deletes superseded events of a compacted topic once the group has them; latestByKey reads the latest per key", async () => {
    const dir = makeTmpDir()
    const rt = await createRuntime({ db: join(dir, "events.db"), maintenance: false })
    open.push(rt)
    await rt.defineTopic("prices", { compaction: true, deleteRetentionMs: 0 })
    const published = []
    for (const [key, payload] of [["a", 1], ["b", 1], ["a", 2], ["c", 1], ["a", 3], ["b", 2], ["c", null]] as const) {
      published.push(await rt.publish("prices", payload, { key }))
    }
    const latest = async () => Object.fromEntries([...await rt.latestByKey("prices", ["a", "b", "c", "d"])].map(([k, e]) => [k, e.payload]))
    // The tombstoned key c and the unknown key d are absent.
    expect(await latest()).toEqual({ a: 3, b: 2 })

    // A group that has consumed nothing holds every superseded event back.
    await rt.setCursor("prices", "view", 0)
    const [held] = await rt.compact("prices")
    expect(held).toMatchObject({ topic: "prices", deleted: 0, waiting: 4, slowestGroup: "view" })
    expect((await rt.read("prices", 0, 100)).length).toBe(7)

    // Once it has consumed them, they go; the latest of each key stays (and the tombstone's key disappears).
    const handled: Array<unknown> = []
    const unsubscribe = await rt.subscribe("prices", "view", (event) => {
      handled.push(event.payload)
    })
    await waitFor(() => handled.length === 7)
    await unsubscribe()
    expect(await rt.getCursor("prices", "view")).toBe(published.at(-1)!.seq)
    const [done] = await rt.compact()
    expect(done).toMatchObject({ topic: "prices", deleted: 5, superseded: 4, tombstones: 1, waiting: 0 })
    expect((await rt.read("prices", 0, 100)).map((e) => [e.key, e.payload])).toEqual([["a", 3], ["b", 2]])
    expect(await latest()).toEqual({ a: 3, b: 2 })
    expect((await rt.latestByKey("prices", ["a"])).get("a")?.id).toBe(published[4]!.id)
    expect(await rt.latestByKey("prices", [])).toEqual(new Map())

    await expect(rt.compact("nope")).rejects.toBeInstanceOf(MaintenanceError)
    await rt.defineTopic("plain")
    await expect(rt.compact("plain")).rejects.toThrow(/the topic is not compacted/)
    await expect(rt.latestByKey("prices", "a" as never)).rejects.toBeInstanceOf(TopicError)
    await rt.close()
    await expect(rt.compact()).rejects.toBeInstanceOf(BusClosedError)
    await expect(rt.latestByKey("prices", ["a"])).rejects.toBeInstanceOf(BusClosedError)
    rmSync(dir, { recursive: true, force: true })
  })

  it("prune deletes events past a count retention once the group has consumed them", async () => {
    const dir = makeTmpDir()
    const rt = await createRuntime({ db: join(dir, "events.db"), maintenance: false })
    open.push(rt)
    await rt.defineTopic("log", { retention: { maxCount: 3 } })
    for (let n = 1; n <= 10; n++) await rt.publish("log", n)
    const payloads = async () => (await rt.read("log", 0, 100)).map((e) => e.payload)

    // The group has consumed 1..4: only those of the 7 expired events go.
    await rt.setCursor("log", "g", 4)
    const [held] = await rt.prune("log")
    expect(held).toMatchObject({ topic: "log", deleted: 4, waitingFor: "g", skipped: [] })
    expect(await payloads()).toEqual([5, 6, 7, 8, 9, 10])

    const handled: Array<unknown> = []
    const unsubscribe = await rt.subscribe("log", "g", (event) => {
      handled.push(event.payload)
    })
    await waitFor(() => handled.length === 6)
    await unsubscribe()
    expect(handled).toEqual([5, 6, 7, 8, 9, 10])
    const [done] = await rt.prune()
    expect(done).toMatchObject({ topic: "log", deleted: 3, waitingFor: null, skipped: [] })
    expect(await payloads()).toEqual([8, 9, 10])
    // Seqs are never reused.
    expect((await rt.publish("log", 11)).seq).toBe(11)

    await rt.defineTopic("kept")
    await expect(rt.prune("kept")).rejects.toBeInstanceOf(MaintenanceError)
    await rt.close()
    await expect(rt.prune()).rejects.toBeInstanceOf(BusClosedError)
    rmSync(dir, { recursive: true, force: true })
  })
})
