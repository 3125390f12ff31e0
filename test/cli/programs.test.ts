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
