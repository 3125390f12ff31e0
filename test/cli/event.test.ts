/**
 * `sib event <id>` and `sib dlq --full` on the real binary (issue 11, item 13): one event with its
 * payload, key, headers and causation, and per group where it stands (done, pending, retrying with
 * its attempts and error, dead with the error and stack), as text and as one JSON object; the dead
 * letters in full with their payloads, while plain `sib dlq` stays one line per dead letter.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, sib, startSib } from "../helpers/sib.ts"

afterEach(killStarted)

const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

// billing dead-letters order 2 after 2 attempts and publishes an invoice for the others; audit fails
// order 3 once and waits ten minutes for its retry.
const program = `
(define-topic "orders")
(defn bill [e ctx]
  (if (= e.payload.id 2) (+ 1 nil) (publish! "invoices" {:order e.payload.id})))
(subscribe! "orders" "billing" bill :from "earliest" :maxAttempts 2 :backoff {:initialMs 1 :maxMs 1})
(defn audit [e ctx] (if (= e.payload.id 3) (+ 1 nil) nil))
(subscribe! "orders" "audit" audit :from "earliest" :maxAttempts 5 :backoff {:initialMs 600000 :maxMs 600000})
`

let dir: string
let orders: Array<Record<string, unknown>>
let invoice: Record<string, unknown>

beforeAll(async () => {
  dir = makeTmpDir()
  writeFileSync(join(dir, "billing.sib"), program)
  const run = startSib(["run", "billing.sib", "--status", "off"], { cwd: dir })
  await run.waitFor(/Ctrl-C stops/)
  for (const id of [1, 2, 3]) await sib(["publish", "orders", JSON.stringify({ id }), "--key", `o-${id}`, "--header", "source=cli"], { cwd: dir })
  for (let i = 0; i < 200; i++) {
    const groups = jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)
    const invoices = jsonLines((await sib(["tail", "invoices", "--from", "earliest", "--json"], { cwd: dir })).stdout)
    if (groups.some((g) => g["group"] === "billing" && g["deadLetters"] === 1) && groups.some((g) => g["group"] === "audit" && g["retrying"] === 1) && invoices.length === 2) break
    await new Promise((r) => setTimeout(r, 50))
  }
  run.child.kill("SIGTERM")
  expect(await run.exited).toBe(0)
  // Published after the run: no group has fetched it.
  await sib(["publish", "orders", `{"id":4}`], { cwd: dir })
  orders = jsonLines((await sib(["tail", "orders", "--json"], { cwd: dir })).stdout)
  invoice = jsonLines((await sib(["tail", "invoices", "--json"], { cwd: dir })).stdout)[0]!
}, 60_000)

describe("sib event", () => {
  it("shows the event and, per group, done or dead with attempts, error and stack", async () => {
    const r = await sib(["event", String(orders[1]!["id"])], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`event      ${orders[1]!["id"]}\ntopic      orders\nseq        ${orders[1]!["seq"]}\n`)
    expect(r.stdout).toMatch(/^key {8}o-2$/m)
    expect(r.stdout).toMatch(/^headers {4}source=cli$/m)
    expect(r.stdout).toMatch(/^payload {4}\{"id":2\}$/m)
    expect(r.stdout).toMatch(/^audit: done$/m)
    expect(r.stdout).toMatch(/^billing: dead letter after 2 attempts \(first failed \S+, dead since \S+\)\n {2}error {2}billing\.sib:4:\d+: .*nil.*\n {2}stack {2}at billing\.sib:4:\d+$/m)
  })

  it("shows a retrying group's attempts, next attempt and error, a pending one, and the causation", async () => {
    const retrying = await sib(["event", String(orders[2]!["id"])], { cwd: dir })
    expect(retrying.stdout).toMatch(/^audit: retrying: failed 1 time, next attempt at \S+Z\n {2}error {2}billing\.sib:6:\d+: /m)
    expect(retrying.stdout).toMatch(/^billing: done$/m)
    const pending = await sib(["event", String(orders[3]!["id"])], { cwd: dir })
    expect(pending.stdout).toMatch(/^audit: pending \(not fetched yet\)\nbilling: pending \(not fetched yet\)$/m)
    const caused = await sib(["event", String(invoice["id"])], { cwd: dir })
    expect(caused.stdout).toMatch(new RegExp(`^caused by  ${orders[0]!["id"]}$`, "m"))
    expect(caused.stdout.trim().split("\n").at(-1)).toBe("no group consumes invoices")
  })

  it("--json: the event record with its groups", async () => {
    const r = await sib(["event", String(orders[1]!["id"]), "--json"], { cwd: dir })
    const [shown] = jsonLines(r.stdout)
    expect(jsonLines(r.stdout)).toHaveLength(1)
    const { groups, ...record } = shown!
    expect(record).toEqual(orders[1])
    expect(groups).toEqual([
      { group: "audit", state: "done" },
      {
        group: "billing", state: "dead", attempts: 2, errorMessage: expect.stringMatching(/^billing\.sib:4:\d+: /), errorStack: expect.stringContaining("at billing.sib:4:"),
        firstFailedAt: expect.any(Number), lastFailedAt: expect.any(Number), deadAt: expect.any(Number), holdsKey: false
      }
    ])
    const [retrying] = jsonLines((await sib(["event", String(orders[2]!["id"]), "--json"], { cwd: dir })).stdout)
    expect((retrying!["groups"] as Array<unknown>)[0]).toMatchObject({ group: "audit", state: "retrying", attempts: 1, nextAttemptAt: expect.any(Number), errorMessage: expect.any(String) })
  })

  it("an unknown id: one line, exit 1", async () => {
    const r = await sib(["event", "nope"], { cwd: dir })
    expect(r).toMatchObject({ code: 1, stdout: "", stderr: "sib: no event has the id nope\n" })
  })
})

describe("sib dlq --full", () => {
  it("shows each dead letter with its payload, the whole error and its stack; plain dlq stays one line each", async () => {
    const plain = await sib(["dlq"], { cwd: dir })
    expect(plain.stdout.trim().split("\n")).toHaveLength(2)
    const full = await sib(["dlq", "--full"], { cwd: dir })
    expect(full.code).toBe(0)
    expect(full.stdout).toMatch(new RegExp(`^billing  orders #${orders[1]!["seq"]}  event ${orders[1]!["id"]}  key o-2\n  dead letter after 2 attempts \\(first failed \\S+, dead since \\S+\\)\n  payload  \\{"id":2\\}\n  error    billing\\.sib:4:\\d+: .*\n  stack    at billing\\.sib:4:\\d+\n$`))
    const [json] = jsonLines((await sib(["dlq", "--full", "--json"], { cwd: dir })).stdout)
    expect(json).toMatchObject({ group: "billing", eventId: orders[1]!["id"], payload: { id: 2 } })
    expect(jsonLines((await sib(["dlq", "--json"], { cwd: dir })).stdout)[0]).not.toHaveProperty("payload")
  })
})
