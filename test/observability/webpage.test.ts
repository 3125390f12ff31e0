/**
 * The ops page end to end: the real `sib run --http` on a temporary SQLite file, running
 * test/fixtures/webpage-shop.sib, driven in headless Chromium (Debian's `chromium`, or the one
 * `SIB_CHROMIUM` names) by playwright-core. The page shows a published event in the event browser
 * and its causation tree; a dead letter appears after failures without a reload (server-sent
 * events), its hostile payload shown as text (no script runs, no element is made of it); read-only
 * without the token (no buttons), and a POST without the token is refused with nothing changed;
 * with the token, Requeue delivers the event once the handler is fixed, and Drop asks in the card
 * before it drops (Cancel sends nothing). Screenshots go to
 * test-output/webpage/ for review. Without Chromium the test is skipped, saying why.
 */
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterEach, describe, expect, it } from "vitest"
import type { DeadLettersJson, EventPageJson } from "../../src/observability/web/wire.ts"
import { killStarted, sib, startSib } from "../helpers/sib.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const root = join(import.meta.dirname, "..", "..")
const fixture = join(root, "test", "fixtures", "webpage-shop.sib")
const screenshots = join(root, "test-output", "webpage")
const executablePath = process.env["SIB_CHROMIUM"] ?? "/usr/bin/chromium"
const missing = existsSync(executablePath)
  ? undefined
  : `no Chromium at ${executablePath} (install Debian's chromium, as .ci/run does, or set SIB_CHROMIUM to a Chromium binary)`
// Printed whatever the reporter, so that a skip is never silent.
if (missing !== undefined) console.warn(`test/observability/webpage.test.ts: the browser test is skipped: ${missing}`)

afterEach(killStarted)

const hostileNote = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">\u0007\u202eevil"

