/**
 * Traces exported over OTLP/HTTP (JSON) by the real `sib run` binary to a small local receiver
 * (`node:http`, POST /v1/traces): a program's start-up publish of `orders`, whose handler publishes
 * an `invoices` follow-up that another group handles, is one trace of four spans, each the parent
 * of the next (publish orders -> process orders -> publish invoices -> process invoices), with the
 * messaging attributes; a `sib publish` (another process) of `orders` starts a second such trace.
 * Then the Promise API's `tracing` option, two runtimes on one database file
 * (as two processes would be): one publishes, the other handles and publishes the follow-up; the
 * trace continues through the stored `traceparent`. SQLite only: the spans are made above the store.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, expect, it } from "vitest"
import { createRuntime } from "../../src/promise.ts"
import { killStarted, sib, startSib } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

afterEach(killStarted)

interface OtlpValue { readonly stringValue?: string; readonly intValue?: string | number; readonly boolValue?: boolean }
interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: OtlpValue }>
}

/** A receiver of OTLP/HTTP JSON trace exports: every span it was sent, and the content types. */
const receiver = async () => {
  const spans: Array<OtlpSpan> = []
  const contentTypes = new Set<string>()
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") {
        contentTypes.add(String(req.headers["content-type"]))
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans: ReadonlyArray<{ scopeSpans: ReadonlyArray<{ spans: ReadonlyArray<OtlpSpan> }> }>
        }
        for (const r of body.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans)
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      } else res.writeHead(404).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { spans, contentTypes, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}

const attrs = (s: OtlpSpan) =>
  Object.fromEntries(s.attributes.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue === undefined ? a.value.boolValue : Number(a.value.intValue))]))

const program = `
(defn bill [e ctx] (publish! "invoices" {:order e.payload.id}))
(defn mail [e ctx] nil)
(subscribe! "orders" "billing" bill :from "earliest")
(subscribe! "invoices" "mailer" mail :from "earliest")
(publish! "orders" {:id 1})
`

