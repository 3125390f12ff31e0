/**
 * The ops page's routes through real HTTP, served by `rt.serveHttp({ page: true })` on a runtime
 * running the page's test program (SQLite, and Postgres when its URL is set: these tests are quick,
 * so they use `conformanceFactories`): the page and its assets with a strict
 * Content-Security-Policy; the JSON reads (figures, dead letters with payload, error, `.sib`
 * location and stack, events by latest/seq/time/after, one event, its causation tree both ways); a
 * hostile payload carried as data; the actions refused without the token, with a wrong one, from
 * another site or under another host name (nothing changes), and done with it (a requeued dead
 * letter is delivered; a dropped one is gone); the server-sent events, which end when the server
 * closes. And a partitioned group: one row per partition, and its one member holding them all.
 */
import { request as httpRequest } from "node:http"
import { join, relative } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createRuntime, type HttpServerHandle, type Runtime } from "../../src/facade/createRuntime.ts"
import { pageScript } from "../../src/observability/web/page.ts"
import type { DeadLettersJson, EventInfoJson, EventPageJson, OverviewJson, TraceJson } from "../../src/observability/web/wire.ts"
import { conformanceFactories } from "../helpers/stores.ts"

const program = join(import.meta.dirname, "..", "fixtures", "webpage-shop.sib")
/** Where the program throws, as the runtime names the file (relative to the working directory). */
const thrown = { file: relative(process.cwd(), program), line: 9, column: 5 }
const token = "routes-test-token-0123456789"
const hostile = { id: 66, fail: true, note: "<script>window.__pwned = 1</script><img src=x onerror=alert(1)>\u0007\u001b[2J\u202eevil" }

const until = async <A>(what: string, read: () => Promise<A>, ok: (a: A) => boolean, ms = 15_000): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const a = await read()
    if (ok(a)) return a
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(a)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** A request with any headers (fetch will not send another `Host`). */
const raw = (url: string, options: { method?: string; headers?: Record<string, string>; body?: string }) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (res) => {
      let body = ""
      res.on("data", (d: Buffer) => (body += d.toString()))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on("error", reject)
    req.end(options.body)
  })

