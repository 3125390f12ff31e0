/**
 * The bus's metrics without the CLI: the families' names and labels, label hygiene on a real bus
 * (no event id, key, header or payload value in the text), the bound on label values, two buses in
 * one process keeping separate figures, lag read at scrape time, `metrics: false`, the outbox's
 * pending gauge, and serving them over HTTP (the Promise `rt.serveHttp`, the Effect
 * `MetricsHttp.layer`), refused on a non-loopback address unless allowed. The bus-level tests run
 * on every dialect of `storeFactories`.
 */
import SqliteDatabase from "better-sqlite3"
import { Context, Deferred, Effect, Layer } from "effect"
import { Kysely, SqliteDialect } from "kysely"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { request as httpRequest } from "node:http"
import { describe, expect, it } from "vitest"
import { Bus } from "../../src/facade/Bus.ts"
import { createOutbox } from "../../src/facade/createOutbox.ts"
import { createRuntime } from "../../src/facade/createRuntime.ts"
import { BusMetrics, maxLabelValues, otherLabel, Recorder } from "../../src/observability/BusMetrics.ts"
import { Store } from "../../src/store/Store.ts"
import { BusOptionsError } from "../../src/runtime/busErrors.ts"
import { HttpServeError, isLoopback, MetricsHttp, parseHttpAddress } from "../../src/observability/httpServer.ts"
import { families } from "../../src/observability/metrics.ts"
import { storeFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { declared, samples, total } from "./prometheusText.ts"

const runOn = (location: () => string) => <A, E>(effect: Effect.Effect<A, E, Bus | BusMetrics>) =>
  Effect.runPromise(Effect.scoped(effect).pipe(Effect.provide(Bus.open(location()))) as Effect.Effect<A, E>)

const waitUntil = async (check: () => Promise<boolean> | boolean, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out")
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe("the metric families", () => {
  it("are named sib_*, in base units, with bounded labels only", () => {
    const names = Object.values(families).map((f) => f.name)
    expect(new Set(names).size).toBe(names.length)
    for (const f of Object.values(families)) {
      expect(f.name).toMatch(/^sib_[a-z_]+$/)
      if (f.kind === "counter") expect(f.name).toMatch(/_total$/)
      if (f.name.includes("duration") || f.name.endsWith("lag_seconds")) expect(f.name).toMatch(/_seconds$/)
      for (const l of f.labels) expect(["topic", "group", "result", "table"]).toContain(l)
      if (f.kind === "histogram") expect(f.boundaries?.length).toBeGreaterThan(3)
    }
  })
})

describe.each(storeFactories)("the metrics of a bus ($name)", (factory) => {
  const run = runOn(factory.fresh)

  it("no event id, key, header or payload value reaches the text; labels are topic, group, result and le", async () => {
    const text = await run(Effect.gen(function*() {
      const bus = yield* Bus
      const metrics = yield* BusMetrics
      yield* bus.subscribe("orders", "billing", (e) =>
        (e.payload as { fail: boolean }).fail ? Effect.fail(new Error("payment-secret-detail")) : Effect.void,
        { from: "earliest", maxAttempts: 2, backoff: { initialMs: 1, maxMs: 1 } })
      const published = []
      for (let i = 0; i < 4; i++) {
        published.push(yield* bus.publish("orders", { card: "4111-secret-payload", fail: i === 0 }, {
          key: `customer-secret-key-${i}`, headers: { authorization: "secret-header" }
        }))
      }
      // Until the failing event is dead-lettered and the three others acked.
      let text = ""
      while (total(text, "sib_events_dead_lettered_total") + total(text, "sib_events_acked_total") < 4) {
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
        text = yield* metrics.text
      }
      for (const e of published) expect(text).not.toContain(e.id)
      return text
    }))
    for (const secret of ["secret", "4111", "customer", "authorization", "payment"]) expect(text).not.toContain(secret)
    for (const s of samples(text)) {
      for (const k of Object.keys(s.labels)) expect(["topic", "group", "result", "le"]).toContain(k)
      if (s.labels["topic"] !== undefined) expect(s.labels["topic"]).toBe("orders")
      if (s.labels["group"] !== undefined) expect(s.labels["group"]).toBe("billing")
    }
    const tg = { topic: "orders", group: "billing" }
    expect(total(text, "sib_events_published_total", { topic: "orders" })).toBe(4)
    expect(total(text, "sib_events_dead_lettered_total", tg)).toBe(1)
    expect(total(text, "sib_events_nacked_total", tg)).toBe(2)
    expect(total(text, "sib_events_redelivered_total", tg)).toBe(1)
    expect(total(text, "sib_events_acked_total", tg)).toBe(3)
    expect(total(text, "sib_events_delivered_total", tg)).toBe(5)
  }, 20_000)

  it("two buses in one process keep their own figures", async () => {
    const count = (publishes: number) =>
      Effect.gen(function*() {
        const bus = yield* Bus
        for (let i = 0; i < publishes; i++) yield* bus.publish("shared.topic", { i })
        return yield* (yield* BusMetrics).text
      })
    const [a, b] = await Promise.all([run(count(3)), run(count(5))])
    expect(total(a, "sib_events_published_total", { topic: "shared.topic" })).toBe(3)
    expect(total(b, "sib_events_published_total", { topic: "shared.topic" })).toBe(5)
  }, 20_000)

  it("lag, read at scrape time: the events after the stored cursor and the age of the oldest", async () => {
    const text = await run(Effect.gen(function*() {
      const bus = yield* Bus
      const gate = yield* Deferred.make<void>()
      for (let i = 0; i < 5; i++) yield* bus.publish("jobs", { i })
      yield* bus.subscribe("jobs", "slow", () => Deferred.await(gate), { from: "earliest", ordering: "strict" })
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 60)))
      const metrics = yield* BusMetrics
      const text = yield* metrics.text
      yield* Deferred.succeed(gate, undefined)
      return text
    }))
    expect(total(text, "sib_consumer_lag", { topic: "jobs", group: "slow" })).toBe(5)
    expect(total(text, "sib_consumer_lag_seconds", { topic: "jobs", group: "slow" })).toBeGreaterThanOrEqual(0.05)
    expect(total(text, "sib_events_inflight", { topic: "jobs", group: "slow" })).toBe(1)
  }, 20_000)

  it("MetricsHttp.layer serves GET /metrics of the bus while its scope is open", async () => {
    const url = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(MetricsHttp.layer({ port: 0 }).pipe(Layer.provideMerge(Bus.open(factory.fresh()))))
      const server = Context.get(ctx, MetricsHttp)
      yield* Context.get(ctx, Bus).publish("t", { x: 1 })
      const text = yield* Effect.promise(() => fetch(`${server.url}/metrics`).then((r) => r.text()))
      expect(total(text, "sib_events_published_total", { topic: "t" })).toBe(1)
      return server.url
    })))
    await expect(fetch(`${url}/metrics`)).rejects.toThrow()
  }, 20_000)
})

