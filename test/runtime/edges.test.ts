/**
 * Edge cases a demanding user hits (each once a bug): requeue races, resubscribing during a drain,
 * closing while handlers publish and ack, holds that survive a second failure, a held key that must
 * not starve the others, exotic thrown values, stopping a group from its own handler, cursor and
 * start-position inputs, ids that are not valid Unicode, and everything after close. On every
 * store factory.
 */
import { afterEach, describe, expect, it } from "vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AckError, Bus, BusClosedError, createRuntime, GroupError, PublishError, type Runtime, SubscribeError, TopicError } from "../../src/index.ts"
import { storeFactories } from "../helpers/stores.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const waitFor = async (check: () => boolean | Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await sleep(5)
  }
}

describe.each(storeFactories)("edge cases ($name)", (factory) => {
  const open: Array<Runtime> = []
  const runtime = async () => {
    const rt = await createRuntime({ db: factory.fresh() })
    open.push(rt)
    return rt
  }
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })

  it("requeued dead letters that succeed are settled once, even when requeued one by one under load", async () => {
    const rt = await runtime()
    const succeeded = new Map<number, number>()
    const failedOnce = new Set<number>()
    await rt.subscribe("t", "g", async (e) => {
      const n = (e.payload as { n: number }).n
      if (!failedOnce.has(n)) {
        failedOnce.add(n)
        throw new Error("first run fails")
      }
      await sleep(Math.random() * 2)
      succeeded.set(n, (succeeded.get(n) ?? 0) + 1)
    }, { from: "earliest", maxAttempts: 1 })
    await rt.publishAll(Array.from({ length: 120 }, (_, n) => ({ topic: "t", payload: { n }, key: `k${n}` })))
    await waitFor(async () => (await rt.deadLetters({ group: "g" })).length === 120)
    for (const d of await rt.deadLetters({ group: "g" })) {
      await rt.requeue("g", d.eventId)
      await sleep(Math.random() * 2)
    }
    await waitFor(() => succeeded.size === 120)
    await sleep(100)
    expect(await rt.deadLetters({ group: "g" })).toEqual([])
    expect([...succeeded.values()].filter((c) => c > 1)).toEqual([])
  }, 30_000)

  it("subscribing again while the previous subscription drains never runs two sessions of the group", async () => {
    const rt = await runtime()
    let running = 0
    let peak = 0
    const handler = async () => {
      running++
      peak = Math.max(peak, running)
      await sleep(40)
      running--
    }
    const stopA = await rt.subscribe("t", "g", handler, { from: "earliest" })
    await rt.publishAll(Array.from({ length: 4 }, (_, n) => ({ topic: "t", payload: n, key: "k" })))
    await waitFor(() => running === 1)
    const draining = stopA()
    await rt.subscribe("t", "g", handler, { from: "earliest" })
    await draining
    await waitFor(async () => (await rt.getCursor("t", "g")) === 4)
    expect(peak).toBe(1)
  }, 20_000)

  it("close lets running handlers finish their publishes and manual acks", async () => {
    const rt = await createRuntime({ db: factory.fresh() })
    let started = false
    const results: Array<string> = []
    await rt.subscribe("jobs", "workers", async (_e, ctx) => {
      started = true
      await sleep(80)
      await ctx.publish("jobs.done", { ok: true })
      await ctx.ack()
      results.push("done")
    }, { from: "earliest", ackMode: "manual", maxAttempts: 1 })
    await rt.publish("jobs", { n: 1 })
    await waitFor(() => started)
    await rt.close()
    expect(results).toEqual(["done"])
    const effectResult = await Effect.runPromise(Effect.gen(function*() {
      const bus = yield* Bus
      let handled = false
      yield* bus.subscribe("jobs", "workers", (_e, ctx) =>
        Effect.sleep(50).pipe(Effect.andThen(ctx.publish("jobs.done", { ok: true })), Effect.andThen(Effect.sync(() => (handled = true)))), { from: "earliest" })
      yield* bus.publish("jobs", 1)
      return bus
    }).pipe(Effect.provide(Bus.open(factory.fresh())), Effect.map(() => "closed")))
    expect(effectResult).toBe("closed")
  }, 20_000)

  it("with onPoison hold, a requeued poison event that fails again keeps its key held", async () => {
    const rt = await runtime()
    const ran: Array<string> = []
    await rt.subscribe("t", "g", async (e) => {
      ran.push(String(e.payload))
      if (e.payload === "P") throw new Error("still poisoned")
    }, { from: "earliest", maxAttempts: 1, onPoison: "hold" })
    const poison = await rt.publish("t", "P", { key: "k" })
    await rt.publish("t", "L", { key: "k" })
    await waitFor(() => rt.groupStats("g")?.heldKeys.includes("k") === true)
    await rt.requeue("g", poison.id)
    await waitFor(() => ran.filter((r) => r === "P").length === 2)
    await sleep(50)
    expect(ran).toEqual(["P", "P"])
    expect(rt.groupStats("g")?.heldKeys).toEqual(["k"])
    expect((await rt.deadLetters({ group: "g" }))[0]?.holdsKey).toBe(true)
    await rt.dropDeadLetter("g", poison.id)
    await waitFor(() => ran.includes("L"))
  }, 20_000)

  it("a held key with many later events does not starve the other keys (they are parked)", async () => {
    const rt = await runtime()
    const handled: Array<string> = []
    let fixed = false
    await rt.subscribe("t", "g", async (e) => {
      if (e.key === "bad" && !fixed) throw new Error("poison")
      handled.push(e.key!)
    }, { from: "earliest", maxAttempts: 1, onPoison: "hold", batchSize: 20 })
    await rt.publishAll(Array.from({ length: 150 }, (_, n) => ({ topic: "t", payload: n, key: "bad" })))
    await rt.publishAll(Array.from({ length: 10 }, (_, n) => ({ topic: "t", payload: n, key: `good${n}` })))
    await waitFor(() => handled.length === 10)
    const stats = rt.groupStats("g")!
    expect(stats.parked).toBeGreaterThan(100)
    expect(stats.buffered).toBeLessThanOrEqual(40)
    fixed = true
    const [dl] = await rt.deadLetters({ group: "g" })
    await rt.dropDeadLetter("g", dl!.eventId)
    await waitFor(() => handled.length === 10 + 149)
    expect(rt.groupStats("g")).toMatchObject({ parked: 0, heldKeys: [] })
    expect(await rt.deadLetters({ group: "g" })).toEqual([])
  }, 20_000)

  it("exotic thrown values are counted and dead-lettered with printable, bounded messages", async () => {
    const rt = await runtime()
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    const throwing = Object.assign(new Error("x"), {})
    Object.defineProperty(throwing, "message", { get: () => { throw new Error("nope") } })
    const cases: Array<unknown> = [
      Object.assign(new Error(), { message: { code: 1 } }),
      { toString() { throw new Error("no") }, big: 1n },
      revoked.proxy,
      throwing,
      "x".repeat(100_000),
      42
    ]
    await rt.subscribe("t", "g", async (e) => {
      throw cases[(e.payload as number)]
    }, { from: "earliest", maxAttempts: 2, backoff: { initialMs: 1, jitter: 0 } })
    await rt.publishAll(cases.map((_, i) => ({ topic: "t", payload: i, key: `k${i}` })))
    await waitFor(async () => (await rt.deadLetters({ group: "g" })).length === cases.length)
    const messages = (await rt.deadLetters({ group: "g" })).map((d) => d.errorMessage)
    expect(messages[0]).toBe("{\"code\":1}")
    expect(messages[1]).toBe("an error that cannot be printed")
    expect(messages[2]).toBe("an error that cannot be printed")
    expect(messages[3]).toBe("an error whose message cannot be read")
    expect(messages[4]!.length).toBeLessThan(9000)
    expect(messages[5]).toBe("42")
    for (const d of await rt.deadLetters({ group: "g" })) expect(d.attempts).toBe(2)
  }, 20_000)

  it("a handler can unsubscribe its own group (and close the runtime) without deadlock", async () => {
    const rt = await createRuntime({ db: factory.fresh() })
    let stop: () => Promise<void> = async () => {}
    let took = -1
    stop = await rt.subscribe("t", "g", async (e) => {
      if (e.payload === "stop") {
        const t0 = Date.now()
        await stop()
        took = Date.now() - t0
      }
    }, { from: "earliest" })
    await rt.publishAll([{ topic: "t", payload: "a" }, { topic: "t", payload: "stop" }])
    await waitFor(() => took >= 0)
    expect(took).toBeLessThan(1000)
    await waitFor(async () => (await rt.getCursor("t", "g")) === 2)
    let closedFromHandler = -1
    await rt.subscribe("t", "h", async () => {
      const t0 = Date.now()
      await rt.close()
      closedFromHandler = Date.now() - t0
    }, { from: "earliest" })
    await waitFor(() => closedFromHandler >= 0)
    expect(closedFromHandler).toBeLessThan(1000)
  }, 20_000)

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

  it("refuses ids and keys that are not valid Unicode, counts headers in the size limit, and catches throwing payloads", async () => {
    const rt = await createRuntime({ db: factory.fresh(), maxPayloadBytes: 1024 })
    open.push(rt)
    await expect(rt.publish("t", 1, { id: "id-\uD800" })).rejects.toBeInstanceOf(PublishError)
    await expect(rt.publish("t", 1, { key: "k-\uDC00" })).rejects.toThrow(/lone UTF-16 surrogate/)
    await expect(rt.publish("t", 1, { headers: { big: "x".repeat(5000) } })).rejects.toThrow(/over the limit of 1024 bytes/)
    const hostile = { get boom() { throw new Error("getter exploded") } }
    await expect(rt.publish("t", hostile)).rejects.toThrow(/reading the payload failed: getter exploded/)
    expect(await rt.read("t", 0, 10)).toEqual([])
  })

  it("bad handlers and topic options are refused with typed errors", async () => {
    const rt = await runtime()
    await expect(rt.subscribe("t", "g", undefined as never)).rejects.toBeInstanceOf(SubscribeError)
    await expect(rt.defineTopic("t", { schema: { not: "a schema" } } as never)).rejects.toBeInstanceOf(TopicError)
    await expect(rt.defineTopic("t", { retention: 5 } as never)).rejects.toThrow(/retention must be an object/)
    await expect(rt.defineTopic("t", { description: 5 } as never)).rejects.toThrow(/description must be a string/)
    await rt.defineTopic("s", { schema: Schema.Struct({ n: Schema.Number }) })
    await expect(rt.publish("s", { n: "x" })).rejects.toThrow(/schema/)
  })

  it("nack delays must be milliseconds >= 0, and an ack of a delivery that timed out is refused", async () => {
    const rt = await runtime()
    const outcomes: Array<string> = []
    await rt.subscribe("t", "g", async (e, ctx) => {
      if (e.payload === "nan") {
        await ctx.nack(Number.NaN).catch((err) => outcomes.push(err instanceof AckError ? "AckError" : "other"))
      } else {
        await sleep(120)
        await ctx.ack().catch((err) => outcomes.push(err instanceof AckError ? "late ack refused" : "other"))
      }
    }, { from: "earliest", ackMode: "manual", ackTimeoutMs: 60, maxAttempts: 1 })
    await rt.publishAll([{ topic: "t", payload: "nan", key: "a" }, { topic: "t", payload: "slow", key: "b" }])
    await waitFor(() => outcomes.length === 2)
    expect(outcomes.sort()).toEqual(["AckError", "late ack refused"])
  }, 20_000)

  it("after close every method rejects with BusClosedError", async () => {
    const rt = await createRuntime({ db: factory.fresh() })
    await rt.close()
    for (const call of [
      () => rt.publish("t", 1), () => rt.publishAll([]), () => rt.subscribe("t", "g", async () => {}), () => rt.getCursor("t", "g"),
      () => rt.read("t", 0, 1), () => rt.deadLetters(), () => rt.requeue("g", "all"), () => rt.ack("g", "x")
    ]) {
      await expect(call()).rejects.toBeInstanceOf(BusClosedError)
    }
  })
})
