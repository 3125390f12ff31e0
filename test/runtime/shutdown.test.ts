/**
 * Stopping groups and closing the runtime on the Promise API, in real time, on every store factory
 * (each case once a bug): subscribing again while the previous subscription drains, closing while
 * handlers publish and ack, a handler stopping its own group or closing the runtime, and every
 * method after close.
 */
import { describe, expect, it } from "vitest"
import * as Deferred from "effect/Deferred"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { Bus, BusClosedError, createRuntime, type PublishError } from "../../src/index.ts"
import { freshRuntimes, sleep, waitFor } from "../helpers/runtimes.ts"
import { storeFactories } from "../helpers/stores.ts"

describe.each(storeFactories)("stopping groups and closing the runtime ($name)", (factory) => {
  const runtime = freshRuntimes(factory)

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
    // The same through the Effect API: the bus's scope closes while the handler sleeps.
    const location = factory.shared()
    let handled = false
    const job = await Effect.runPromise(Effect.gen(function*() {
      const bus = yield* Bus
      const running = yield* Deferred.make<void>()
      yield* bus.subscribe("jobs", "workers", (_e, ctx) =>
        Deferred.succeed(running, undefined).pipe(
          Effect.andThen(Effect.sleep(80)),
          Effect.andThen(ctx.publish("jobs.done", { ok: true })),
          Effect.andThen(Effect.sync(() => (handled = true)))
        ), { from: "earliest" })
      const published = yield* bus.publish("jobs", 1)
      yield* Deferred.await(running)
      return published
    }).pipe(Effect.provide(Bus.open(location))))
    expect(handled, "the running handler finished before the bus closed").toBe(true)
    const reopened = await createRuntime({ db: location })
    expect((await reopened.read("jobs.done", 0, 10)).map((e) => e.payload)).toEqual([{ ok: true }])
    expect(await reopened.getCursor("jobs", "workers")).toBe(job.seq)
    await reopened.close()
    await factory.drop(location)
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

  for (const [how, ackMode] of [["unsubscribe", "manual"], ["unsubscribe", "auto"], ["close", "manual"], ["close", "auto"]] as const) {
    it(`a handler still running after ${how}'s drain timeout (${ackMode} acks) has its late ack and publish refused, and the event comes back`, async () => {
      const location = factory.shared()
      const rt = await createRuntime({ db: location, logger: () => {} })
      const late: Array<string> = []
      let finished!: () => void
      const lateDone = new Promise<void>((resolve) => (finished = resolve))
      const stop = await rt.subscribe("t", "g", async (_e, ctx) => {
        await sleep(400)
        await ctx.publish("t.out", 1).then(() => late.push("publish resolved"), (e: unknown) => {
          late.push(`publish ${(e as Error).constructor.name} ${(e as PublishError).reason}`)
          // It says what happened (the drain interrupted it), not that the handler published late.
          if (!/the group stopped while it ran .*it will be delivered again/.test((e as Error).message)) late.push((e as Error).message)
        })
        await ctx.transaction().then(() => late.push("transaction opened"), (e: unknown) => late.push((e as Error).message.replace(/: the delivery.*/, "")))
        if (ackMode === "manual") await ctx.ack().then(() => late.push("ack resolved"), (e: unknown) => late.push(`ack ${(e as Error).constructor.name}`))
        finished()
      }, { from: "earliest", drainTimeoutMs: 100, ackMode })
      await rt.publish("t", "A")
      await waitFor(async () => (await rt.groupStats("g"))?.running === 1)
      if (how === "unsubscribe") await stop()
      else await rt.close()
      await lateDone
      const refusedTransaction = "cannot open the handler's transaction"
      expect(late).toEqual(ackMode === "manual"
        ? ["publish PublishError settled", refusedTransaction, "ack AckError"]
        : ["publish PublishError settled", refusedTransaction])
      const again = how === "close" ? await createRuntime({ db: location, logger: () => {} }) : rt
      expect(await again.read("t.out", 0, 10)).toEqual([])
      const seen: Array<number> = []
      await again.subscribe("t", "g", (_e, ctx) => {
        seen.push(ctx.attempt)
      }, { from: "earliest" })
      await waitFor(() => seen.length === 1)
      await again.close()
      await factory.drop(location)
    }, 20_000)
  }

  it("after close every method rejects with BusClosedError", async () => {
    const rt = await createRuntime({ db: factory.fresh() })
    await rt.close()
    for (const call of [
      () => rt.publish("t", 1), () => rt.publishAll([]), () => rt.subscribe("t", "g", async () => {}), () => rt.getCursor("t", "g"),
      () => rt.read("t", 0, 1), () => rt.deadLetters(), () => rt.requeue("g", "all"), () => rt.ack("g", "x")
    ]) {
      await expect(call()).rejects.toBeInstanceOf(BusClosedError)
    }
    // The synchronous ones throw it.
    expect(() => rt.groupStats("g")).toThrow(BusClosedError)
    expect(() => rt.onEvent(() => {})).toThrow(BusClosedError)
    expect(() => rt.live("t")).toThrow(BusClosedError)
  })
})

describe("the Effect API's bus after its layer's scope closed", () => {
  it("fails its calls with BusClosedError, not with the closed store's StoreError", async () => {
    const calls = await Effect.runPromise(Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Bus.open(":memory:"), scope)
      const bus = Context.get(context, Bus)
      yield* bus.publish("t", 1)
      yield* Scope.close(scope, Exit.void)
      const failures = []
      for (const call of [
        bus.read("t", 0, 10), bus.getCursor("t", "g"), bus.setCursor("t", "g", 0), bus.latestByKey("t", ["k"]), bus.deadLetters(), bus.deliveries(),
        bus.requeue("g", "all"), bus.dropDeadLetter("g", "x"), bus.describeGroup("g"), bus.defineTopic("x"), bus.compact(), bus.prune(),
        bus.deleteGroup("g"), bus.purgeTopic("t"), bus.deleteTopic("t"), bus.publish("t", 2)
      ] as ReadonlyArray<Effect.Effect<unknown, unknown>>) {
        failures.push(yield* Effect.flip(call))
      }
      return failures
    }))
    for (const failure of calls) expect(failure).toBeInstanceOf(BusClosedError)
  })
})
