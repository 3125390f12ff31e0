/**
 * What `sib check` and `sib test` (the real binary) catch in a `.sib` program before it runs:
 * functions that cannot be called the way a handler, filter or timer is, option values the other
 * APIs refuse, each error under the part of the form it is about, a broken macro reported once,
 * and declared host names used as objects.
 */
import { afterEach, describe, expect, it } from "vitest"
import { rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, sib } from "../helpers/sib.ts"

afterEach(killStarted)

const dirs: Array<string> = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const workdir = (files: Record<string, string>) => {
  const dir = makeTmpDir()
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

/** The diagnostics of `sib check --format json`, as objects. */
const checkJson = async (text: string) => {
  const dir = workdir({ "app.sib": text })
  const r = await sib(["check", "app.sib", "--format", "json"], { cwd: dir })
  return { code: r.code, stderr: r.stderr, diagnostics: r.stdout.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>) }
}

/** Where a diagnostic is: `line:column-endColumn`. */
const at = (d: Record<string, unknown>) => `${d["line"]}:${d["column"]}-${d["endColumn"]}`

describe("a function that cannot be called as a handler, filter or timer calls it is refused when the program loads", () => {
  it("handlers take the event (and ctx), filters the event, timers nothing; each error under the function", async () => {
    const r = await checkJson([
      `(define-topic "orders")`,
      `(subscribe! "orders" "g0" (fn [] 1))`,
      `(subscribe! "orders" "g1" (fn [& {:a 1}] 1))`,
      `(subscribe! "orders" "g2" (fn [e & {:a 1}] 1))`,
      `(subscribe! "orders" "g3" (fn [& r] r))`,
      `(subscribe! "orders" "g4" (fn [e ctx & {:a 1}] a))`,
      `(subscribe! "orders" "g5" (fn [e] e) :filter (fn [] true))`,
      `(subscribe! "orders" "g6" (fn [e] e) :filter (fn [& r] true))`,
      `(subscribe! "orders" "g7" inc)`,
      `(subscribe! "orders" "g8" (fn [e] e) :filter +)`,
      `(subscribe! "orders" "g9" (fn [e] e) :filter (fn [& {:a 1}] true))`,
      `(every! "1s" inc)`,
      `(after! "1s" (fn [a] nil))`,
      `(every! "1s" (fn [& {:a 1}] a))`
    ].join("\n") + "\n")
    expect(r.code).toBe(1)
    expect(r.diagnostics.map((d) => [at(d), d["message"]])).toEqual([
      ["2:27-36", "subscribe!: a handler is called with the event and its delivery context, but fn takes []"],
      ["3:27-44", "subscribe!: a handler is called with the event and its delivery context, but fn takes [& {...}]"],
      ["4:27-46", "subscribe!: a handler is called with the event and its delivery context, but fn takes [e & {...}]"],
      ["7:38-58", "subscribe!: a filter is called with the event alone, but fn takes []"],
      ["9:27-30", "subscribe!: a handler is called with the event and its delivery context, but inc takes 1 argument"],
      ["11:38-66", "subscribe!: a filter is called with the event alone, but fn takes [& {...}]"],
      ["12:14-17", "every!: a timer calls its function with no arguments, but inc takes 1 argument"],
      ["13:14-26", "after!: a timer calls its function with no arguments, but fn takes [a]"]
    ])
    expect(r.diagnostics[0]!["hints"]).toEqual(["write it as (fn [e] ...) or (fn [e ctx] ...)"])
  })

  it("a handler of [& args] gets the event and ctx, and runs", async () => {
    const dir = workdir({
      "app.sib": [
        `(define-topic "orders")`,
        `(subscribe! "orders" "g" (fn [& args] (log "got" (count args))) :maxAttempts 1)`,
        `(deftest "runs" (publish! "orders" {:id 1}) (advance! "1s") (expect= 0 (count (dead-letters "g"))))`
      ].join("\n") + "\n"
    })
    const r = await sib(["test", "app.sib", "--logs"], { cwd: dir })
    expect(r.stdout).toContain("got 2")
    expect(r.code).toBe(0)
  })
})

