/**
 * The live status line of `sib run` (issue 11, item 15) on the real binary: a message printed while
 * it is shown (a reload's) clears it first and draws it again below, so the line is redrawn rather
 * than appended to; and it is cut to the terminal's width (`COLUMNS` here, stderr being a pipe) with
 * an ellipsis, so it never wraps (a wrapped line cannot be cleared with a carriage return).
 */
import { afterEach, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { fitWidth } from "../../src/cli/status.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, startSib } from "../helpers/sib.ts"

afterEach(killStarted)

const clear = "\r\u001b[K"

describe("fitWidth", () => {
  it("cuts by terminal columns (wide characters take two, combining marks none), ending in an ellipsis", () => {
    expect(fitWidth("published 3", 11)).toBe("published 3")
    expect(fitWidth("published 30", 11)).toBe("published \u2026")
    expect(fitWidth("lag \u65e5\u672c\u8a9e", 9)).toBe("lag \u65e5\u672c\u2026")
    expect(fitWidth("lag e\u0301e\u0301e\u0301", 7)).toBe("lag e\u0301e\u0301e\u0301")
  })
})

describe("sib run --status live", () => {
  it("reload messages clear the line and draw it again below; the line is cut to the terminal's width", async () => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "g.sib"), `(defn h [e ctx] nil)\n(subscribe! "orders" "a-consumer-group-with-a-rather-long-name" h :from "earliest")\n`)
    const run = startSib(["run", "g.sib", "--status", "live"], { cwd: dir, env: { COLUMNS: "40" } })
    await run.waitFor(/published \d+/)
    run.child.kill("SIGHUP")
    await run.waitFor(/sib: reloaded: [^\n]*\n/)
    // The next draw after the reload.
    await run.waitFor(/sib: reloaded: [^\n]*\n[^\r]*\r\u001b\[Kpublished/)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)

    const stderr = run.stderr()
    for (const message of ["sib: reloading (SIGHUP)\n", "sib: reloaded: ", "sib: stopping: "]) {
      const at = stderr.indexOf(message)
      expect(at, message).toBeGreaterThan(0)
      expect(stderr.slice(at - clear.length, at), `${JSON.stringify(message)} clears the line first`).toBe(clear)
    }
    // Drawn again right after each message.
    expect(stderr).toMatch(/sib: reloading \(SIGHUP\)\npublished 0 {2}handled 0 {2}lag a-consumer/)
    // Every drawing of the line fits in 39 columns (one stays free), the cut shown by an ellipsis.
    const drawn = stderr.split(clear).map((s) => s.split("\n").at(-1)!).filter((s) => s.startsWith("published"))
    expect(drawn.length).toBeGreaterThanOrEqual(3)
    for (const line of drawn) {
      expect(line.length, line).toBeLessThanOrEqual(39)
      expect(line).toMatch(/^published 0 {2}handled 0 {2}lag a-consumer.*\u2026$/)
    }
  }, 30_000)
})

describe("sib run on a database another sib run consumes", () => {
  it("the second process's status line says what it stands by for: the program's groups and timers", async () => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "p.sib"), `(defn h [e ctx] nil)\n(subscribe! "orders" "billing" h :from "earliest")\n(every! "1s" (fn [] (publish! "beat" {:n 1})))\n`)
    const first = startSib(["run", "p.sib", "--status", "lines"], { cwd: dir })
    await first.waitFor(/published \d+/)
    expect(first.stderr()).not.toMatch(/standing by/)
    const second = startSib(["run", "p.sib", "--status", "lines"], { cwd: dir })
    await second.waitFor(/standing by: billing, 1 timer/, "stderr", 15_000)
    first.child.kill("SIGTERM")
    expect(await first.exited).toBe(0)
    // The standby takes over once the first has stopped (it released the lease).
    await second.waitFor(/published \d+[^\n]*dead letters \d+\n(?![\s\S]*standing by)/, "stderr", 15_000)
    second.child.kill("SIGTERM")
    expect(await second.exited).toBe(0)
  }, 45_000)
})

describe("sib run on a partitioned topic", () => {
  it("the status line counts each event once: its lag and then its handling, in its partition only", async () => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "p.sib"), `(define-topic "cmd" {:partitions 2})\n(subscribe! "cmd" "w" (fn [e] (log "HANDLED" e.payload.id)) :from "earliest")\n`)
    // The group's positions exist (a first run), then one event waits for it.
    const first = startSib(["run", "p.sib", "--status", "lines"], { cwd: dir })
    await first.waitFor(/published \d+/)
    first.child.kill("SIGTERM")
    expect(await first.exited).toBe(0)
    const sib = startSib(["publish", "cmd", "{\"id\":1}", "--key", "a", "-q"], { cwd: dir })
    expect(await sib.exited).toBe(0)
    const run = startSib(["run", "p.sib", "--status", "lines"], { cwd: dir })
    await run.waitFor(/HANDLED 1/)
    await run.waitFor(/published 0 {2}handled 1 {2}lag w 0/, "stderr", 15_000)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
    // Each line is stamped with its time: "12:00:01 published ...".
    const lines = run.stderr().split("\n").filter((l) => / published \d/.test(l))
    expect(lines[0]).toMatch(/ published 0 {2}handled 0 {2}lag w 1 /)
    for (const line of lines) expect(line).not.toMatch(/handled [2-9]|lag w [2-9]/)
  }, 45_000)
})
