/**
 * Terminal safety: text from events, stored data and source files reaches the human output of
 * `sib` (tail, event, dlq, groups, run's log and status lines, check, test) only escaped, so an event key
 * like ESC[2J ESC]0;pwned BEL cannot clear the screen, retitle the terminal, overwrite a line (CR)
 * or reorder text (bidi controls). JSON output (`--json`, `sib publish`'s echo) is JSON with those
 * characters written as \u escapes: the same data, nothing raw. Also `safeText` itself.
 */
import { afterEach, describe, expect, it } from "vitest"
import SqliteDatabase from "better-sqlite3"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { isInvisible } from "../../src/diagnostics/invisible.ts"
import { safeLines, safeText } from "../../src/diagnostics/terminal.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, sib, startSib } from "../helpers/sib.ts"

afterEach(killStarted)

/** Anything a terminal would act on, or that hides or reorders text; newlines are allowed. */
const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/

const expectClean = (what: string, text: string) => {
  const found = raw.exec(text)
  expect(found, `${what} has a raw U+${found?.[0].charCodeAt(0).toString(16).padStart(4, "0")}:\n${JSON.stringify(text)}`).toBeNull()
}

const workdir = (files: Record<string, string> = {}) => {
  const dir = makeTmpDir()
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

/** Clear the screen, set the title, ring the bell, return to column 0, 8-bit CSI, right-to-left override. */
const hostile = "\u001b[2J\u001b]0;pwned\u0007\r\u009b31m\u202eevil"
const hostileShown = "\\x1b[2J\\x1b]0;pwned\\x07\\r\\x9b31m\\u202eevil"

describe("safeText", () => {
  it("escapes C0 (tab and newline too), DEL, C1, separators, bidi and zero-width characters, and nothing else", () => {
    expect(safeText(hostile)).toBe(hostileShown)
    expect(safeText("a\tb\nc\u0000\u007f")).toBe("a\\tb\\nc\\x00\\x7f")
    expect(safeText("\u2028\u2029\u200b\u200d\u2060\ufeff\u200e\u200f\u061c\u2066\u2069")).toBe(
      "\\u2028\\u2029\\u200b\\u200d\\u2060\\ufeff\\u200e\\u200f\\u061c\\u2066\\u2069"
    )
    const plain = "naïve café, 日本語, emoji 🎉, backslash \\x1b, quotes \"'` and a no-break\u00a0space"
    expect(safeText(plain)).toBe(plain)
    expect(safeLines("one\u001b\ntwo\r")).toBe("one\\x1b\ntwo\\r")
  })

  it("escapes every character the reader calls invisible, but spaces and variation selectors (emoji need those)", () => {
    const codes = [...Array.from({ length: 0x10000 }, (_, i) => i), ...Array.from({ length: 0x200 }, (_, i) => 0xe0000 + i), 0xf0000, 0x10fffd, 0x1fffe]
    for (const code of codes) {
      if (code >= 0xd800 && code <= 0xdfff) continue
      const ch = String.fromCodePoint(code)
      if (!isInvisible(code) || /\p{Zs}/u.test(ch) || (code >= 0xfe00 && code <= 0xfe0f) || (code >= 0xe0100 && code <= 0xe01ef) || [0x034f, 0x17b4, 0x17b5, 0x180b, 0x180c, 0x180d, 0x180f].includes(code)) continue
      expect(safeText(ch), `U+${code.toString(16)}`).toMatch(/^\\(x[0-9a-f]{2}|u[0-9a-f]{4}|u\{[0-9a-f]{5,6}\}|[tnr])$/)
    }
  })
})

describe("sib human output escapes data", () => {
  it("tail: a hostile key and payload are escaped; --json (and publish's echo) is JSON with them as \\u escapes", async () => {
    const dir = workdir()
    // JSON \u escapes decode to the raw characters: the stored payload holds ESC, BEL, CR, C1 and bidi.
    const payload = JSON.stringify({ s: hostile, [hostile]: 1 })
    const published = await sib(["publish", "orders", payload, "--key", hostile, "--header", `h=${hostile}`], { cwd: dir })
    expect(published.code).toBe(0)
    expectClean("publish stdout", published.stdout)
    expect(JSON.parse(published.stdout)).toMatchObject({ key: hostile, payload: { s: hostile } })
    const tail = await sib(["tail", "orders"], { cwd: dir })
    expect(tail.code).toBe(0)
    expectClean("tail stdout", tail.stdout)
    expectClean("tail stderr", tail.stderr)
    expect(tail.stdout).toContain(`key=${hostileShown} `)
    // JSON.stringify escapes the C0 controls itself; safeText adds the C1 and bidi ones.
    expect(tail.stdout).toContain(String.raw`"s":"\u001b[2J\u001b]0;pwned\u0007\r\x9b31m\u202eevil"`)
    expect(tail.stdout.trim().split("\n")).toHaveLength(1)

    const json = await sib(["tail", "orders", "--json"], { cwd: dir })
    expectClean("tail --json stdout", json.stdout)
    expect(json.stdout).toContain(String.raw`"s":"\u001b[2J\u001b]0;pwned\u0007\r\u009b31m\u202eevil"`)
    const [event] = json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { key: string; payload: { s: string }; headers: Record<string, string> })
    expect(event).toMatchObject({ key: hostile, payload: { s: hostile }, headers: { h: hostile } })
  })

  it("event: a newline in a key or a header value is shown escaped, never as a line of its own (a forged field)", async () => {
    const dir = workdir()
    const published = await sib(["publish", "t2", "{\"a\":1}", "--key", "line1\nline2", "--header", "h=v1\npayload    {\"forged\":true}"], { cwd: dir })
    const id = (JSON.parse(published.stdout) as { id: string }).id
    const shown = await sib(["event", id], { cwd: dir })
    expect(shown.code).toBe(0)
    const lines = shown.stdout.split("\n")
    expect(lines).toContain("key        line1\\nline2")
    expect(lines).toContain("headers    h=v1\\npayload    {\"forged\":true}")
    expect(lines.filter((l) => l.startsWith("payload"))).toEqual(["payload    {\"a\":1}"])
  })

  it("run, dlq, groups: log lines, handler errors and dead letters with control characters are escaped", async () => {
    const dir = workdir({
      "bill.sib": `
(define-topic "orders")
(defn bill [e ctx]
  (log "got" e.payload.s)
  (+ 1 (keyword e.payload.s)))
(subscribe! "orders" "billing" bill :from "earliest" :maxAttempts 2 :backoff {:initialMs 1 :maxMs 1})
`
    })
    const run = startSib(["run", "bill.sib", "--status", "lines"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    expect((await sib(["publish", "orders", JSON.stringify({ s: hostile }), "--key", hostile], { cwd: dir })).code).toBe(0)
    let dead: Array<{ key: string; errorMessage: string; eventId: string }> = []
    for (let i = 0; i < 200 && dead.length === 0; i++) {
      dead = (await sib(["dlq", "--json"], { cwd: dir })).stdout.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l))
      if (dead.length === 0) await new Promise((r) => setTimeout(r, 50))
    }
    expect(dead).toHaveLength(1)
    expectClean("dlq --json stdout", (await sib(["dlq", "--json"], { cwd: dir })).stdout)
    // The stored error holds the raw characters (the keyword's name is printed as it is).
    expect(dead[0]!.errorMessage).toContain(`:${hostile}`)
    expect(dead[0]!.key).toBe(hostile)
    await run.waitFor(/dead letters 1/)

    const dlq = await sib(["dlq"], { cwd: dir })
    expect(dlq.code).toBe(0)
    expectClean("dlq stdout", dlq.stdout)
    const [header, row] = dlq.stdout.trim().split("\n")
    expect(header).toMatch(/^GROUP +TOPIC +SEQ +EVENT +KEY +ATTEMPTS +DEAD SINCE +ERROR$/)
    expect(row).toContain(` ${hostileShown} `)
    expect(row).toContain(`got a keyword (:${hostileShown})`)
    // The KEY column is padded to the escaped key: the ATTEMPTS column starts in the same place.
    expect(row!.indexOf(hostileShown) + hostileShown.length).toBeLessThanOrEqual(header!.indexOf("ATTEMPTS"))

    // The detail views: the key, payload, error and stack escaped, every line.
    for (const args of [["dlq", "--full"], ["event", dead[0]!.eventId]]) {
      const r = await sib(args, { cwd: dir })
      expect(r.code).toBe(0)
      expectClean(`${args.join(" ")} stdout`, r.stdout)
      expect(r.stdout).toContain(`key ${args[0] === "event" ? "       " : ""}${hostileShown}`)
      expect(r.stdout).toContain(`got a keyword (:${hostileShown})`)
    }

    // A consumer on another host, whose host name is free text in the database.
    const db = new SqliteDatabase(join(dir, "sib.db"))
    const leases = db.prepare(`update consumer_groups set owner_sid = 'other', owner_pid = 1, owner_host = ?, lease_expires_at = ?`)
    run.interrupt("SIGTERM")
    expect(await run.exited).toBe(0)
    leases.run(`box${hostile}`, Date.now() + 3_600_000)
    db.close()
    const groups = await sib(["groups"], { cwd: dir })
    expectClean("groups stdout", groups.stdout)
    expect(groups.stdout).toContain(`pid 1 on box${hostileShown}`)

    const stderr = run.stderr()
    expectClean("run stderr", stderr)
    expectClean("run stdout", run.stdout())
    expect(stderr).toMatch(new RegExp(`INFO got ${hostileShown.replace(/[\\[\]]/g, (c) => `\\${c}`)}\\n`))
  })

  it("check: a source line with ESC and bidi bytes is shown escaped, the caret under the escaped text; JSON is unchanged", async () => {
    const line = `(def x ["\u001b[2J\u001b]0;pwned\u0007" (nope 1)]) ; \u001b[31m red \r over \u202e reversed`
    const dir = workdir({ "bad.sib": `(def ok 1)\n${line}\n` })
    const r = await sib(["check", "bad.sib"], { cwd: dir })
    expect(r.code).toBe(1)
    expectClean("check stderr", r.stderr)
    expectClean("check stdout", r.stdout)
    const lines = r.stderr.split("\n")
    expect(lines[0]).toBe("bad.sib:2:27: Compile error: unknown symbol nope")
    const source = lines[1]!
    expect(source).toBe(String.raw`  2 | (def x ["\x1b[2J\x1b]0;pwned\x07" (nope 1)]) ; \x1b[31m red \r over \u202e reversed`)
    const caret = lines[2]!
    expect(caret.indexOf("^")).toBe(source.indexOf("nope"))
    expect(caret.trimEnd().endsWith(" ^^^^")).toBe(true)

    const json = await sib(["check", "bad.sib", "--format", "json"], { cwd: dir })
    expect(JSON.parse(json.stdout.trim())).toMatchObject({ file: "bad.sib", line: 2, column: 27, message: "unknown symbol nope" })
  })

  it("check: the caret counts terminal columns: a wide character takes two, a combining mark none", async () => {
    const dir = workdir({ "wide.sib": `(def a "\u6f22\u5b57\u6f22\u5b57") (foo)\n(def b "e\u0301\u0301") (bar)\n` })
    const r = await sib(["check", "wide.sib"], { cwd: dir })
    expect(r.code).toBe(1)
    const lines = r.stderr.split("\n")
    const caretUnder = (symbol: string) => lines[lines.findIndex((l) => l.endsWith(`unknown symbol ${symbol}`)) + 2]!
    // "(def a \"" is 8 columns, four wide characters 8, "\") (" 4: foo starts at column 20 of the source.
    expect(caretUnder("foo")).toBe(`    | ${" ".repeat(20)}^^^`)
    // "(def b \"" 8, e 1, two combining acute accents 0, "\") (" 4: bar starts at column 13.
    expect(caretUnder("bar")).toBe(`    | ${" ".repeat(13)}^^^`)
  })

  it("check: a look-alike name (a zero-width space in a symbol) is refused and shown escaped", async () => {
    const dir = workdir({ "a.sib": "(def limit 10)\n(def over (> 11 limit\u200b))\n" })
    const r = await sib(["check", "a.sib"], { cwd: dir })
    expect(r.code).toBe(1)
    expectClean("check stderr", r.stderr)
    expect(r.stderr).toContain(String.raw`a.sib:2:22: Read error: the symbol limit\u200b contains an invisible character U+200B (zero width space)`)
  })

  it("test: a test name and a failure with control characters are escaped", async () => {
    const dir = workdir({
      "t.sib": `(deftest "clears \\u001b[2J the screen"\n  (expect= "\\u001b]0;pwned\\u0007" "x"))\n`
    })
    const r = await sib(["test", "t.sib"], { cwd: dir })
    expect(r.code).toBe(1)
    expectClean("test stdout", r.stdout)
    expectClean("test stderr", r.stderr)
    expect(r.stdout).toContain(String.raw`FAIL clears \x1b[2J the screen (t.sib:1)`)
  })
})
