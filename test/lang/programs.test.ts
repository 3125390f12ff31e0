/**
 * Programs on a real bus and in the test runner: what is refused at load writes nothing, failures
 * inside handlers and filters reach the dead letter with their .sib location, handler arities, and
 * how deftests end (never-acked deliveries, failing timers, loops through advance!).
 */
import { afterEach, describe, expect, it } from "vitest"
import SqliteDatabase from "better-sqlite3"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import { createRuntime, renderTestReport, type Runtime, runSibTests, SibError } from "../../src/index.ts"
import { loadProgram } from "../../src/program/load.ts"
import { runTests } from "../../src/program/testRunner.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const waitFor = async (check: () => Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting")
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const file = (name: string, text: string) => {
  const path = join(makeTmpDir(), name)
  writeFileSync(path, text)
  return path
}

describe("programs on a bus", () => {
  const open: Array<Runtime> = []
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close()
  })
  const runtime = async (db = ":memory:") => {
    const rt = await createRuntime({ db })
    open.push(rt)
    return rt
  }

  it("a program whose initial publish or subscriptions would be refused does not load, and writes nothing", async () => {
    const path = file("start.sib", `(define-topic "orders" {:schema {:id :int}})
(subscribe! "orders" "billing" (fn [e ctx] nil) :from "earliest")
(subscribe! "orders" "billing" (fn [e ctx] nil))
(publish! "orders" {:id "one"})
(publish! "orders" {:id 1} :headers {:n 1})
`)
    const db = join(makeTmpDir(), "start.db")
    const rt = await runtime(db)
    const error = await rt.load(path).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(SibError)
    const rendered = (error as SibError).render()
    expect(rendered).toMatch(/start\.sib:3:1: Runtime error: subscribe!: group billing is already subscribed at .*start\.sib:2:1/)
    expect(rt.groupStats("billing")).toBeUndefined()
    const raw = new SqliteDatabase(db, { readonly: true })
    expect(raw.prepare("select count(*) as n from topics").get()).toEqual({ n: 0 })
    expect(raw.prepare("select count(*) as n from cursors").get()).toEqual({ n: 0 })
    raw.close()

    const publishes = file("publish.sib", `(define-topic "orders" {:schema {:id :int}})\n(publish! "orders" {:id "one"})\n`)
    const refused = await rt.load(publishes).then(() => undefined, (e: unknown) => e)
    expect((refused as SibError).render()).toMatch(/publish\.sib:2:1: Runtime error: publish!: payload does not match the topic's schema: id must be an integer/)
    expect(await rt.read("orders", 0, 10)).toEqual([])
  })

  it("a failing publish in a handler, and a failing filter, reach the dead letter with their .sib location", async () => {
    const path = file("fail.sib", `(define-topic "invoices" {:schema {:amount :int}})
(defn bill [e ctx]
  (publish! "invoices" {:amount 1.5}))
(subscribe! "orders" "billing" bill :from "earliest" :maxAttempts 1)
(subscribe! "orders" "picky" (fn [e] nil) :from "earliest" :maxAttempts 1
  :filter (fn [e] (> e.payload.n 5)))
(subscribe! "orders" "noisy" (fn [e] nil) :from "earliest" :maxAttempts 1
  :filter (fn [e] (publish! "audit" {}) true))
`)
    const rt = await runtime()
    await rt.load(path)
    await rt.publish("orders", { id: 1 })
    await waitFor(async () => (await rt.deadLetters({})).length === 3)
    const dead = new Map((await rt.deadLetters({})).map((d) => [d.group, d.errorMessage]))
    expect(dead.get("billing")).toMatch(/fail\.sib:3:3: cannot publish to "invoices": payload does not match the topic's schema: amount must be an integer/)
    expect(dead.get("picky")).toMatch(/fail\.sib:6:19: > compares numbers/)
    expect(dead.get("noisy")).toMatch(/fail\.sib:8:19: publish! cannot run in a subscribe filter/)
  })

  it("a handler written (fn [e] ...) gets the event; one taking three parameters does not load", async () => {
    const rt = await runtime()
    await rt.load(file("one.sib", `(subscribe! "in" "echo" (fn [e] (publish! "out" e.payload)) :from "earliest")\n`))
    await rt.publish("in", { n: 1 })
    await waitFor(async () => (await rt.read("out", 0, 10)).length === 1)
    const error = await rt.load(file("three.sib", `(defn h [a b c] nil)\n(subscribe! "in" "three" h)\n`)).then(() => undefined, (e: unknown) => e)
    expect((error as SibError).render()).toMatch(/three\.sib:2:26: Runtime error: subscribe!: a handler is called with the event and its delivery context, but h takes \[a b c\]/)
  })

  it("tests: a never-acked manual delivery ends, timer errors fail the test, a loop through advance! ends, topic descriptors work", async () => {
    const path = file("tests.sib", `(def JOBS (define-topic "jobs"))
(subscribe! JOBS "manual" (fn [e ctx] nil) :from "earliest" :ackMode "manual")
(every! "1s" (fn [] (when (> (now) 2500) (/ 1 (- (now) (now))))))
(deftest "a delivery nobody acks" (publish! JOBS {:n 1}) (advance! "10ms") (expect= 1 (count (published JOBS))))
(deftest "a failing timer"
  (reduce (fn [_ n] (publish! JOBS {:n n})) nil (range 6))
  (advance! "3s"))
(defn tick [] (advance! "1s") (tick))
(deftest "never ends" (tick))
(deftest "a keyword is not a topic" (published :jobs))
`)
    const started = Date.now()
    const report = await runSibTests(path)
    expect(Date.now() - started).toBeLessThan(20_000)
    const byName = new Map(report.results.map((r) => [r.name, r.failures.map((f) => `${f.span.line}:${f.span.column} ${f.message}`)]))
    expect(byName.get("a delivery nobody acks")).toEqual([])
    expect(byName.get("a failing timer")).toEqual(["3:42 division by zero"])
    expect(byName.get("never ends")).toContain("8:31 the run took more than 1,000,000 steps (the step budget, maxSteps)")
    expect(byName.get("a keyword is not a topic")).toEqual(["10:37 published: a topic is a name or a descriptor from define-topic, got a keyword"])
    expect(renderTestReport(report)).toMatch(/\n1 passed, 3 failed$/)
  }, 60_000)

  it("an expectation that fails in a handler or timer the test runs fails the test, at its location; outside sib test it is an error", async () => {
    const path = file("inside.sib", `(define-topic "t")
(subscribe! "t" "g" (fn [e] (expect= 1 (:n e.payload)) (publish! "seen" e.payload)))
(every! "1s" (fn [] (expect (< (now) 1500))))
(deftest "both fail" (publish! "t" {:n 2}) (advance! "2s") (expect= 1 (count (published "seen"))))
(deftest "both hold" (publish! "t" {:n 1}) (advance! "1s") (expect= [{:n 1}] (map :payload (published "seen"))))
(define-topic "f")
(subscribe! "f" "fg" (fn [e] nil) :filter (fn [e] (expect= "ok" (:s e.payload)) true))
(deftest "a filter's expectation" (publish! "f" {:s "no"}) (advance! "10ms"))
`)
    const report = await runSibTests(path)
    const byName = new Map(report.results.map((r) => [r.name, r.failures.map((f) => `${f.span.line}:${f.span.column} ${f.message}`)]))
    // A subscribe filter's too (it is made when the program loads, before the test starts it).
    expect(byName.get("a filter's expectation")).toEqual([`7:51 (expect= "ok" (:s e.payload))`])
    // The handler's expect= is recorded and the handler goes on (its publish happens, once).
    expect(byName.get("both fail")).toEqual(["2:29 (expect= 1 (:n e.payload))", "3:21 (expect (< (now) 1500))"])
    expect(byName.get("both hold")).toEqual([])
    // In a running program it is a located error: the handler fails (and is retried, then dead-lettered).
    const rt = await runtime()
    await rt.load(path)
    await rt.publish("t", { n: 2 })
    await waitFor(async () => (await rt.deadLetters({ group: "g" })).length === 1, 20_000)
    const [dead] = await rt.deadLetters({ group: "g" })
    expect(dead!.errorMessage).toMatch(/inside\.sib:2:29: expect= checks a test's run: it cannot be used outside sib test \(here in a handler of a running program\)/)
  }, 60_000)
  it("a program's groups run at most maxConsumers partitions together: one over is refused before anything is written", async () => {
    // 65,536 partitions made 65,536 sessions: 4 GB and the process died before the program started.
    const path = file("parts.sib", `(define-topic "t" {:partitions 1000})
(define-topic "u" {:partitions 30})
(subscribe! "t" "g1" (fn [e] nil))
(subscribe! ["u" "t"] "g2" (fn [e] nil))
`)
    const db = join(makeTmpDir(), "parts.db")
    const rt = await runtime(db)
    const error = await rt.load(path).then(() => undefined, (e: unknown) => e)
    expect(String((error as Error).message)).toMatch(/parts\.sib:4:1: the program's groups would run 2,000 consumers or more \(this one reads 1,000 partitions\), over its limit of 1,024 \(maxConsumers\)/)
    const raw = new SqliteDatabase(db, { readonly: true })
    expect(raw.prepare("select count(*) as n from topics").get()).toEqual({ n: 0 })
    raw.close()
    // Within the limit it runs.
    const loaded = await rt.load(path, { limits: { maxConsumers: 2000 } })
    expect([...loaded.groups].sort()).toEqual(["g1", "g2"])
    await loaded.stop()
  }, 60_000)
  it("sib test is bounded as a whole: a loop of sleep! ends at its test's budget; tests past the run's budget are reported as not run", async () => {
    const sleeping = file("sleep.sib", `(deftest "sleep loop" (loop [i 0] (sleep! 10) (recur (inc i))))\n`)
    const slept = await runSibTests(sleeping)
    expect(slept.results[0]!.failures.map((f) => f.message)).toEqual([
      "the test's budget is spent (10,000,000 steps): each move of the test clock costs 500 steps, as the fibers settle around it"
    ])
    const many = file("many.sib", Array.from({ length: 12 }, (_, i) => `(deftest "t${i}" (loop [] (recur)))`).join("\n"))
    const report = await runSibTests(many, { limits: { maxSteps: 1000 } })
    const notRun = report.results.filter((r) => r.failures.some((f) => f.message.startsWith("not run: the tests before it spent the budget of a whole sib test run (250,000 steps, 25 tests' worth)")))
    expect(report.results).toHaveLength(12)
    expect(notRun.map((r) => r.name)).toEqual(["t5", "t6", "t7", "t8", "t9", "t10", "t11"])
  }, 60_000)
  it("a refused keyword argument leaves the call depth as it was (401 refusals were 401 levels)", async () => {
    const path = file("kw.sib", `(defn f [x & {:a 1}] x)
(deftest "leak" (loop [i 0] (when (< i 450) (try (f 1 :b 2) (catch e nil)) (recur (inc i)))))
`)
    const report = await runSibTests(path)
    expect(report.results[0]!.failures.map((f) => f.message)).toEqual([])
  }, 60_000)

  it("a test body waiting on a host function that never answers fails after a bound of real time, naming it; answers in time are taken", async () => {
    const text = `(declare-host call-model clock-of-host)
(deftest "host never answers"
  (call-model "x")
  (expect= 1 1))
(deftest "host answers"
  (expect= "ok" (call-model "fast"))
  (expect (< (clock-of-host) 1000000)))
`
    const program = await Effect.runPromise(loadProgram([{ file: "host.sib", text }], {
      host: {
        "call-model": (what: unknown) => (what === "fast" ? new Promise((resolve) => setTimeout(() => resolve("ok"), 20)) : new Promise(() => {})),
        // The host's Effect runs on the test's clock (its time since the epoch), not the live one.
        "clock-of-host": () => Clock.currentTimeMillis
      }
    }))
    const started = Date.now()
    const report = await Effect.runPromise(runTests(program, { hostWaitMs: 300 }))
    expect(Date.now() - started).toBeLessThan(5000)
    const byName = new Map(report.results.map((r) => [r.name, r.failures.map((f) => `${f.span.line}:${f.span.column} ${f.message}`)]))
    expect(byName.get("host never answers")).toEqual([
      "3:3 call-model did not answer within 300 ms of real time: the test clock does not move while a test's body waits for a host function, so nothing else would end the wait"
    ])
    expect(byName.get("host answers")).toEqual([])
    expect(renderTestReport(report)).toMatch(/\* give the test a host call-model that answers/)
  }, 20_000)
})