describe("label values", () => {
  it(`at most ${maxLabelValues} topics get series of their own; the rest share ${otherLabel}`, async () => {
    const recorder = new Recorder(undefined)
    for (let i = 0; i < maxLabelValues + 50; i++) recorder.published(`topic-${i}`)
    recorder.published("topic-0", 2)
    recorder.published(`topic-${maxLabelValues + 7}`)
    const text = await Effect.runPromise(recorder.text)
    const series = samples(text).filter((s) => s.name === "sib_events_published_total")
    expect(series).toHaveLength(maxLabelValues + 1)
    expect(total(text, "sib_events_published_total", { topic: "topic-0" })).toBe(3)
    expect(total(text, "sib_events_published_total", { topic: otherLabel })).toBe(51)
    const group = recorder.group("g", [`topic-${maxLabelValues + 1}`])
    expect(group.series(`topic-${maxLabelValues + 1}`)).toBe(group.series(`topic-${maxLabelValues + 2}`))
  })

  it(`the lag of the groups past the limit adds up in ${otherLabel} (events), its age is the oldest's`, async () => {
    const text = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ctx = yield* Layer.build(Bus.open(":memory:", { metrics: false }))
      const bus = Context.get(ctx, Bus)
      const store = Context.get(ctx, Store)
      const recorder = new Recorder(store)
      const extra = [7, 3, 5]
      for (let i = 0; i < maxLabelValues + extra.length; i++) {
        const n = i < maxLabelValues ? 1 : extra[i - maxLabelValues]!
        yield* bus.publishAll(Array.from({ length: n }, () => ({ topic: `o.${i}`, payload: i })))
        yield* bus.setCursor(`o.${i}`, `g.${i}`, 0)
        recorder.group(`g.${i}`, [`o.${i}`])
      }
      return yield* recorder.text
    })))
    expect(total(text, "sib_consumer_lag", { topic: "o.0", group: "g.0" })).toBe(1)
    expect(total(text, "sib_consumer_lag", { topic: otherLabel, group: otherLabel })).toBe(15)
  }, 60_000)
})

