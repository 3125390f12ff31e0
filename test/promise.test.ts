/** The Promise facade: the whole surface from plain async code, and typed rejections. */
import { afterEach, describe, expect, it } from "vitest"
import { rmSync } from "node:fs"
import { join } from "node:path"
import { AckError, createRuntime, PublishError, type Runtime, StoreOpenError, SubscribeError } from "../src/index.ts"
import { makeTmpDir } from "./helpers/tmp.ts"

const waitFor = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

describe("createRuntime (Promise facade)", () => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
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
      await ctx.publish("invoices", { order: (event.payload as { id: number }).id })
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

  it("rejects with the typed error instances", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    await expect(rt.publish("bad topic", 1)).rejects.toBeInstanceOf(PublishError)
    await expect(rt.publish("t", { n: 1n })).rejects.toThrow(/BigInt/)
    await expect(rt.subscribe("t", "g", () => {}, { batchsize: 1 } as never)).rejects.toBeInstanceOf(SubscribeError)
    await expect(rt.ack("g", "nope")).rejects.toBeInstanceOf(AckError)
    await expect(createRuntime({ db: "/no/such/dir/x.db" })).rejects.toBeInstanceOf(StoreOpenError)
    await expect(createRuntime({} as never)).rejects.toThrow(/needs \{ db/)
  })

  it("manual ack, dead letters and requeue from plain async code", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    open.push(rt)
    let healthy = false
    const attempts: Array<number> = []
    await rt.subscribe("jobs", "workers", async (event, ctx) => {
      attempts.push(ctx.attempt)
      if (!healthy) throw new Error("upstream down")
      await ctx.ack()
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

  it("close is idempotent and a closed runtime refuses work", async () => {
    const rt = await createRuntime({ db: ":memory:" })
    await rt.close()
    await rt.close()
    await expect(rt.publish("t", 1)).rejects.toThrow()
  })
})