describe.each(conformanceFactories)("the ops page's routes ($name)", (factory) => {
  let rt: Runtime
  let server: HttpServerHandle
  let base: string
  let order: { id: string }
  let failing: { id: string }

  const get = async <A>(path: string): Promise<A> => {
    const res = await fetch(`${base}${path}`)
    expect(res.status, `${path}: ${res.status}`).toBe(200)
    expect(res.headers.get("content-type")).toMatch(/^application\/json/)
    return (await res.json()) as A
  }
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })
  const deadLetters = () => get<DeadLettersJson>("/api/dead-letters")

  beforeAll(async () => {
    rt = await createRuntime({ db: factory.fresh() })
    await rt.load(program)
    server = await rt.serveHttp({ port: 0, page: true, token })
    base = server.url
    order = await rt.publish("orders", { id: 1 })
    failing = await rt.publish("orders", hostile)
    // Until its first event, "receipts" is no topic (404): the wait reads that as no receipt yet.
    const receipts = async (): Promise<EventPageJson> => {
      const res = await fetch(`${base}/api/events?topic=receipts`)
      return res.status === 404 ? { topic: "receipts", events: [], next: null } : ((await res.json()) as EventPageJson)
    }
    await until("the dead letter and the receipt", async () => [await deadLetters(), await receipts()] as const,
      ([d, r]) => d.total === 1 && r.events.length === 1)
  }, 30_000)
  afterAll(async () => {
    await rt?.close()
  })

  it("serves the page, its script and style, under a strict Content-Security-Policy", async () => {
    expect(server.pageUrl).toBe(`${base}/#token=${token}`)
    const page = await fetch(`${base}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8")
    const csp = page.headers.get("content-security-policy") ?? ""
    for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      expect(csp).toContain(directive)
    }
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*/)
    expect(page.headers.get("x-content-type-options")).toBe("nosniff")
    expect(page.headers.get("referrer-policy")).toBe("no-referrer")
    const html = await page.text()
    expect(html).toContain(`<script src="app.js" defer></script>`)
    expect(html).not.toMatch(/<script>|<style|\sstyle=|\son\w+=/) // nothing inline
    const script = await fetch(`${base}/app.js`)
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
    expect(await script.text()).toBe(pageScript)
    expect((await fetch(`${base}/app.css`)).headers.get("content-type")).toBe("text/css; charset=utf-8")
    expect((await fetch(`${base}/metrics`)).status).toBe(200) // the metrics stay beside the page
  })

  it("the figures: topics with sizes, groups with their positions, the dead letters' count", async () => {
    const o = await get<OverviewJson>("/api/overview")
    expect(o.error).toBeNull()
    const orders = o.topics.find((t) => t.name === "orders")!
    expect(orders).toMatchObject({ events: 2, description: "orders to charge", compaction: false })
    expect(o.topics.find((t) => t.name === "receipts")?.events).toBe(1)
    expect(o.groups).toEqual([expect.objectContaining({ group: "billing", topic: "orders", partition: null, lag: 0, inFlight: 0, retrying: 0, deadLetters: 1 })])
    expect(o.groups[0]!.owner?.pid).toBe(process.pid)
    expect(o.members).toEqual([]) // a group consumed whole has no members to show
    expect(o.deadLetters.count).toBe(1)
  })

  it("a dead letter with its payload (a hostile one carried as data), error, .sib location and stack", async () => {
    const list = await deadLetters()
    const d = list.deadLetters[0]!
    expect(d).toMatchObject({ group: "billing", topic: "orders", eventId: failing.id, attempts: 2, found: true, holdsKey: false })
    expect(d.payload).toEqual(hostile)
    expect(d.errorMessage).toBe(`${thrown.file}:9:5: card declined for order 66`)
    expect(d.location).toEqual(thrown)
    expect(d.errorStack).toContain(`at ${thrown.file}:9:5`)
    // The JSON is data for the page's script, which sets it as text; as JSON it cannot open a tag.
    const text = await (await fetch(`${base}/api/dead-letters`)).text()
    expect(text).toContain("\\u0007\\u001b[2J")
  })

  it("events: the latest, from a seq, from a time, after a seq; one event with its groups", async () => {
    const latest = await get<EventPageJson>("/api/events?topic=orders")
    expect(latest.events.map((e) => e.id)).toEqual([order.id, failing.id])
    const fromSeq = await get<EventPageJson>(`/api/events?topic=orders&seq=${latest.events[1]!.seq}`)
    expect(fromSeq.events.map((e) => e.id)).toEqual([failing.id])
    const fromTime = await get<EventPageJson>(`/api/events?topic=orders&time=${new Date(latest.events[1]!.ts).toISOString()}`)
    expect(fromTime.events.map((e) => e.id)).toContain(failing.id)
    // A page that reaches the topic's end has no next page; a full one continues after its last event.
    expect(latest.next).toBeNull()
    const first = await get<EventPageJson>(`/api/events?topic=orders&after=0&limit=1`)
    expect(first.events.map((e) => e.id)).toEqual([order.id])
    expect(first.next).toBe(first.events[0]!.seq)
    const rest = await get<EventPageJson>(`/api/events?topic=orders&after=${first.next}&limit=1`)
    expect(rest.events.map((e) => e.id)).toEqual([failing.id])
    const after = await get<EventPageJson>(`/api/events?topic=orders&after=${rest.next}&limit=1`)
    expect(after).toEqual({ topic: "orders", events: [], next: null })
    const one = await get<EventInfoJson>(`/api/event?id=${failing.id}`)
    expect(one.event.payload).toEqual(hostile)
    expect(one.groups).toEqual([expect.objectContaining({ group: "billing", state: "dead", attempts: 2, location: thrown })])
    expect((await fetch(`${base}/api/event?id=no-such-id`)).status).toBe(404)
    expect((await fetch(`${base}/api/events`)).status).toBe(400)
    const bad = await fetch(`${base}/api/events?topic=orders&limit=100000`)
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: `limit must be a whole number from 1 to 500 (got "100000")` })
    expect((await fetch(`${base}/api/events?topic=orders&time=yesterday`)).status).toBe(400)
    // A name that matches no topic is 404 with the closest name, as /api/event's unknown id is.
    const unknown = await fetch(`${base}/api/events?topic=order`)
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toEqual({ error: "no topic order (did you mean orders?): a topic exists once it has events or a program defined it" })
    const unknownGroup = await fetch(`${base}/api/dead-letters?group=biling`)
    expect(unknownGroup.status).toBe(404)
    expect(await unknownGroup.json()).toEqual({ error: "no group biling (did you mean billing?) consumes any topic" })
    expect((await fetch(`${base}/api/dead-letters?topic=nope`)).status).toBe(404)
  })

  it("the causation tree both ways: the order caused the receipt", async () => {
    const down = await get<TraceJson>(`/api/trace?id=${order.id}`)
    expect(down.causes).toEqual([])
    expect(down.effects).toHaveLength(1)
    const receipt = down.effects[0]!
    if (receipt.kind !== "event") throw new Error(`expected an event, got ${receipt.kind}`)
    expect(receipt.info.event).toMatchObject({ topic: "receipts", payload: { order: 1 }, causedBy: [order.id] })
    expect(receipt.lagMs).toBeGreaterThanOrEqual(0)
    const up = await get<TraceJson>(`/api/trace?id=${receipt.id}`)
    expect(up.root.event.id).toBe(receipt.id)
    expect(up.causes.map((c) => c.id)).toEqual([order.id])
    expect(up.effects).toEqual([])
  })

  it("refuses to act without the token, with a wrong one, from another site or host name; nothing changes", async () => {
    const body = { group: "billing", eventId: failing.id }
    const none = await post("/api/requeue", body)
    expect(none.status).toBe(401)
    expect(none.headers.get("www-authenticate")).toBe("Bearer")
    expect((await post("/api/drop", body)).status).toBe(401)
    expect((await post("/api/requeue", body, { authorization: "Bearer not-the-token-at-all" })).status).toBe(401)
    expect((await post("/api/requeue", body, { authorization: `Bearer ${token}`, origin: "https://evil.example" })).status).toBe(403)
    expect((await post("/api/drop", body, { authorization: `Bearer ${token}`, "sec-fetch-site": "cross-site" })).status).toBe(403)
    const rebound = await raw(`${base}/api/drop`, {
      method: "POST",
      headers: { host: "rebound.example", "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(body)
    })
    expect(rebound.status).toBe(403)
    expect((await raw(`${base}/api/overview`, { headers: { host: "rebound.example" } })).status).toBe(403)
    expect((await post("/api/requeue", { group: "billing" }, { authorization: `Bearer ${token}` })).status).toBe(400)
    expect((await fetch(`${base}/api/requeue`)).status).toBe(405)
    expect((await fetch(`${base}/api/token`)).status).toBe(401)
    expect((await fetch(`${base}/api/token`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    // An event id is an id, "all" too: it names no dead letter here, so nothing is requeued.
    expect((await post("/api/requeue", { group: "billing", eventId: "all" }, { authorization: `Bearer ${token}` })).status).toBe(404)
    // A group that does not exist (a typo) is 404 too, naming the closest one.
    const typo = await post("/api/requeue", { group: "bilings", eventId: failing.id }, { authorization: `Bearer ${token}` })
    expect(typo.status).toBe(404)
    expect(await typo.json()).toMatchObject({ ok: false, message: expect.stringMatching(/there is no group of that name \(did you mean billing\?\)/) })
    const still = await deadLetters()
    expect(still.deadLetters.map((d) => d.eventId)).toEqual([failing.id])
  })

  it("requeues with the token (the fixed handler delivers it), and drops", async () => {
    await rt.publish("fixes", { fixed: true }, { key: "charge" })
    const requeued = await post("/api/requeue", { group: "billing", eventId: failing.id }, { authorization: `Bearer ${token}` })
    expect(requeued.status).toBe(200)
    expect(await requeued.json()).toMatchObject({ ok: true, message: expect.stringMatching(/^requeued event/) })
    await until("the requeued order's receipt", () => get<EventPageJson>("/api/events?topic=receipts"), (p) => p.events.some((e) => (e.payload as { order?: number }).order === 66))
    expect((await deadLetters()).total).toBe(0)
    const again = await post("/api/requeue", { group: "billing", eventId: failing.id }, { "x-sib-token": token })
    expect(again.status).toBe(404)

    // A poisoned order is declined whatever the fixes: dropped, it is gone. Its large payload is in
    // the list as a preview only (the event view has all of it).
    const poisoned = await rt.publish("orders", { id: 67, poison: true, blob: "x".repeat(100_000) })
    await until("the poisoned order's dead letter", deadLetters, (l) => l.deadLetters.some((d) => d.eventId === poisoned.id))
    const listed = (await deadLetters()).deadLetters.find((d) => d.eventId === poisoned.id)!
    expect(listed.payload).toBeNull()
    expect(listed.preview?.chars).toBe(JSON.stringify(poisoned.payload).length)
    expect(listed.preview?.text).toBe(JSON.stringify(poisoned.payload).slice(0, 8192))
    const dropped = await post("/api/drop", { group: "billing", eventId: poisoned.id }, { authorization: `Bearer ${token}` })
    expect(dropped.status).toBe(200)
    expect(await dropped.json()).toMatchObject({ ok: true, message: expect.stringMatching(/^dropped the dead letter/) })
    expect((await deadLetters()).total).toBe(0)
  }, 20_000)

  it("streams the figures as server-sent events, which end when the server closes", async () => {
    const res = await fetch(`${base}/events`)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8")
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ""
    while (!/event: overview\ndata: .*\n\n/.test(text)) {
      const chunk = await reader.read()
      if (chunk.done) throw new Error(`the stream ended early: ${text}`)
      text += decoder.decode(chunk.value)
    }
    expect(text.startsWith("retry: 2000\n\n")).toBe(true)
    const o = JSON.parse(/event: overview\ndata: (.*)\n\n/.exec(text)![1]!) as OverviewJson
    expect(o.topics.map((t) => t.name)).toContain("orders")
    const started = Date.now()
    await server.close()
    const ended = await reader.read().then((r) => r.done, (e: Error) => e.message)
    expect(ended).toBe(true)
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe.each(conformanceFactories)("the ops page's figures of a partitioned group ($name)", (factory) => {
  let rt: Runtime
  let base: string
  const overview = async () => {
    const res = await fetch(`${base}/api/overview`)
    expect(res.status).toBe(200)
    return (await res.json()) as OverviewJson
  }

  beforeAll(async () => {
    rt = await createRuntime({ db: factory.fresh() })
    await rt.defineTopic("orders", { partitions: 4 })
    await rt.subscribe("orders", "billing", async () => {}, { from: "earliest" })
    for (let id = 0; id < 8; id++) await rt.publish("orders", { id }, { key: `customer-${id}` })
    base = (await rt.serveHttp({ port: 0, page: true, token })).url
  }, 30_000)
  afterAll(async () => {
    await rt?.close()
  })

  it("a row per partition (0 to 3), each owned by this process; the member names this process with all four", async () => {
    const o = await until("the member holding every partition, and the events handled", overview, (o) =>
      o.members[0]?.partitions.length === 4 && o.groups.length === 4 && o.groups.every((g) => g.owner !== null && g.lag === 0))
    expect(o.error).toBeNull()
    expect(o.groups.map((g) => [g.group, g.topic, g.partition])).toEqual([0, 1, 2, 3].map((p) => ["billing", "orders", p]))
    expect(o.groups.map((g) => g.owner?.pid)).toEqual([process.pid, process.pid, process.pid, process.pid])
    expect(o.groups.map((g) => g.lag)).toEqual([0, 0, 0, 0])
    expect(o.topics.find((t) => t.name === "orders")?.events).toBe(8)
    expect(o.members).toEqual([{
      group: "billing",
      member: expect.any(String),
      pid: process.pid,
      host: expect.any(String),
      partitions: [0, 1, 2, 3],
      joinedAt: expect.any(Number),
      lastBeatAt: expect.any(Number)
    }])
    expect(o.at - o.members[0]!.lastBeatAt).toBeLessThan(30_000)
  }, 20_000)

  it("the server-sent figures carry the partitions and the members too", async () => {
    const controller = new AbortController()
    const res = await fetch(`${base}/events`, { signal: controller.signal })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let text = ""
    while (!/event: overview\ndata: .*\n\n/.test(text)) {
      const chunk = await reader.read()
      if (chunk.done) throw new Error(`the stream ended early: ${text}`)
      text += decoder.decode(chunk.value)
    }
    controller.abort()
    const o = JSON.parse(/event: overview\ndata: (.*)\n\n/.exec(text)![1]!) as OverviewJson
    expect(o.groups.map((g) => g.partition)).toEqual([0, 1, 2, 3])
    expect(o.members.map((m) => [m.pid, m.partitions])).toEqual([[process.pid, [0, 1, 2, 3]]])
  })
})
