/**
 * Moving cursors and start positions on the Promise API, on every store factory: `setCursor` with
 * every start form (and the bad ones refused), and `from: { afterId }` on a fan-in group.
 */
import { describe, expect, it } from "vitest"
import { createRuntime, GroupError, SubscribeError, TopicError } from "../../src/index.ts"
import { freshRuntimes, waitFor } from "../helpers/runtimes.ts"
import { storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("cursors and start positions ($name)", (factory) => {
  const runtime = freshRuntimes(factory)

  it("setCursor takes every start form and refuses bad ones with GroupError", async () => {
    const rt = await runtime()
    const [e1, , e3] = await rt.publishAll([1, 2, 3, 4].map((payload) => ({ topic: "t", payload })))
    await rt.setCursor("t", "g", "seq:3")
    expect(await rt.getCursor("t", "g")).toBe(2)
    // id:X starts with X (as seq:N starts with N), afterId:X just after it: the same in every API.
    await rt.setCursor("t", "g", `id:${e3!.id}`)
    expect(await rt.getCursor("t", "g")).toBe(2)
    await rt.setCursor("t", "g", `afterId:${e3!.id}`)
    expect(await rt.getCursor("t", "g")).toBe(3)
    await rt.setCursor("t", "g", { id: e1!.id })
    expect(await rt.getCursor("t", "g")).toBe(0)
    await rt.setCursor("t", "g", { afterId: e1!.id })
    expect(await rt.getCursor("t", "g")).toBe(1)
    await rt.setCursor("t", "g", "latest")
    expect(await rt.getCursor("t", "g")).toBe(4)
    for (const bad of ["bogus", { ts: "not a date" }, 1.5, -1, { afterId: "nope" }, { id: "nope" }, "id:"]) {
      await expect(rt.setCursor("t", "g", bad as never)).rejects.toBeInstanceOf(GroupError)
    }
    // A bare number is the ack floor, as getCursor answers it: setCursor(getCursor()) moves nothing.
    await rt.setCursor("t", "g", 2)
    expect(await rt.getCursor("t", "g")).toBe(2)
    await rt.setCursor("t", "g", (await rt.getCursor("t", "g"))!)
    expect(await rt.getCursor("t", "g")).toBe(2)
    // Names that could never be a topic or a group are refused, and no cursor is written for them.
    await expect(rt.setCursor("bad topic!", "g", 1)).rejects.toThrow(`cannot move a cursor on topic "bad topic!"`)
    await expect(rt.setCursor("", "g", 1)).rejects.toBeInstanceOf(TopicError)
    await expect(rt.setCursor("t", "bad group!", 1)).rejects.toThrow(/a group name must be 1-255 letters/)
    expect((await rt.describeGroup("g"))?.positions.map((p) => p.cursor.topic)).toEqual(["t"])
    expect(await rt.getCursor("t", "bad group!")).toBeUndefined()
  })

  it("from afterId starts every topic of a fan-in group after that event; an unknown id is refused", async () => {
    const rt = await runtime()
    const events = await rt.publishAll(["a1", "b1", "a2", "b2", "a3", "b3"].map((p) => ({ topic: p[0]!, payload: p })))
    const seen: Array<unknown> = []
    await rt.subscribe(["a", "b"], "g", async (e) => {
      seen.push(e.payload)
    }, { from: { afterId: events[2]!.id }, ordering: "strict" })
    await waitFor(() => seen.length === 3)
    expect(seen).toEqual(["b2", "a3", "b3"])
    await expect(rt.subscribe("a", "g2", async () => {}, { from: { afterId: "missing" } })).rejects.toBeInstanceOf(SubscribeError)
  })
})

describe.each(storeFactories)("a topic deleted under a live consumer ($name)", (factory) => {
  it("the consumer keeps its place: its cursor is written again, a deletion without force is refused again, and a restart redoes nothing", async () => {
    const location = factory.shared()
    const [a, admin] = [await createRuntime({ db: location }), await createRuntime({ db: location })]
    try {
      const seen: Array<unknown> = []
      const handler = async (e: { payload: unknown }, ctx: { publish: (topic: string, payload: unknown) => Promise<unknown> }) => {
        seen.push(e.payload)
        await ctx.publish("done", e.payload)
      }
      await a.subscribe("t", "g", handler, { from: "earliest" })
      await admin.publish("t", 1)
      await waitFor(() => seen.length === 1)
      await admin.deleteTopic("t", { force: true })
      await admin.publish("t", 4)
      await admin.publish("t", 5)
      await waitFor(() => seen.length === 3)
      // Its progress is stored again, so it is seen consuming.
      await waitFor(async () => ((await admin.getCursor("t", "g")) ?? 0) >= 3)
      await expect(admin.purgeTopic("t")).rejects.toThrow(/consumed by/)
      await a.close()
      const again = await createRuntime({ db: location })
      const rerun: Array<unknown> = []
      await again.subscribe("t", "g", async (e) => {
        rerun.push(e.payload)
      }, { from: "earliest" })
      await new Promise((resolve) => setTimeout(resolve, 300))
      await again.close()
      expect(rerun).toEqual([])
      expect((await admin.read("done", 0, 100)).map((e) => e.payload)).toEqual([1, 4, 5])
    } finally {
      await a.close()
      await admin.close()
      factory.drop(location)
    }
  }, 30_000)
})

describe.each(storeFactories)("lookups by an id or key holding NUL ($name)", (factory) => {
  const runtime = freshRuntimes(factory)
  it("find nothing, as on every dialect (Postgres text cannot hold NUL: it refused the parameter with a StoreError)", async () => {
    const rt = await runtime()
    await rt.publish("t", 1, { key: "a" })
    expect([...(await rt.latestByKey("t", ["a\u0000b", "a"])).keys()]).toEqual(["a"])
    expect(await rt.deadLetters({ eventId: "a\u0000" })).toEqual([])
    expect(await rt.deliveries({ eventId: "a\u0000" })).toEqual([])
    await expect(rt.setCursor("t", "g", "id:a\u0000")).rejects.toThrow(/no event has that id/)
  })
})
