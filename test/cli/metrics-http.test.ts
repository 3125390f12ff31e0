/**
 * `sib run --http` on the real binary: a program whose timer publishes jobs and whose handler fails
 * on a third of them (retries, then dead letters) is scraped over HTTP twice; every family of the
 * Metrics section is there and the counters move as events flow; a SIGHUP reload counts a program
 * load (on every dialect of `storeFactories`). A non-loopback address is refused unless
 * `--http-allow-remote`.
 */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it, onTestFinished } from "vitest"
import { families } from "../../src/observability/metrics.ts"
import { killStarted, sib, startSib } from "../helpers/sib.ts"
import { storeFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { declared, samples, total } from "../observability/prometheusText.ts"

afterEach(killStarted)

const program = `
(defn work [e ctx] (if (= 0 (mod e.payload.i 3)) (throw "boom") nil))
(subscribe! "jobs" "workers" work :from "earliest" :maxAttempts 2 :backoff {:initialMs 10 :maxMs 20})
(every! "20ms" (fn [] (publish! "jobs" {:i (now)})))
`

const scrape = async (url: string): Promise<string> => {
  const res = await fetch(url)
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/)
  return res.text()
}

const untilTrue = async (what: string, check: () => Promise<boolean>, ms = 20_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe.each(storeFactories)("sib run --http ($name)", (factory) => {
  it("serves every metric family at /metrics, and they move as events flow", async () => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "jobs.sib"), program)
    const db = factory.shared()
    onTestFinished(() => factory.drop(db))
    const run = startSib(["run", "jobs.sib", "--http", "127.0.0.1:0", "--status", "off"], { cwd: dir, env: { SIB_DB: db } })
    await run.waitFor(/sib: serving metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics\n/)
    const url = /sib: serving metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(run.stderr())![1]!

    // The first scrape once a dead letter exists.
    let first = ""
    await untilTrue("a dead letter", async () => total(first = await scrape(url), "sib_events_dead_lettered_total") > 0)
    const kinds = declared(first)
    for (const f of Object.values(families)) {
      if (f.name === "sib_outbox_pending" || f.name === "sib_outbox_failed") continue // sib run relays no outbox
      expect(kinds.get(f.name), f.name).toBe(f.kind)
    }
    const tg = { topic: "jobs", group: "workers" }
    expect(total(first, "sib_program_loads_total", { result: "ok" })).toBe(1)
    expect(total(first, "sib_program_loads_total", { result: "error" })).toBe(0)
    expect(total(first, "sib_events_nacked_total", tg)).toBeGreaterThan(0)
    expect(total(first, "sib_events_redelivered_total", tg)).toBeGreaterThan(0)
    // Every run ends acked or nacked (none runs long here, and runs in flight are few).
    const ended = total(first, "sib_events_acked_total", tg) + total(first, "sib_events_nacked_total", tg)
    const inflight = total(first, "sib_events_inflight", tg)
    expect(total(first, "sib_events_delivered_total", tg)).toBe(ended + inflight)
    expect(total(first, "sib_consumer_lag", tg)).toBeGreaterThanOrEqual(0)
    expect(total(first, "sib_consumer_lag_seconds", tg)).toBeGreaterThanOrEqual(0)

    // Label hygiene: only the bounded labels, holding only the program's topic and group.
    for (const s of samples(first)) {
      for (const [k, v] of Object.entries(s.labels)) {
        expect(["topic", "group", "result", "le"], `${s.name} label ${k}`).toContain(k)
        if (k === "topic") expect(v).toBe("jobs")
        if (k === "group") expect(v).toBe("workers")
      }
    }

    // A reload counts a load; then everything that counts events has moved.
    run.child.kill("SIGHUP")
    await run.waitFor(/sib: reloaded/)
    const moving = [
      "sib_events_published_total", "sib_events_delivered_total", "sib_events_acked_total", "sib_events_nacked_total",
      "sib_events_dead_lettered_total", "sib_events_redelivered_total", "sib_delivery_handler_duration_seconds_count",
      "sib_subscribe_poll_duration_seconds_count", "sib_store_commit_duration_seconds_count", "sib_store_commit_batch_size_count"
    ]
    let second = ""
    let still: Array<string> = []
    await untilTrue("every counter to move", async () => {
      second = await scrape(url)
      still = moving.filter((name) => total(second, name) <= total(first, name))
      return still.length === 0
    }).catch((e: Error) => {
      throw new Error(`${e.message}: ${still.join(", ")} did not move`)
    })
    expect(total(second, "sib_program_loads_total", { result: "ok" })).toBe(2)
    expect(total(second, "sib_events_published_total", { topic: "jobs" })).toBeGreaterThan(0)

    // Unknown paths are not served.
    expect((await fetch(url.replace(/\/metrics$/, "/nope"))).status).toBe(404)

    run.interrupt("SIGTERM")
    expect(await run.exited).toBe(0)
    await expect(fetch(url)).rejects.toThrow()
  }, 60_000)
})

describe("sib run --http on other addresses", () => {
  it("refuses a non-loopback address unless --http-allow-remote", async () => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "jobs.sib"), program)
    const env = { SIB_DB: join(dir, "sib.db") }
    const refused = await sib(["run", "jobs.sib", "--http", "0.0.0.0:0", "--status", "off"], { cwd: dir, env })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/--http 0\.0\.0\.0:0: 0\.0\.0\.0 is not a loopback address.*--http-allow-remote/)
    expect(refused.stderr).not.toMatch(/serving metrics/)

    const bad = await sib(["run", "jobs.sib", "--http", "localhost:http", "--status", "off"], { cwd: dir, env })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/is not an address: use host:port or a port/)

    const allowed = startSib(["run", "jobs.sib", "--http", "0.0.0.0:0", "--http-allow-remote", "--status", "off"], { cwd: dir, env })
    await allowed.waitFor(/sib: serving metrics at http:\/\/0\.0\.0\.0:(\d+)\/metrics/)
    const port = /http:\/\/0\.0\.0\.0:(\d+)\/metrics/.exec(allowed.stderr())![1]
    expect(await scrape(`http://127.0.0.1:${port}/metrics`)).toMatch(/^# HELP sib_/)
    allowed.interrupt("SIGTERM")
    expect(await allowed.exited).toBe(0)
  }, 60_000)
})
