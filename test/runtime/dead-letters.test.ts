/**
 * Dead letters, requeues and held keys on the Promise API, in real time, on every store factory
 * (each case once a bug): requeued dead letters settled once under a requeue race, a hold that
 * survives a second failure, a held key that must not starve the other keys, and thrown values
 * that cannot be printed the usual way.
 */
import { describe, expect, it } from "vitest"
import { freshRuntimes, sleep, waitFor } from "../helpers/runtimes.ts"
import { storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("dead letters, requeues and held keys ($name)", (factory) => {
  const runtime = freshRuntimes(factory)

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
})