describe("publish options the other APIs refuse are refused from .sib, in .sib's words", () => {
  it("keywords and other non-strings in :headers, :tags and :causedBy, each under its option", async () => {
    const r = await checkJson([
      `(define-topic "orders")`,
      `(publish! "orders" {:a 1} :headers {:a :kw} :tags [:t1] :causedBy [:x])`,
      `(publish! "orders" {:a 1} :headers [1] :tags "t" :causedBy {:a 1})`,
      `(publish! "orders" {:a 1} :headers {:a nil} :tags ["ok" nil] :causedBy ["id" 7])`,
      `(publish! "orders" {:a 1} :headers {:a "b"} :tags ["t"] :causedBy "id-1")`
    ].join("\n") + "\n")
    expect(r.code).toBe(1)
    expect(r.diagnostics.map((d) => [at(d), d["message"], d["hints"]])).toEqual([
      ["2:40-43", "publish!: the header :a must be a string, got a keyword", [`write it as a string: "kw"`]],
      ["2:45-56", "publish!: :tags must be a vector of strings, got a keyword in it", [`write it as a string: "t1"`]],
      ["2:57-71", "publish!: :causedBy must be an event id or a vector of them (strings), got a keyword in it", [`write it as a string: "x"`]],
      ["3:27-39", "publish!: :headers must be a map of strings, got a vector", []],
      ["3:40-49", "publish!: :tags must be a vector of strings, got a string", [`write it as a vector: ["t"]`]],
      ["3:50-66", "publish!: :causedBy must be an event id or a vector of them (strings), got a map", []],
      ["4:40-43", "publish!: the header :a must be a string, got nil", []],
      ["4:45-61", "publish!: :tags must be a vector of strings, got nil in it", []],
      ["4:62-80", "publish!: :causedBy must be an event id or a vector of them (strings), got a number in it", [`write it as a string: "7"`]]
    ])
  })
})

describe("latest reads a key as publish! writes it", () => {
  it("a key that is not a string is refused, not turned into text", async () => {
    const dir = workdir({
      "app.sib": `(define-topic "state" {:compaction true})\n(deftest "reads" (publish! "state" {:up true} :key "7") (expect= nil (latest "state" 7)))\n`
    })
    const r = await sib(["test", "app.sib"], { cwd: dir })
    expect(r.code).toBe(1)
    expect(r.stdout).toContain("app.sib:2:86: Runtime error: latest: the key must be a string, got a number")
    expect(r.stdout).toContain(`write it as a string: "7" (or (str x) for a computed one)`)
  })
})

describe("errors under the part of the form they are about", () => {
  it("a schema reports every bad type, each under it, with did-you-mean", async () => {
    const r = await checkJson(`(define-topic "x" {:schema {:a :strng :b {:c :integer} :d [:boolen]}})\n`)
    expect(r.code).toBe(1)
    expect(r.diagnostics.map((d) => [at(d), d["message"], (d["hints"] as Array<string>)[0]])).toEqual([
      ["1:32-38", "define-topic: unknown type :strng in :schema :a", "did you mean :string?"],
      ["1:46-54", "define-topic: unknown type :integer in :schema :b :c", "did you mean :int?"],
      ["1:60-67", "define-topic: unknown type :boolen in :schema :d", "did you mean :boolean?"]
    ])
  })

  it("a timer's interval, and a timer's or handler's function", async () => {
    const r = await checkJson([
      `(define-topic "orders")`,
      `(every! "5 seconds" (fn [] 1))`,
      `(after! "1s" (fn [a] nil))`,
      `(subscribe! "orders" "g" (fn [e ctx extra] e))`,
      `(subscribe! bus "orders" "h" (fn [] 1))`
    ].join("\n") + "\n")
    expect(r.diagnostics.map((d) => [at(d), d["message"]])).toEqual([
      ["2:9-20", "every!: \"5 seconds\" is not a duration"],
      ["3:14-26", "after!: a timer calls its function with no arguments, but fn takes [a]"],
      ["4:26-46", "subscribe!: a handler is called with the event and its delivery context, but fn takes [e ctx extra]"],
      ["5:30-39", "subscribe!: a handler is called with the event and its delivery context, but fn takes []"]
    ])
  })

  it("a form whose argument does not compile still reports its option values", async () => {
    const r = await checkJson(`(define-topic "t")\n(subscribe! "t" "g" nope :from "earliets" :backoff {:intialMs 5} :maxInFlight n)\n`)
    expect(r.diagnostics.map((d) => [at(d), d["message"], (d["hints"] as Array<string>)[0]])).toEqual([
      ["2:21-25", "unknown symbol nope", expect.any(String)],
      ["2:26-42", expect.stringMatching(/^subscribe!: :from must be "earliest", .* got "earliets"$/), "did you mean \"earliest\"?"],
      ["2:53-62", "subscribe!: unknown option :intialMs in :backoff", "did you mean :initialMs?"],
      ["2:79-80", "unknown symbol n", expect.any(String)]
    ])
  })
})