it("sib run exports publish -> process -> publish -> process as one trace over OTLP, also from a sib publish in another process", async () => {
  const otlp = await receiver()
  try {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "app.sib"), program)
    const env = {
      SIB_DB: join(dir, "app.db"),
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_SERVICE_NAME: "shop"
    }
    const run = startSib(["run", "app.sib", "--status", "off"], { cwd: dir, env })
    await run.waitFor(/sib: running app\.sib/)
    const until = async (count: number) => {
      const deadline = Date.now() + 15_000
      while (otlp.spans.filter((s) => s.name === "process invoices").length < count) {
        if (Date.now() > deadline) throw new Error(`timed out; spans so far: ${otlp.spans.map((s) => s.name).join(", ")}\n${run.stderr()}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    }
    await until(1)
    // Across processes: `sib publish` exports its publish span; the running `sib run` continues it.
    const published = await sib(["publish", "orders", '{"id":2}'], { cwd: dir, env: { ...env, OTEL_SERVICE_NAME: "cli" } })
    expect(published.code, published.stderr).toBe(0)
    await until(2)
    run.interrupt("SIGTERM")
    expect(await run.exited).toBe(0)
    expect([...otlp.contentTypes]).toEqual(["application/json"])

    const traces = [...new Set(otlp.spans.map((s) => s.traceId))]
    expect(traces).toHaveLength(2)
    for (const traceId of traces) {
      const named = (name: string) => {
        const found = otlp.spans.filter((s) => s.traceId === traceId && s.name === name)
        expect(found.map((s) => s.name)).toEqual([name])
        return found[0]!
      }
      const publishA = named("publish orders")
      const processA = named("process orders")
      const publishB = named("publish invoices")
      const processB = named("process invoices")
      const chain = [publishA, processA, publishB, processB]
      expect(otlp.spans.filter((s) => s.traceId === traceId)).toHaveLength(4)
      expect(publishA.traceId).toMatch(/^[0-9a-f]{32}$/)
      expect(chain.map((s) => s.parentSpanId || undefined)).toEqual([undefined, publishA.spanId, processA.spanId, publishB.spanId])
      // OTLP span kinds: 4 producer, 5 consumer.
      expect(chain.map((s) => s.kind)).toEqual([4, 5, 4, 5])

      const a = attrs(processA)
      expect(a).toMatchObject({
        "messaging.system": "sibus",
        "messaging.operation.type": "process",
        "messaging.destination.name": "orders",
        "messaging.consumer.group.name": "billing",
        "messaging.sibus.message.delivery_attempt": 1
      })
      expect(attrs(publishA)).toMatchObject({ "messaging.system": "sibus", "messaging.destination.name": "orders", "messaging.operation.type": "send" })
      expect(attrs(publishA)["messaging.message.id"]).toBe(a["messaging.message.id"])
      expect(attrs(processB)).toMatchObject({ "messaging.destination.name": "invoices", "messaging.consumer.group.name": "mailer" })
      expect(attrs(publishB)["messaging.message.id"]).toBe(attrs(processB)["messaging.message.id"])
    }
    const fromCli = JSON.parse(published.stdout) as { id: string; headers?: Record<string, string> }
    const cliPublish = otlp.spans.find((s) => s.name === "publish orders" && attrs(s)["messaging.message.id"] === fromCli.id)!
    expect(fromCli.headers?.traceparent).toBe(`00-${cliPublish.traceId}-${cliPublish.spanId}-01`)
  } finally {
    otlp.close()
  }
}, 30_000)

it("createRuntime({ tracing }): the trace continues from one runtime's publish to another's handlers", async () => {
  const otlp = await receiver()
  const dir = makeTmpDir()
  const db = join(dir, "app.db")
  const tracing = { url: `${otlp.url}/v1/traces`, encoding: "json", exportIntervalMs: 50 } as const
  const publisher = await createRuntime({ db, tracing })
  const worker = await createRuntime({ db, tracing })
  try {
    let followUp: string | undefined
    await worker.subscribe("orders", "billing", async (e, ctx) => {
      followUp = (await ctx.publish("invoices", { order: e.id })).id
    }, { from: "earliest" })
    await worker.subscribe("invoices", "mailer", () => undefined, { from: "earliest" })
    const a = await publisher.publish("orders", { id: 1 })
    expect(a.headers?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    // Each runtime exports its own batches: wait for all four spans (the publisher's may come last).
    const names = ["publish orders", "process orders", "publish invoices", "process invoices"]
    const deadline = Date.now() + 15_000
    while (!names.every((n) => otlp.spans.some((s) => s.name === n))) {
      if (Date.now() > deadline) throw new Error(`timed out; spans so far: ${otlp.spans.map((s) => s.name).join(", ")}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const chain = names.map((n) => otlp.spans.find((s) => s.name === n)!)
    expect(new Set(chain.map((s) => s.traceId)).size).toBe(1)
    expect(chain.map((s) => s.parentSpanId || undefined)).toEqual([undefined, chain[0]!.spanId, chain[1]!.spanId, chain[2]!.spanId])
    expect(a.headers?.traceparent).toBe(`00-${chain[0]!.traceId}-${chain[0]!.spanId}-01`)
    expect(attrs(chain[2]!)["messaging.message.id"]).toBe(followUp)
  } finally {
    await worker.close()
    await publisher.close()
    otlp.close()
  }
}, 30_000)

it("a collector that takes exports and never answers holds none of them past the export timeout (exportTimeoutMs)", async () => {
  const lifetimes: Array<number> = []
  const server: Server = createServer((req, res) => {
    const started = Date.now()
    // Closed by the client before any answer: the export gave up.
    res.on("close", () => lifetimes.push(Date.now() - started))
    req.resume() // read it, never answer
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`
  const rt = await createRuntime({ db: ":memory:", tracing: { url, encoding: "json", exportIntervalMs: 50, exportTimeoutMs: 300 } })
  try {
    await rt.subscribe("t", "g", () => undefined, { from: "earliest" })
    const until = Date.now() + 2000
    while (Date.now() < until) {
      await rt.publish("t", { at: Date.now() })
      await new Promise((r) => setTimeout(r, 5))
    }
    // The first export was given up after its timeout: the socket closed by the client, not held
    // (a collector that never answers held every export's socket and spans, without end).
    expect(lifetimes.length).toBeGreaterThan(0)
    expect(Math.max(...lifetimes)).toBeLessThan(1500)
  } finally {
    await rt.close()
    server.closeAllConnections()
    server.close()
  }
}, 30_000)

it("a caller's own traceparent (no span around the publish) is the publish span's parent, and the run is the publish's child", async () => {
  const otlp = await receiver()
  const rt = await createRuntime({ db: ":memory:", tracing: { url: `${otlp.url}/v1/traces`, encoding: "json", exportIntervalMs: 50 } })
  try {
    await rt.subscribe("a", "g", () => undefined, { from: "earliest" })
    const caller = { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331" }
    const e = await rt.publish("a", { n: 1 }, { headers: { traceparent: `00-${caller.traceId}-${caller.spanId}-01`, other: "kept" } })
    const deadline = Date.now() + 15_000
    while (!["publish a", "process a"].every((n) => otlp.spans.some((s) => s.name === n))) {
      if (Date.now() > deadline) throw new Error(`timed out; spans so far: ${otlp.spans.map((s) => s.name).join(", ")}`)
      await new Promise((r) => setTimeout(r, 50))
    }
    const publish = otlp.spans.find((s) => s.name === "publish a")!
    const process = otlp.spans.find((s) => s.name === "process a")!
    expect([publish.traceId, publish.parentSpanId]).toEqual([caller.traceId, caller.spanId])
    expect([process.traceId, process.parentSpanId]).toEqual([caller.traceId, publish.spanId])
    expect(e.headers).toEqual({ traceparent: `00-${caller.traceId}-${publish.spanId}-01`, other: "kept" })
  } finally {
    await rt.close()
    otlp.close()
  }
}, 30_000)
