/**
 * `sib check` and `sib test` as their users run them (the real binary, in a temporary folder):
 * what a test run reports (assertions, log lines, no test run), directories of `.sib` files, every
 * error of a file in one check, and programs that declare the host functions they expect.
 */
import { afterEach, describe, expect, it } from "vitest"
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, sib } from "../helpers/sib.ts"

afterEach(killStarted)

const examples = join(import.meta.dirname, "..", "..", "dsl-examples")
const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A fresh directory with the given files (names may contain one level of folder). */
const workdir = (files: Record<string, string> = {}) => {
  const dir = makeTmpDir()
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) {
    if (name.includes("/")) mkdirSync(join(dir, name.slice(0, name.lastIndexOf("/"))), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
  return dir
}

describe("sib test: what a run reports", () => {
  const program = `(define-topic "orders")
(defn on-order [e ctx] (log "billing order" e.payload.id) (publish! "invoices" {:id e.payload.id}))
(subscribe! "orders" "billing" on-order :from "earliest")
(deftest "passes" (log "quiet unless asked") (expect= 4 (+ 2 2)))
(deftest "fails" (log "starting") (publish! "orders" {:id 7}) (advance! "1s") (expect= 5 (+ 2 2)) (expect (nil? 3)))
`

  it("a failed expect is an assertion failure with the expected and actual values; a failing test's log lines are shown", async () => {
    const dir = workdir({ "t.sib": program })
    const r = await sib(["test", "t.sib"], { cwd: dir })
    expect(r.code).toBe(1)
    const lines = r.stdout.split("\n")
    const at = (text: string) => lines.findIndex((l) => l.includes(text))
    expect(r.stdout).toContain("t.sib:5:79: Assertion failed: (expect= 5 (+ 2 2))")
    expect(lines[at("Assertion failed: (expect= 5") + 3]?.trim()).toBe("expected: 5")
    expect(lines[at("Assertion failed: (expect= 5") + 4]?.trim()).toBe("actual:   4")
    expect(r.stdout).toContain("t.sib:5:99: Assertion failed: (expect (nil? 3))")
    expect(r.stdout).toMatch(/expected: a true value \(anything but nil and false\)\n +actual: {3}false/)
    expect(r.stdout).not.toContain("Runtime error")
    // The failing test's body and handler logged; the passing test's line stays out.
    expect(r.stdout).toMatch(/ log:\n +\[\+0ms\] starting\n +\[\+\d+ms\] billing order 7\n/)
    expect(r.stdout).not.toContain("quiet unless asked")
    expect(r.stdout.trim().split("\n").at(-1)).toBe("1 passed, 1 failed")
  })

  it("--logs shows the log lines of passing tests too", async () => {
    const dir = workdir({ "t.sib": program })
    const r = await sib(["test", "t.sib", "--logs", "--match", "passes"], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^ok {3}passes \(t\.sib:4\)\n +log:\n +\[\+0ms\] quiet unless asked\n1 passed, 0 failed\n$/)
  })

  it("no test run is a failure with a one-line reason: files without deftest, a --match that matches nothing", async () => {
    const dir = workdir({ "none.sib": "(define-topic \"orders\")\n", "t.sib": program })
    const none = await sib(["test", "none.sib"], { cwd: dir })
    expect(none.code).toBe(1)
    expect(none.stdout).toBe("")
    expect(none.stderr).toBe("sib: no tests ran: none.sib defines no deftest\n")
    const unmatched = await sib(["test", "t.sib", "--match", "nothing like it"], { cwd: dir })
    expect(unmatched.code).toBe(1)
    expect(unmatched.stdout).toBe("")
    expect(unmatched.stderr).toBe("sib: no tests ran: no test name contains \"nothing like it\" (of 2 tests)\n")
  })
})

describe("sib test and sib check: a directory stands for its .sib files", () => {
  it("the example folder runs as one program: files required by others are loaded once", async () => {
    const dir = workdir()
    const tested = await sib(["test", examples], { cwd: dir })
    expect(tested.code).toBe(0)
    expect(tested.stdout.trim().split("\n").at(-1)).toBe("6 passed, 0 failed")
    const checked = await sib(["check", examples], { cwd: dir })
    expect(checked.code).toBe(0)
    expect(checked.stderr).toMatch(/^ok: 5 file\(s\), 3 topic\(s\), 2 group\(s\), 2 timer\(s\), 6 test\(s\)/)
  })

  it("only the .sib files directly in it, in name order; subfolders and other files are left alone", async () => {
    const dir = workdir({
      "app/b.sib": "(require \"lib/topics.sib\")\n(deftest \"b\" (expect= \"orders\" ORDERS.name))\n",
      "app/a.sib": "(require \"lib/topics.sib\")\n(deftest \"a\" (expect= 1 1))\n",
      "app/notes.txt": "not a program",
      "app/lib/topics.sib": "(def ORDERS (define-topic \"orders\"))\n(deftest \"topics\" (expect= true true))\n",
      "app/lib/broken.sib": "(this does not (load\n",
      "empty/readme.md": "nothing here"
    })
    const r = await sib(["test", "app"], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout.split("\n").filter((l) => l.startsWith("ok"))).toEqual([
      "ok   topics (app/lib/topics.sib:2)",
      "ok   a (app/a.sib:2)",
      "ok   b (app/b.sib:2)"
    ])
    const empty = await sib(["check", "empty"], { cwd: dir })
    expect(empty.code).toBe(2)
    expect(empty.stderr).toBe("sib: empty is a directory without .sib files\n")
    expect(existsSync(join(dir, "sib.db"))).toBe(false)
  })
})

/** The diagnostics of `sib check --format json`, as objects. */
const checkJson = async (dir: string, args: ReadonlyArray<string>) => {
  const r = await sib(["check", ...args, "--format", "json"], { cwd: dir })
  return { code: r.code, stderr: r.stderr, diagnostics: r.stdout.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe("sib check reports every error of a file in one run", () => {
  // Eight mistakes: load-time (option) errors before and after compile errors, nested option maps,
  // option values one letter off, a definition that fails and its later use.
  const eight = [
    `(define-topic "orders" {:retention {:maxAgee "1d"}})`,
    `(define-topic "audit" {:partitions "two"})`,
    `(defn handle [e ctx] (log (undefined-fn e)))`,
    `(subscribe! "orders" "billing" (fn [e] e) {:from "earliets" :ordering "keyed" :backoff {:intialMs 5}})`,
    `(subscribe! "orders" "shipping" (fn [e] e) {:maxInFlight 0})`,
    `(def rate (/ 1 "a"))`,
    `(subscribe! "audit" "auditor" (fn [e] (str rate)))`,
    `(every! "1s" (fn [a] nil))`
  ].join("\n") + "\n"

  it("each mistake once, under what is wrong, with did-you-mean for names and values", async () => {
    const dir = workdir({ "app.sib": eight })
    const r = await checkJson(dir, ["app.sib"])
    expect(r.code).toBe(1)
    const at = (d: Record<string, unknown>) => `${d["line"]}:${d["column"]}-${d["endColumn"]}`
    expect(r.diagnostics.map((d) => [at(d), d["message"], d["hints"]])).toEqual([
      ["1:37-45", "define-topic: unknown option :maxAgee in :retention", ["did you mean :maxAgeMs?", "valid options in :retention: :maxAgeMs :maxCount :retainUntilConsumed"]],
      ["2:24-41", "define-topic: :partitions must be an integer from 1 to 65536, got \"two\"", []],
      ["3:28-40", "unknown symbol undefined-fn", [expect.stringContaining("(declare-host undefined-fn)")]],
      ["4:44-60", expect.stringMatching(/^subscribe!: :from must be "earliest", "latest",.* got "earliets"$/), ["did you mean \"earliest\"?"]],
      ["4:61-78", "subscribe!: :ordering must be \"key\", \"strict\" or \"none\", got \"keyed\"", ["did you mean \"key\"?"]],
      ["4:89-98", "subscribe!: unknown option :intialMs in :backoff", ["did you mean :initialMs?", "valid options in :backoff: :initialMs :factor :maxMs :jitter"]],
      ["5:45-59", "subscribe!: :maxInFlight must be an integer from 1 to 10000, got 0", []],
      ["6:11-20", "/ needs numbers, got a string (\"a\")", []],
      // Line 7 uses rate, whose definition failed: not reported again.
      ["8:14-26", "every!: a timer calls its function with no arguments, but fn takes [a]", ["write it as (fn [] ...)"]]
    ])
    expect(r.stderr).toBe("")
  })

  it("rendered for people: a caret under the bad option, not the whole form", async () => {
    const dir = workdir({ "app.sib": `(define-topic "orders")\n(subscribe! "orders" "billing" (fn [e] e) :from "earliets" :maxAttempts 3)\n` })
    const r = await sib(["check", "app.sib"], { cwd: dir, env: { NO_COLOR: "1" } })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain([
      `  2 | (subscribe! "orders" "billing" (fn [e] e) :from "earliets" :maxAttempts 3)`,
      `    | ${" ".repeat(42)}${"^".repeat(16)}`,
      `  * did you mean "earliest"?`
    ].join("\n"))
  })

  it("a runaway form costs its limit once: later forms are compiled, not run", async () => {
    const dir = workdir({
      "app.sib": [
        `(defn spin [n] (loop [i 0] (recur (inc i))))`,
        `(def a (spin 1))`,
        `(def b (spin 2))`,
        `(def c (spin 3))`,
        `(subscribe! "nowhere" "g" (fn [e] (undefined-thing)))`
      ].join("\n")
    })
    const started = Date.now()
    const r = await checkJson(dir, ["app.sib"])
    expect(r.code).toBe(1)
    // The runaway is reported at its loop (line 1), once: the forms calling spin after it are not run.
    expect(r.diagnostics.map((d) => d["line"])).toEqual([1, 5])
    expect(r.diagnostics[0]!["message"]).toMatch(/step budget|took more than|computed for more than/)
    expect(Date.now() - started).toBeLessThan(20_000)
  })
})

describe("values the other APIs refuse are refused from .sib too", () => {
  it("an event's :id and :key are strings; a timer's or filter's function of the wrong arity is caught by sib check", async () => {
    const dir = workdir({
      "app.sib": [
        `(define-topic "orders")`,
        `(publish! "orders" {:a 1} {:id {:a 1}})`,
        `(publish! "orders" {:a 1} :id :kw)`,
        `(publish! "orders" {:a 1} :key [1 2])`,
        `(publish! "orders" {:a 1} :key 7)`,
        `(every! "1s" (fn [tick] nil))`,
        `(after! "1s" (fn [a b] nil))`,
        `(subscribe! "orders" "g" (fn [e] e) :filter (fn [e ctx] true))`,
        `(subscribe! "orders" "h" (fn [e ctx extra] e))`
      ].join("\n")
    })
    const r = await checkJson(dir, ["app.sib"])
    expect(r.code).toBe(1)
    expect(r.diagnostics.map((d) => [d["line"], d["message"]])).toEqual([
      [2, "publish!: :id must be a string, got a map"],
      [3, "publish!: :id must be a string, got a keyword"],
      [4, "publish!: :key must be a string, got a vector"],
      [5, "publish!: :key must be a string, got a number"],
      [6, "every!: a timer calls its function with no arguments, but fn takes [tick]"],
      [7, "after!: a timer calls its function with no arguments, but fn takes [a b]"],
      [8, "subscribe!: a filter is called with the event alone, but fn takes [e ctx]"],
      [9, "subscribe!: a handler is called with the event and its delivery context, but fn takes [e ctx extra]"]
    ])
    expect(r.diagnostics[2]!["hints"]).toEqual([`build one string from it, e.g. (str ...)`])
    expect(r.diagnostics[3]!["hints"]).toEqual([`write it as a string: "7" (or (str x) for a computed one)`])
  })
})

describe("programs that call host functions of their application", () => {
  const program = `(declare-host send-email)
(define-topic "orders")
(subscribe! "orders" "mailer" (fn [e] (send-email "ops@example.com" e.payload) (call-model 1)) :from "earliest")
(deftest "mails" (publish! "orders" {:id 1}) (advance! "1s") (expect= 1 (count (published "orders"))))
`

  it("sib check and sib test take declared names (declare-host, --host) as stand-ins that log their calls", async () => {
    const dir = workdir({ "app.sib": program })
    const unknown = await checkJson(dir, ["app.sib"])
    expect(unknown.code).toBe(1)
    expect(unknown.diagnostics.map((d) => d["message"])).toEqual(["unknown symbol call-model"])
    const checked = await sib(["check", "app.sib", "--host", "call-model"], { cwd: dir })
    expect(checked.code).toBe(0)
    expect(checked.stderr).toMatch(/^ok: 1 file\(s\)/)
    const tested = await sib(["test", "app.sib", "--host", "call-model,other", "--logs"], { cwd: dir })
    expect(tested.code).toBe(0)
    expect(tested.stdout).toContain("send-email (a declared host function; a stand-in here) called with ops@example.com {:id 1}")
    expect(tested.stdout).toContain("call-model (a declared host function; a stand-in here) called with 1")
  })

  it("sib run, which has no application, refuses a program that declares host functions; a misuse of declare-host is located", async () => {
    const dir = workdir({
      "app.sib": program.replace("(call-model 1)", ""),
      "bad.sib": `(declare-host "send-email" str)\n(defn f [] (declare-host g))\n`
    })
    const run = await sib(["run", "app.sib", "--db", "app.db"], { cwd: dir })
    expect(run.code).toBe(1)
    expect(run.stderr).toContain("app.sib:1:15: Compile error: the program uses the host function send-email, which the application does not register")
    expect(existsSync(join(dir, "app.db"))).toBe(false)
    const bad = await checkJson(dir, ["bad.sib"])
    expect(bad.diagnostics.map((d) => [d["line"], d["column"], d["message"]])).toEqual([
      [1, 15, "declare-host takes names (symbols), not values"],
      [1, 28, "str is a built-in of the language, not a host function"],
      [2, 12, "declare-host belongs at the top level of a file"]
    ])
  })
})
