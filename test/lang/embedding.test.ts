/**
 * Embedding the language from plain async code: `registerHost`, `load` (all or nothing) on a real
 * SQLite file, runtime errors located in dead letters, `close` stopping timers, and `runSibTests`.
 */
import { afterEach, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { createRuntime, renderTestReport, type Runtime, runSibTests, SibError } from "../../src/index.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const waitFor = async (check: () => boolean | Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

/** Writes `.sib` files into a fresh directory; returns their paths. */
const files = (contents: Record<string, string>) => {
  const dir = makeTmpDir()
  const paths = Object.entries(contents).map(([name, text]) => {
    const path = join(dir, name)
    writeFileSync(path, text)
    return path
  })
  return { dir, paths }
}

describe("embedding .sib programs (Promise facade)", () => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })
  const runtime = async (db: string) => {
    const rt = await createRuntime({ db })
    open.push(rt)
    return rt
  }

  it("runs a program whose handlers call host functions and host objects", async () => {
    const { dir, paths } = files({
      "app.sib": `
(define-topic "signups" {:schema {:user :string :plan :string}})
(defn welcome [e ctx]
  (notify e.payload.user)
  (.send mailer e.payload.user (str "welcome to " e.payload.plan " from " mailer.from))
  (publish! "emails.sent" {:to e.payload.user}))
(subscribe! "signups" "welcomer" welcome :from "earliest")
(publish! "signups" {:user "ada" :plan "pro"})
`
    })
    const rt = await runtime(join(dir, "app.db"))
    const notified: Array<unknown> = []
    const mails: Array<[unknown, unknown]> = []
    rt.registerHost("notify", (user) => void notified.push(user))
    rt.registerHost("mailer", { from: "ops@example.com", send: async (to: unknown, body: unknown) => void mails.push([to, body]) })
    const program = await rt.load(paths[0]!)
    expect(program.topics).toEqual(["signups"])
    expect(program.groups).toEqual(["welcomer"])
    await rt.publish("signups", { user: "grace", plan: "free" })
    await waitFor(async () => (await rt.read("emails.sent", 0, 10)).length === 2)
    expect(notified).toEqual(["ada", "grace"])
    expect(mails).toEqual([["ada", "welcome to pro from ops@example.com"], ["grace", "welcome to free from ops@example.com"]])
    const sent = await rt.read("emails.sent", 0, 10)
    const signups = await rt.read("signups", 0, 10)
    // A publish from a handler is caused by the handled event.
    expect(sent.map((e) => e.causedBy)).toEqual(signups.map((e) => [e.id]))
    await program.stop()
    expect(rt.groupStats("welcomer")).toBeUndefined()
    // The topic's schema is enforced for the application too.
    await expect(rt.publish("signups", { user: 7 })).rejects.toThrow(/user/)
  })

  it("declare-host: the application must give each declared host function, and one it gives is called", async () => {
    const { dir, paths } = files({
      "app.sib": `(declare-host notify mailer)
(subscribe! "signups" "welcomer" (fn [e] (notify e.payload.user) (.send mailer e.payload.user)) :from "earliest")
`
    })
    const rt = await runtime(join(dir, "app.db"))
    rt.registerHost("notify", () => undefined)
    const missing = await rt.load(paths[0]!).then(() => undefined, (e: unknown) => e)
    expect(missing).toBeInstanceOf(SibError)
    expect((missing as SibError).diagnostics.map((d) => d.message)).toEqual([
      "the program uses the host function mailer, which the application does not register"
    ])
    expect(rt.groupStats("welcomer")).toBeUndefined()
    const sent: Array<unknown> = []
    rt.registerHost("mailer", { send: (to: unknown) => void sent.push(to) })
    const program = await rt.load(paths[0]!)
    await rt.publish("signups", { user: "ada" })
    await waitFor(() => sent.length === 1)
    expect(sent).toEqual(["ada"])
    await program.stop()
    // runSibTests takes the hosts as the running program does; without them it is the same error.
    const tested = await runSibTests(paths[0]!, { host: { notify: () => undefined } }).then(() => undefined, (e: unknown) => e)
    expect((tested as SibError).diagnostics.map((d) => d.message)).toEqual(["the program uses the host function mailer, which the application does not register"])
  })

  it("a program with errors rejects with every diagnostic and starts nothing", async () => {
    const { dir, paths } = files({
      "topics.sib": `(define-topic "jobs" {:retentionDays 3})\n(every! "10ms" (fn [] (publish! "ticks" {})))\n`,
      "bad.sib": `(require "topics.sib")\n(defn on-job [e ctx] (log e.payload))\n(subscribe! "jobs" "workers" on-jb :form "earliest")\n`
    })
    const rt = await runtime(join(dir, "bad.db"))
    const error = await rt.load(paths[1]!).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(SibError)
    const rendered = (error as SibError).render()
    expect(rendered).toContain("bad.sib:3:30: Compile error: unknown symbol on-jb")
    expect(rendered).toContain("did you mean on-job?")
    expect(rendered).toContain("^^^^^")
    expect(rendered).toMatch(/:form/)
    expect((error as SibError).diagnostics.length).toBeGreaterThanOrEqual(2)
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(rt.groupStats("workers")).toBeUndefined()
    expect(await rt.read("ticks", 0, 10)).toEqual([])
    await expect(rt.publish("jobs", {})).resolves.toMatchObject({ topic: "jobs" })
  })

  it("a failing handler's dead letter carries the .sib location of the failing form", async () => {
    const { dir, paths } = files({
      "fail.sib": `(defn handle [e ctx]\n  (let [n e.payload.n]\n    (/ 10 (get {} :missing))))\n(subscribe! "numbers" "div" handle :maxAttempts 2 :backoff {:initialMs 1})\n`
    })
    const rt = await runtime(join(dir, "fail.db"))
    await rt.load(paths[0]!)
    await rt.publish("numbers", { n: 1 })
    await waitFor(async () => (await rt.deadLetters({ group: "div" })).length === 1)
    const [dead] = await rt.deadLetters({ group: "div" })
    expect(dead!.attempts).toBe(2)
    expect(dead!.errorMessage).toMatch(new RegExp(`${paths[0]!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:5: `))
  })

  it("close stops the program's timers before the bus", async () => {
    const { dir, paths } = files({ "tick.sib": `(every! "10ms" (fn [] (publish! "ticks" {:at (now)})))\n` })
    const db = join(dir, "tick.db")
    const rt = await createRuntime({ db })
    await rt.load(paths[0]!)
    await waitFor(async () => (await rt.read("ticks", 0, 100)).length >= 3)
    await rt.close()
    const after = await createRuntime({ db })
    open.push(after)
    const count = (await after.read("ticks", 0, 1000)).length
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect((await after.read("ticks", 0, 1000)).length).toBe(count)
  })

  it("registerHost rejects names .sib cannot use and values that are not functions or objects", async () => {
    const rt = await runtime(":memory:")
    expect(() => rt.registerHost("send email", () => 1)).toThrow(TypeError)
    expect(() => rt.registerHost("", () => 1)).toThrow(TypeError)
    expect(() => rt.registerHost("limit", 5 as never)).toThrow(/function or an object/)
  })

  it("load and runSibTests reject sources that are not paths or { file, text } with a TypeError naming the problem", async () => {
    const rt = await runtime(":memory:")
    await expect(rt.load([{ name: "a.sib", text: "(+ 1 2)" } as never])).rejects.toThrow(/source 0: a source object needs file.*"name"/)
    await expect(rt.load([{ file: "a.sib", text: 5 } as never])).rejects.toThrow(/source 0: a source's text must be a string, got number/)
    await expect(rt.load(["ok.sib", null as never])).rejects.toThrow(/source 1: a source is a file path or \{ file, text \}, got null/)
    await expect(rt.load(7 as never)).rejects.toThrow(TypeError)
    await expect(runSibTests([{ file: "t.sib", text: "", extra: 1 } as never])).rejects.toThrow(/file and text only, not "extra"/)
  })

  it("sleep! pauses a handler on the Clock; in a test body it moves the test clock", async () => {
    const { paths } = files({
      "slow.sib": `
(defn echo [e ctx] (sleep! "2s") (publish! "echoes" e.payload))
(subscribe! "calls" "echo" echo :from "earliest")
(deftest "a sleeping handler wakes when the clock passes its pause"
  (publish! "calls" {:n 1})
  (sleep! "1s")
  (expect= 0 (count (published "echoes")))
  (advance! "1s")
  (expect= [{:n 1}] (map :payload (published "echoes"))))
`
    })
    const report = await runSibTests(paths[0]!)
    expect(report.results.map((r) => [r.name, r.failures.map((f) => f.message)])).toEqual([["a sleeping handler wakes when the clock passes its pause", []]])
    const rt = await runtime(":memory:")
    await rt.load(paths[0]!)
    const started = Date.now()
    await rt.publish("calls", { n: 2 })
    await waitFor(async () => (await rt.read("echoes", 0, 10)).length === 1, 10_000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900)
  }, 20_000)

  it("runSibTests runs deftests and reports N passed, N failed with located failures", async () => {
    const report = await runSibTests(join(import.meta.dirname, "..", "..", "dsl-examples", "main.sib"))
    expect(report.failed).toBe(0)
    expect(renderTestReport(report)).toMatch(new RegExp(`\\n${report.passed} passed, 0 failed$`))
    const { paths } = files({
      "t.sib": `(deftest "arithmetic" (expect= 4 (+ 2 2)))\n(deftest "wrong" (expect= 5 (+ 2 2)))\n`
    })
    const failing = await runSibTests(paths[0]!)
    const text = renderTestReport(failing)
    expect(text).toContain("FAIL wrong")
    expect(text).toContain("t.sib:2:18: Assertion failed: (expect= 5 (+ 2 2))")
    expect(text).toMatch(/\n +expected: 5\n +actual: {3}4\n/)
    expect(text).toMatch(/\n1 passed, 1 failed$/)
  })
})