describe("a broken macro", () => {
  it("reports its own error once, not each use as an unknown symbol", async () => {
    const r = await checkJson([
      `(defmacro broken [x] (undefined-thing x))`,
      `(defn g [] (broken 1))`,
      `(defn h [] (broken (broken 2)))`,
      `(def k (g))`
    ].join("\n") + "\n")
    expect(r.code).toBe(1)
    expect(r.diagnostics.map((d) => [at(d), d["message"]])).toEqual([["1:23-38", "unknown symbol undefined-thing"]])
  })
})

describe("a declared host name", () => {
  it("works as a host object under sib test and sib check: a method call logs its call and returns nil", async () => {
    const dir = workdir({
      "app.sib": [
        `(declare-host pager)`,
        `(define-topic "orders")`,
        `(subscribe! "orders" "g" (fn [e] (when (not (nil? (.page pager "bob" e.payload.id))) (throw (ex-info "not nil" {})))) :maxAttempts 1)`,
        `(deftest "pages" (publish! "orders" {:id 1}) (advance! "1s") (expect= 0 (count (dead-letters "g"))) (.notify pager :x) (expect= nil (.constructor pager)) (expect= nil (.__proto__ pager 1)))`
      ].join("\n") + "\n"
    })
    const tested = await sib(["test", "app.sib", "--logs"], { cwd: dir })
    expect(tested.stdout).toContain("pager.page (a declared host object; a stand-in here) called with bob 1")
    expect(tested.stdout).toContain("pager.notify (a declared host object; a stand-in here) called with :x")
    expect(tested.code).toBe(0)
    const checked = await sib(["check", "app.sib"], { cwd: dir })
    expect(checked.code).toBe(0)
  })
})

describe("a built-in given as a handler", () => {
  it("is refused with a hint that fits it: wrap it in a function of the event", async () => {
    const r = await checkJson(`(define-topic "x")\n(subscribe! "x" "g6" inc)\n`)
    expect(r.code).toBe(1)
    const [d] = r.diagnostics
    expect(d!["message"]).toMatch(/a handler is called with the event and its delivery context, but inc takes 1 argument/)
    expect(JSON.stringify(d!["hints"])).toContain("(fn [e] (inc e))")
  })
})

describe("a long report reaches a pipe whole, before the failing exit", () => {
  it("sib check of 1,500 errors: every diagnostic and the summary line (text and --format json); sib test of 1,500 failures: the count line", async () => {
    const dir = workdir({
      "many.sib": Array.from({ length: 1500 }, (_, i) => `(def a${i} (undefined-thing-${i} 1 2 3))`).join("\n") + "\n",
      "failing.sib": Array.from({ length: 1500 }, (_, i) => `(deftest "t${i}" (expect= ${i} (+ 1 1)))`).join("\n") + "\n"
    })
    // The helper reads the child's output through pipes, as an editor or CI does.
    const text = await sib(["check", "many.sib"], { cwd: dir })
    expect(text.code).toBe(1)
    expect(text.stderr.match(/Compile error: unknown symbol/g)?.length).toBe(1500)
    expect(text.stderr.trimEnd().split("\n").at(-1)).toBe("sib: 1500 errors; nothing was started")
    const json = await sib(["check", "many.sib", "--format", "json"], { cwd: dir })
    expect(json.code).toBe(1)
    expect(json.stdout.trim().split("\n").map((l) => JSON.parse(l) as { message: string })).toHaveLength(1500)
    const tests = await sib(["test", "failing.sib"], { cwd: dir })
    expect(tests.code).toBe(1)
    expect(tests.stdout + tests.stderr).toMatch(/1 passed, 1499 failed/)
  }, 60_000)
})

describe("program files that are not UTF-8", () => {
  it("are refused with the line of the first bad byte, not read as symbols of U+FFFD; a byte-order mark is no problem", async () => {
    const dir = makeTmpDir()
    dirs.push(dir)
    writeFileSync(join(dir, "bin.sib"), Buffer.from([0xff, 0xfe, ...Buffer.from("(def a 1)")]))
    writeFileSync(join(dir, "late.sib"), Buffer.concat([Buffer.from("(def a \"\u00e9\")\n(def b\n \""), Buffer.from([0xc3]), Buffer.from("\")\n")]))
    writeFileSync(join(dir, "bom.sib"), Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("(def a 1)\n")]))
    const bin = await sib(["check", "bin.sib"], { cwd: dir })
    expect([bin.code, bin.stderr.split("\n")[0]]).toEqual([1, "bin.sib:1:1: Compile error: cannot read bin.sib: it is not UTF-8 text (an invalid byte on line 1); program files are UTF-8"])
    expect((await sib(["check", "late.sib"], { cwd: dir })).stderr).toContain("it is not UTF-8 text (an invalid byte on line 3)")
    expect((await sib(["check", "bom.sib"], { cwd: dir })).code).toBe(0)
  })
})