describe("the registry", () => {
  it("records into a registry given to it, and nothing with metrics: false", async () => {
    const registry = new Map()
    await Effect.runPromise(Effect.gen(function*() {
      yield* (yield* Bus).publish("t", 1)
    }).pipe(Effect.provide(Bus.open(":memory:", { metrics: { registry } }))))
    expect([...registry.keys()].some((k) => k.includes("sib_events_published_total"))).toBe(true)
    const off = await Effect.runPromise(Effect.gen(function*() {
      yield* (yield* Bus).publish("t", 1)
      return yield* (yield* BusMetrics).text
    }).pipe(Effect.provide(Bus.open(":memory:", { metrics: false }))))
    expect(off).toBe("")
  })
})

describe("one bus per registry", () => {
  it("a second runtime on a registry in use is refused with BusOptionsError before its database opens; the registry is free again once the first closes", async () => {
    const dir = makeTmpDir()
    const registry = new Map()
    const first = await createRuntime({ db: join(dir, "a.db"), metrics: { registry } })
    try {
      const refused = await createRuntime({ db: join(dir, "b.db"), metrics: { registry } }).then((rt) => rt.close().then(() => "opened"), (e: unknown) => e)
      expect(refused).toBeInstanceOf(BusOptionsError)
      expect((refused as BusOptionsError).message).toBe(
        "invalid bus options: metrics.registry is in use by another open bus: one bus per registry (each would show its own counts as if it were alone); close that bus first, or give this one a registry of its own (or none: each bus then has one)"
      )
      expect(existsSync(join(dir, "b.db"))).toBe(false)
      await first.subscribe("t", "g", () => {}, { from: "earliest" })
      await first.publish("t", 1)
      await first.publish("t", 2)
      expect(total(await first.metrics(), "sib_events_published_total", { topic: "t" })).toBe(2)
    } finally {
      await first.close()
    }
    // Free again: the next runtime's figures are its own (none of the first's series is left).
    const second = await createRuntime({ db: join(dir, "b.db"), metrics: { registry } })
    try {
      await second.publish("t", 1)
      const text = await second.metrics()
      expect(total(text, "sib_events_published_total", { topic: "t" })).toBe(1)
      expect(text).not.toMatch(/group="g"/)
    } finally {
      await second.close()
    }
  })

  it("Bus.open on a registry a live bus records into fails with BusOptionsError", async () => {
    const registry = new Map()
    const failed = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      yield* Layer.build(Bus.open(":memory:", { metrics: { registry } }))
      return yield* Effect.flip(Layer.build(Bus.open(":memory:", { metrics: { registry } })))
    })))
    expect(failed).toBeInstanceOf(BusOptionsError)
    expect(failed.message).toMatch(/one bus per registry/)
  })
})

