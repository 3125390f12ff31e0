/**
 * `sib trace <id>` on the real binary (issue 14, Traces): the causation tree of an event read from
 * the store alone, up to its causes and down to its effects, with each group's state per event, as
 * text and as one JSON object; bounded in depth and breadth, ending on `causedBy` cycles, escaping
 * stored text for the terminal; on SQLite, and on Postgres when SIB_TEST_POSTGRES_URL is set.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { conformanceFactories } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, sib, startSib } from "../helpers/sib.ts"

afterEach(killStarted)

const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

// An order is paid (payments), the payment gets a receipt (receipts): a chain order -> payment ->
// receipt. The notifier fans each order out to four notes; the mailer dead-letters note 3.
const program = `
(define-topic "orders")
(defn place [e ctx] (publish! "payments" {:order e.payload.id}))
(subscribe! "orders" "payer" place :from "earliest")
(defn pay [e ctx] (publish! "receipts" {:order e.payload.order}))
(subscribe! "payments" "receipter" pay :from "earliest")
(defn notify [e ctx]
  (publish! "notes" {:n 1})
  (publish! "notes" {:n 2})
  (publish! "notes" {:n 3})
  (publish! "notes" {:n 4}))
(subscribe! "orders" "notifier" notify :from "earliest")
(defn mail [e ctx] (if (= e.payload.n 3) (+ 1 nil) nil))
(subscribe! "notes" "mailer" mail :from "earliest" :maxAttempts 1)
`

/** Anything a terminal would act on, or that hides or reorders text; newlines are allowed. */
const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/
const hostile = "\u001b[2J\u001b]0;pwned\u0007\r\u009b31m\u202eevil"