describe("the ops page in a browser", () => {
  let browser: Browser | undefined
  afterEach(async () => {
    await browser?.close()
    browser = undefined
  })

  /** `sib run` of the shop fixture with the ops page on a free port: where it runs, and the page's link. */
  const startShop = async () => {
    const dir = makeTmpDir()
    copyFileSync(fixture, join(dir, "webpage-shop.sib"))
    const env = { SIB_DB: join(dir, "sib.db") }
    const run = startSib(["run", "webpage-shop.sib", "--http", "127.0.0.1:0", "--status", "off"], { cwd: dir, env })
    await run.waitFor(/sib: ops page at http:\/\/127\.0\.0\.1:\d+\/#token=\S+ /)
    const link = /sib: ops page at (\S+) /.exec(run.stderr())![1]!
    return { dir, env, run, link, base: link.replace(/\/#token=.*$/, "") }
  }

  it("shows events, a dead letter live, read-only without the token, and requeues with it", async (ctx) => {
    ctx.skip(missing !== undefined, missing)
    const { base, dir, env, link, run } = await startShop()
    const publish = async (topic: string, payload: unknown, ...more: Array<string>) => {
      const r = await sib(["publish", topic, JSON.stringify(payload), ...more], { cwd: dir, env })
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as { id: string; seq: number }
    }
    const api = async <A>(path: string): Promise<A> => (await fetch(`${base}${path}`)).json() as Promise<A>

    const [order] = await Promise.all([
      publish("orders", { id: 1 }),
      chromium.launch({ executablePath }).then((b) => (browser = b))
    ])
    const problems: Array<string> = []
    const open = async (url: string): Promise<Page> => {
      const page = await browser!.newPage({ viewport: { width: 1280, height: 1000 } })
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`)
      })
      await page.goto(url)
      return page
    }

    // Read-only: no token in the address.
    const viewer = await open(`${base}/`)
    await viewer.locator("#mode", { hasText: /^read-only: open the link sib printed/ }).waitFor()
    await viewer.locator("#topics tr.topic", { hasText: "orders" }).waitFor()
    await viewer.locator("#status", { hasText: "live" }).waitFor()

    // With the token: it leaves the address bar for this tab's sessionStorage.
    const operator = await open(link)
    await operator.locator("#mode", { hasText: "actions enabled" }).waitFor()
    expect(operator.url()).toBe(`${base}/`)
    expect(await operator.evaluate(() => (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem("sib-ops-token")))
      .toBe(link.replace(/^.*#token=/, ""))

    // The event browser shows the published order; its causation tree shows the receipt it caused.
    await expect.poll(async () => (await api<EventPageJson>("/api/events?topic=receipts")).events?.length ?? 0, { timeout: 10_000 }).toBe(1)
    await operator.locator("#browse-topic option[value=orders]").waitFor({ state: "attached" })
    await operator.selectOption("#browse-topic", "orders")
    await operator.click("#browse-go")
    const row = operator.locator(`#events tr.event[data-event-id="${order.id}"]`)
    await row.waitFor()
    expect(await row.textContent()).toContain(`{"id":1}`)
    await row.locator("a.event-link").click()
    await operator.locator("#detail .trace-effects .trace-node", { hasText: "receipts" }).waitFor()
    expect(await operator.locator("#event").textContent()).toContain("billing: done")

    // A failing order: dead-lettered after two attempts, and the pages show it without a reload.
    const failing = await publish("orders", { id: 2, fail: true, note: hostileNote })
    const card = operator.locator(`.dead-letter[data-event-id="${failing.id}"]`)
    await card.waitFor({ timeout: 10_000 })
    const seen = viewer.locator(`.dead-letter[data-event-id="${failing.id}"]`)
    await seen.waitFor({ timeout: 10_000 })
    expect(await seen.locator("button").count()).toBe(0) // read-only: no Requeue, no Drop
    expect(await card.locator("button.requeue").isVisible()).toBe(true)
    const text = (await card.textContent()) ?? ""
    expect(text).toContain(`<script>window.__pwned = 1</script><img src=x onerror=\\"window.__pwned = 2\\">\\u0007\\u202eevil`)
    expect(text).toContain("card declined for order 2")
    expect(await card.locator(".location").textContent()).toBe("at webpage-shop.sib:9:5")
    // The list can be narrowed to one group (the first 100 of every group's are shown otherwise).
    await operator.locator("#dead-letter-group option", { hasText: "billing (1)" }).waitFor({ state: "attached" })
    const filtered = operator.waitForRequest((r) => r.url().includes("/api/dead-letters?group=billing"))
    await operator.selectOption("#dead-letter-group", "billing")
    await filtered
    await card.waitFor()
    expect(await operator.locator("#dead-letter-count").textContent()).toMatch(/1/)
    await operator.selectOption("#dead-letter-group", "")
    expect(await card.locator("img, script").count()).toBe(0)
    expect(await operator.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined()
    mkdirSync(screenshots, { recursive: true })
    await operator.screenshot({ path: join(screenshots, "dead-letter.png"), fullPage: true })
    await viewer.screenshot({ path: join(screenshots, "read-only.png"), fullPage: true })

    // Without the token the server refuses, and the dead letter stays.
    const refused = await fetch(`${base}/api/requeue`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ group: "billing", eventId: failing.id })
    })
    expect(refused.status).toBe(401)
    expect((await api<DeadLettersJson>("/api/dead-letters")).deadLetters.map((d) => d.eventId)).toEqual([failing.id])

    // Fixed, then requeued from the page: delivered, its receipt published, the card gone.
    await publish("fixes", { fixed: true }, "--key", "charge")
    await card.locator("button.requeue").click()
    await operator.locator("#notice", { hasText: `requeued event ${failing.id}` }).waitFor()
    await card.waitFor({ state: "detached", timeout: 10_000 })
    await expect.poll(async () => (await api<EventPageJson>("/api/events?topic=receipts")).events.map((e) => e.payload), { timeout: 10_000 })
      .toContainEqual({ order: 2 })
    await seen.waitFor({ state: "detached", timeout: 10_000 }) // the other page too, live
    await operator.locator("#dead-letters .empty", { hasText: "no dead letters" }).waitFor()
    await operator.screenshot({ path: join(screenshots, "requeued.png"), fullPage: true })

    // A very long key wraps in its cell: the events table stays within the window, every column in view.
    const long = await publish("orders", { id: 3 }, "--key", "k".repeat(1024))
    await operator.click("#browse-go")
    const longRow = operator.locator(`#events tr.event[data-event-id="${long.id}"]`)
    await longRow.waitFor()
    const widths = await operator.locator("#events").evaluate((table) => {
      const cells = [...table.querySelectorAll("tr.event td")].map((td) => td.getBoundingClientRect().right)
      return { table: table.getBoundingClientRect().right, rightmost: Math.max(...cells) }
    })
    expect(widths.table).toBeLessThanOrEqual(1280)
    expect(widths.rightmost).toBeLessThanOrEqual(1280)

    // A dead letter with a very long key: its card wraps the key, the page does not scroll sideways.
    const longDead = await publish("orders", { id: 4, poison: true }, "--key", "y".repeat(1024))
    await operator.locator(`.dead-letter[data-event-id="${longDead.id}"]`).waitFor({ timeout: 10_000 })
    expect(await operator.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280)

    // Past a page of dead letters: the list goes through them 100 at a time.
    writeFileSync(join(dir, "poison.jsonl"), Array.from({ length: 230 }, (_, i) => JSON.stringify({ id: 100 + i, poison: true })).join("\n"))
    const file = await sib(["publish", "orders", "--file", "poison.jsonl", "-q"], { cwd: dir, env })
    expect(file.code, file.stderr).toBe(0)
    const count = operator.locator("#dead-letter-count")
    await expect.poll(() => count.textContent(), { timeout: 20_000 }).toBe("(1\u2013100 of 231)")
    expect(await operator.locator("#dead-letters-previous").isDisabled()).toBe(true)
    await operator.click("#dead-letters-next")
    await expect.poll(() => count.textContent()).toBe("(101\u2013200 of 231)")
    await operator.click("#dead-letters-next")
    await expect.poll(() => count.textContent()).toBe("(201\u2013231 of 231)")
    expect(await operator.locator("#dead-letters-next").isDisabled()).toBe(true)
    expect(await operator.locator("#dead-letters article.dead-letter").count()).toBe(31)
    await operator.click("#dead-letters-previous")
    await expect.poll(() => count.textContent()).toBe("(101\u2013200 of 231)")
    const second = await api<DeadLettersJson>("/api/dead-letters?offset=100&limit=100")
    expect([second.offset, second.deadLetters.length, second.total]).toEqual([100, 100, 231])
    expect((await fetch(`${base}/api/dead-letters?offset=-1`)).status).toBe(400)
    expect((await fetch(`${base}/api/dead-letters?offset=1e3`)).status).toBe(400)
    const past = await api<DeadLettersJson>("/api/dead-letters?offset=1000")
    expect([past.deadLetters.length, past.total]).toEqual([0, 231])

    expect(problems).toEqual([])
    // A malformed escape in the link's token is a wrong token (read-only), not a page that stops
    // (the browser logs the server's 401 to the token check; no error of the page's own).
    const garbled = await open(`${base}/#token=%E0%A4%A`)
    await garbled.locator("#mode", { hasText: /^read-only/ }).waitFor()
    await garbled.locator("#topics tr.topic", { hasText: "orders" }).waitFor()
    expect(problems.filter((p) => !/status of 401/.test(p))).toEqual([])
    await browser!.close()
    browser = undefined
    run.interrupt("SIGTERM")
    expect(await run.exited).toBe(0)
  }, 60_000)

  it("Drop asks first, in the card: Cancel keeps the dead letter, and only the confirmation drops it", async (ctx) => {
    ctx.skip(missing !== undefined, missing)
    const { base, dir, env, link, run } = await startShop()
    const published = await sib(["publish", "orders", JSON.stringify({ id: 1, poison: true })], { cwd: dir, env })
    expect(published.code, published.stderr).toBe(0)
    const eventId = (JSON.parse(published.stdout) as { id: string }).id
    const stored = async () => ((await (await fetch(`${base}/api/dead-letters`)).json()) as DeadLettersJson).deadLetters.map((d) => d.eventId)

    browser = await chromium.launch({ executablePath })
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
    const problems: Array<string> = []
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
    const drops: Array<string> = []
    page.on("request", (r) => {
      if (r.url().endsWith("/api/drop")) drops.push(r.method())
    })
    // A native dialog would be accepted here: the page must not rely on one.
    page.on("dialog", (d) => {
      problems.push(`dialog: ${d.message()}`)
      void d.accept()
    })
    await page.goto(link)
    await page.locator("#mode", { hasText: "actions enabled" }).waitFor()
    const card = page.locator(`.dead-letter[data-event-id="${eventId}"]`)
    await card.waitFor({ timeout: 10_000 })

    // Drop asks, naming what it drops; Cancel puts the buttons back and sends nothing.
    await card.locator("button.drop").click()
    const confirm = card.locator(".confirm-drop")
    await confirm.waitFor()
    expect(await confirm.textContent()).toContain(`Drop the dead letter of event ${eventId} in group billing for good?`)
    expect(await card.locator("button.drop").count()).toBe(0)
    expect(await card.locator("button.requeue").count()).toBe(0)
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { className: string } | null } }).document.activeElement?.className)).toBe("cancel-drop")
    mkdirSync(screenshots, { recursive: true })
    await card.screenshot({ path: join(screenshots, "drop-confirm.png") })
    await confirm.locator("button.cancel-drop").click()
    await confirm.waitFor({ state: "detached" })
    expect(await card.locator("button.drop").isVisible()).toBe(true)
    expect(await card.locator("button.requeue").isVisible()).toBe(true)
    await new Promise((r) => setTimeout(r, 300))
    expect(drops).toEqual([])
    expect(await stored()).toEqual([eventId])

    // Confirmed: dropped, and the card goes.
    await card.locator("button.drop").click()
    await card.locator("button.confirm-drop-yes").click()
    await page.locator("#notice", { hasText: `dropped the dead letter of event ${eventId} in group billing` }).waitFor()
    await card.waitFor({ state: "detached", timeout: 10_000 })
    expect(drops).toEqual(["POST"])
    expect(await stored()).toEqual([])
    expect(problems).toEqual([])
    await browser.close()
    browser = undefined
    run.interrupt("SIGTERM")
    expect(await run.exited).toBe(0)
  }, 60_000)
})