describe("the Promise facade", () => {
  it("rt.metrics() and rt.serveHttp(): loopback by default, remote only when allowed, stopped by close()", async () => {
    const dir = makeTmpDir()
    const rt = await createRuntime({ db: join(dir, "bus.db") })
    try {
      await rt.publish("orders", { n: 1 })
      const loaded = await rt.load([{ file: "ok.sib", text: "(def x 1)" }])
      await rt.load([{ file: "bad.sib", text: "(def" }]).catch(() => undefined)
      const text = await rt.metrics()
      expect(total(text, "sib_events_published_total", { topic: "orders" })).toBe(1)
      expect(total(text, "sib_program_loads_total", { result: "ok" })).toBe(1)
      expect(total(text, "sib_program_loads_total", { result: "error" })).toBe(1)
      await loaded.stop()

      const refused = await rt.serveHttp({ host: "0.0.0.0", port: 0 }).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(HttpServeError)
      expect((refused as HttpServeError).message).toMatch(/not a loopback address/)

      const server = await rt.serveHttp({ port: 0 })
      expect(server.host).toBe("127.0.0.1")
      expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
      const res = await fetch(`${server.url}/metrics`)
      expect(res.status).toBe(200)
      expect(declared(await res.text()).get("sib_events_published_total")).toBe("counter")
      expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405)
      expect((await fetch(`${server.url}/`)).status).toBe(404)
      // Every reply, metrics and 404s too, forbids loading, running and framing anything.
      expect(res.headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'")
      expect((await fetch(`${server.url}/nothing`)).headers.get("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'")
      // A request under another name (DNS rebinding: a web site's name pointed at 127.0.0.1) is
      // refused on a loopback server; localhost and [::1]-style names are loopback.
      const withHost = (host: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = httpRequest({ host: "127.0.0.1", port: server.port, path: "/metrics", headers: { host } }, (r) => {
            let body = ""
            r.on("data", (d: Buffer) => (body += d.toString()))
            r.on("end", () => resolve({ status: r.statusCode ?? 0, body }))
          })
          req.on("error", reject)
          req.end()
        })
      for (const host of [`attacker.example:${server.port}`, "127.0.0.1.nip.io", `0x7f000001:${server.port}`, "evil.localhost"]) {
        const r = await withHost(host)
        expect(r.status, host).toBe(403)
        expect(r.body).not.toMatch(/sib_/)
      }
      for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`]) expect((await withHost(host)).status, host).toBe(200)

      const remote = await rt.serveHttp({ host: "0.0.0.0", port: 0, allowRemote: true })
      expect((await fetch(`http://127.0.0.1:${remote.port}/metrics`)).status).toBe(200)
      await remote.close()
      await expect(fetch(`http://127.0.0.1:${remote.port}/metrics`)).rejects.toThrow()

      await rt.close()
      await expect(fetch(`${server.url}/metrics`)).rejects.toThrow()
    } finally {
      await rt.close()
    }
  }, 20_000)

  it("a relay started on the runtime shows its outbox's pending and failed rows", async () => {
    const dir = makeTmpDir()
    const rt = await createRuntime({ db: join(dir, "bus.db") })
    const db = new Kysely<any>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, "app.db")) }) })
    try {
      const outbox = await createOutbox({ db })
      for (let i = 0; i < 3; i++) await outbox.add(db, { topic: "orders", payload: { i } })
      const relay = await outbox.startRelay(rt, { pollIntervalMs: 10, maxAttempts: 1 })
      await waitUntil(async () => (await rt.read("orders", 0, 10)).length === 3)
      await waitUntil(async () => total(await rt.metrics(), "sib_outbox_pending", { table: outbox.table }) === 0)
      expect(total(await rt.metrics(), "sib_outbox_failed", { table: outbox.table })).toBe(0)
      // A row the bus refuses maxAttempts times is failed: never sent until retried, so it shows.
      await db.insertInto("sib_outbox").values({
        id: "bad-row", topic: "orders", payload: "{not json", key: null, headers: null, state: "pending", created_at: 0,
        attempts: 0, next_attempt_at: 0, claimed_by: null, claimed_until: null, last_error: null, sent_at: null
      }).execute()
      await waitUntil(async () => total(await rt.metrics(), "sib_outbox_failed", { table: outbox.table }) === 1)
      await relay.stop()
      for (let i = 0; i < 2; i++) await outbox.add(db, { topic: "orders", payload: { i } })
      // Stopped: its gauge is gone.
      expect(declared(await rt.metrics()).has("sib_outbox_pending")).toBe(false)
      expect(declared(await rt.metrics()).has("sib_outbox_failed")).toBe(false)
      const again = await outbox.startRelay(rt, { pollIntervalMs: 60_000, batchSize: 1 })
      const pending = total(await rt.metrics(), "sib_outbox_pending", { table: outbox.table })
      expect(pending).toBeGreaterThanOrEqual(0)
      expect(pending).toBeLessThanOrEqual(2)
      await again.stop()
    } finally {
      await rt.close()
      await db.destroy()
    }
  }, 20_000)
})

describe("addresses", () => {
  it("a port alone is loopback; host:port and [v6]:port are read; bad ones say why", () => {
    expect(parseHttpAddress("9464")).toEqual({ host: "127.0.0.1", port: 9464 })
    expect(parseHttpAddress("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 })
    expect(parseHttpAddress("[::1]:9464")).toEqual({ host: "::1", port: 9464 })
    expect(parseHttpAddress("localhost:0")).toEqual({ host: "localhost", port: 0 })
    expect(parseHttpAddress("localhost:99999")).toMatch(/the port must be 0 to 65535/)
    expect(parseHttpAddress("http://x:1")).toMatch(/is not an address/)
    for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"]) expect(isLoopback(h), h).toBe(true)
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"]) expect(isLoopback(h), h).toBe(false)
  })
})