describe.each(conformanceFactories)("sib trace ($name)", (factory) => {
  let dir: string
  let db: string
  let order: Record<string, unknown>
  let payment: Record<string, unknown>
  let receipt: Record<string, unknown>
  let notes: Array<Record<string, unknown>>
  const run = (args: ReadonlyArray<string>, input?: string) => sib(args, { cwd: dir, env: { SIB_DB: db }, ...(input === undefined ? {} : { input }) })
  const tail = async (topic: string) => jsonLines((await run(["tail", topic, "--from", "earliest", "--json"])).stdout)

  beforeAll(async () => {
    dir = makeTmpDir()
    db = factory.shared()
    writeFileSync(join(dir, "shop.sib"), program)
    const running = startSib(["run", "shop.sib", "--status", "off"], { cwd: dir, env: { SIB_DB: db } })
    await running.waitFor(/Ctrl-C stops/)
    expect((await run(["publish", "orders", `{"id":1}`, "--key", "o-1"])).code).toBe(0)
    for (let i = 0; i < 300; i++) {
      const groups = jsonLines((await run(["groups", "--json"])).stdout)
      if ((await tail("receipts")).length === 1 && (await tail("notes")).length === 4 && groups.some((g) => g["group"] === "mailer" && g["deadLetters"] === 1 && g["lag"] === 0)) break
      await new Promise((r) => setTimeout(r, 50))
    }
    running.child.kill("SIGTERM")
    expect(await running.exited).toBe(0)
    order = (await tail("orders"))[0]!
    payment = (await tail("payments"))[0]!
    receipt = (await tail("receipts"))[0]!
    notes = await tail("notes")
    expect(notes).toHaveLength(4)
  }, 90_000)

  afterAll(async () => {
    await factory.drop(db)
  })

  it("shows the causes up to the root and the effects down, with each group's state and the time between", async () => {
    const r = await run(["trace", String(payment["id"])])
    expect(r.code).toBe(0)
    expect(r.stderr).toBe("")
    const lines = r.stdout.split("\n")
    expect(lines[0]).toBe(`payments #${payment["seq"]}  ${new Date(payment["ts"] as number).toISOString()}  ${payment["id"]}`)
    expect(r.stdout).toContain(`\n   payload {"order":1}\n   receipter: done\n`)
    expect(r.stdout).toMatch(new RegExp(`^caused by:\n  <- orders #${order["seq"]}  \\S+Z  key o-1  ${order["id"]}  \\([\\d.]+ m?s before\\)\n     payload \\{"id":1\\}\n     notifier: done\n     payer: done$`, "m"))
    expect(r.stdout).toMatch(new RegExp(`^effects:\n  -> receipts #${receipt["seq"]}  \\S+Z  ${receipt["id"]}  \\(\\+[\\d.]+ m?s\\)\n     payload \\{"order":1\\}\n     no group consumes receipts$`, "m"))
  })

  it("follows a fan-out, shows a dead letter with its error, and bounds the breadth and the depth", async () => {
    const r = await run(["trace", String(order["id"])])
    expect(r.stdout).toMatch(/^caused by: none$/m)
    // The chain two levels down, under the payment.
    expect(r.stdout).toMatch(new RegExp(`^  -> payments #\\d+ .*\n     payload .*\n     receipter: done\n     -> receipts #${receipt["seq"]} `, "m"))
    for (const note of notes) expect(r.stdout).toMatch(new RegExp(`^  -> notes #${note["seq"]} `, "m"))
    expect(r.stdout).toMatch(/^ {5}payload \{"n":3\}\n {5}mailer: dead letter \(1 attempt\): shop\.sib:\d+:\d+: .*nil/m)
    expect(r.stdout).toMatch(/^ {5}payload \{"n":1\}\n {5}mailer: done$/m)

    const narrow = await run(["trace", String(order["id"]), "--breadth", "2"])
    expect(narrow.stdout.match(/^ {2}-> /gm)).toHaveLength(2)
    expect(narrow.stdout).toMatch(/^ {2}\.\.\. and 3 more$/m)

    const shallow = await run(["trace", String(order["id"]), "--depth", "1"])
    expect(shallow.stdout).not.toContain("-> receipts")
    expect(shallow.stdout).toMatch(/^ {5}\.\.\. and 1 more$/m)

    const few = await run(["trace", String(order["id"]), "--max-events", "3"])
    expect(few.stdout.match(/-> /g)).toHaveLength(2)
    expect(few.stdout.trim().split("\n").at(-1)).toBe("(stopped at 3 events: pass --max-events for more)")
  })

  it("--json: the event, its causes and its effects as nested trees", async () => {
    const r = await run(["trace", String(payment["id"]), "--json"])
    const shown = jsonLines(r.stdout)
    expect(shown).toHaveLength(1)
    const node = (e: Record<string, unknown>) => ({ id: e["id"], topic: e["topic"], seq: e["seq"], ts: e["ts"], key: e["key"] ?? null, payload: e["payload"], causedBy: e["causedBy"] ?? [] })
    expect(shown[0]).toEqual({
      event: { ...node(payment), groups: [{ group: "receipter", state: "done" }] },
      causes: [{
        ...node(order),
        groups: [{ group: "notifier", state: "done" }, { group: "payer", state: "done" }],
        found: true,
        repeated: false,
        lagMs: (payment["ts"] as number) - (order["ts"] as number),
        causes: [],
        more: 0
      }],
      moreCauses: 0,
      effects: [{ ...node(receipt), groups: [], found: true, repeated: false, lagMs: (receipt["ts"] as number) - (payment["ts"] as number), effects: [], more: 0 }],
      moreEffects: 0,
      truncated: false
    })
    const [whole] = jsonLines((await run(["trace", String(order["id"]), "--json", "--breadth", "3"])).stdout)
    expect(whole!["moreEffects"]).toBe(2)
    // The first three effects by seq: the payer's and the notifier's groups run in either order.
    const firstThree = [payment, ...notes].sort((a, b) => (a["seq"] as number) - (b["seq"] as number)).slice(0, 3).map((e) => e["id"])
    expect((whole!["effects"] as Array<Record<string, unknown>>).map((e) => e["id"])).toEqual(firstThree)
    const [third] = jsonLines((await run(["trace", String(notes[2]!["id"]), "--json"])).stdout)
    expect((third!["event"] as Record<string, unknown>)["groups"]).toEqual([expect.objectContaining({ group: "mailer", state: "dead", attempts: 1, errorMessage: expect.stringMatching(/^shop\.sib:/) })])
  })

  it("an unknown id: one line, exit 1", async () => {
    expect(await run(["trace", "nope"])).toMatchObject({ code: 1, stdout: "", stderr: "sib: no event has the id nope\n" })
  })

  it("ends on a causedBy cycle, shows a cause that is not stored, and escapes stored text for the terminal", async () => {
    const records = [
      { id: "cy-x", payload: hostile, key: hostile, causedBy: ["cy-z", "cy-gone"] },
      { id: "cy-y", payload: 2, causedBy: ["cy-x"] },
      { id: "cy-z", payload: 3, causedBy: ["cy-y"] }
    ].map((r) => JSON.stringify(r)).join("\n")
    expect((await run(["publish", "cycles", "--file", "-", "--records", "-q"], records)).code).toBe(0)
    const r = await run(["trace", "cy-x"])
    expect(r.code).toBe(0)
    expect(raw.exec(r.stdout)).toBeNull()
    expect(r.stdout).toContain("key \\x1b[2J\\x1b]0;pwned\\x07\\r\\x9b31m\\u202eevil")
    // The payload as JSON (which writes C0 controls as \u escapes), the rest escaped for the terminal.
    expect(r.stdout).toContain(`payload "\\u001b[2J\\u001b]0;pwned\\u0007\\r\\x9b31m\\u202eevil"`)
    expect(r.stdout).toMatch(/^ {8}<- cy-x \(shown above\)$/m)
    expect(r.stdout).toMatch(/^ {2}<- cy-gone \(not stored: pruned, compacted or never published\)$/m)
    expect(r.stdout).toMatch(/^ {2}-> cycles #\d+ .* cy-y /m)
    const [json] = jsonLines((await run(["trace", "cy-y", "--json"])).stdout)
    const causes = json!["causes"] as Array<Record<string, unknown>>
    expect(causes[0]).toMatchObject({ id: "cy-x", payload: hostile })
    expect((causes[0]!["causes"] as Array<unknown>)).toEqual([
      expect.objectContaining({ id: "cy-z", causes: [{ id: "cy-y", found: true, repeated: true }] }),
      { id: "cy-gone", found: false }
    ])
  })
})
