/**
 * The run budget bounds work and memory, not calls: walks over values that share structure are
 * linear where they can be (equality, set membership) and charged where they cannot (printing,
 * JSON, publishing); memory built by a run (publishes included) has a cap, and the runs in
 * progress share a process-wide pool that is given back; a run computing too long without pausing,
 * or past its ack timeout, fails at a checkpoint; a load spends one budget over every form and
 * macro expansion; `advance!` pays for timer firings first. The hostile corpus
 * (test/lang/hostile.test.ts) checks the same end to end on the `sib` binary.
 */
import { describe, expect, it } from "vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { execFileSync } from "node:child_process"
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { loadProgram, type LoadOptions } from "../../src/program/load.ts"
import { Budget, bytesInFlight, defaultLimits, type Limits } from "../../src/lang/budget.ts"
import { startProgram } from "../../src/program/start.ts"
import { renderTestReport, runTests } from "../../src/program/testRunner.ts"
import { SibError } from "../../src/diagnostics/Diagnostic.ts"
import { Bus } from "../../src/facade/Bus.ts"
import type { DeadLetter } from "../../src/store/records.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

const dag = "(defn dag [n] (if (= n 0) [1] (let [c (dag (dec n))] [c c])))\n"

/** The diagnostics of a program that must not load (every message, one per line). */
const loadFails = async (text: string, options: LoadOptions = {}): Promise<string> => {
  const exit = await Effect.runPromiseExit(loadProgram([{ file: "b.sib", text }], options))
  expect(Exit.isFailure(exit), `should not load: ${text}`).toBe(true)
  const e = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  return e instanceof SibError ? e.diagnostics.map((d) => `${d.span.line}:${d.span.column} ${d.message}`).join("\n") : String(e)
}

/** The value `result` gets at load time. */
const valueOf = async (text: string): Promise<unknown> => {
  const program = await Effect.runPromise(loadProgram([{ file: "v.sib", text }]))
  return program.namespace.lookup("result")?.value
}

/** Runs a program with a handler on "t" in group "g" (1 attempt), publishes `payload`, returns its dead letter (or undefined once handled). */
const handle = (program: string, options: { readonly limits?: Partial<Limits>; readonly payload?: unknown; readonly events?: number } = {}) =>
  Effect.runPromise(Effect.gen(function*() {
    const loaded = yield* loadProgram([{ file: "h.sib", text: program }], { limits: options.limits })
    const bus = yield* Bus
    yield* startProgram(loaded, bus, { limits: options.limits })
    const n = options.events ?? 1
    for (let i = 0; i < n; i++) yield* bus.publish("t", options.payload ?? { n: i })
    for (let i = 0; i < 2000; i++) {
      const [dl] = yield* bus.deadLetters({ group: "g" })
      if (dl !== undefined) return dl as DeadLetter | undefined
      const cursor = yield* bus.getCursor("t", "g")
      if (cursor !== undefined && cursor >= n) return undefined
      yield* Effect.sleep(5)
    }
    throw new Error("the handler neither finished nor dead-lettered")
  }).pipe(Effect.scoped, Effect.provide(Bus.sqlite({ filename: ":memory:" })), Effect.orDie))

const subscribe = (body: string, options = "") => `(defn h [e] ${body})\n(subscribe! "t" "g" h :from "earliest" :maxAttempts 1 ${options})\n`

describe("walks over shared structure", () => {
  it("equality and set membership cost the distinct nodes: a 2^40-node tree of 41 objects compares at once", async () => {
    const started = Date.now()
    expect(await valueOf(`${dag}(def result [(= (dag 40) (dag 40)) (= (dag 40) (dag 39)) (contains? (hash-set (dag 30) (dag 40)) (dag 40)) (count (conj #{(dag 40)} (dag 40)))])`))
      .toEqual([true, false, true, 1])
    expect(Date.now() - started).toBeLessThan(2000)
  })

  for (const [what, form] of [
    ["printing", "(str (dag 40))"],
    ["format", "(format \"%s\" (dag 40))"],
    ["JSON", "(json/stringify (dag 40))"],
    ["publishing", "(publish! \"out\" {:tree (dag 34)})"]
  ] as const) {
    it(`${what} a value sharing structure is charged per node and ends at the budget`, async () => {
      const started = Date.now()
      const dl = await handle(`${dag}${subscribe(form)}`)
      // (On a busy machine the run may reach its time bound first: either way it is bounded.)
      expect(dl?.errorMessage).toMatch(/^h\.sib:\d+:\d+: the run (took more than 1,000,000 steps|allocated more than|computed for more than 1000 ms)/)
      expect(Date.now() - started).toBeLessThan(5000)
    })
  }

  it("a log line of a value sharing structure is cut at 10,000 characters, after as many nodes", async () => {
    const started = Date.now()
    expect(await handle(`${dag}${subscribe("(log (dag 40))")}`)).toBeUndefined()
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it("siblings: a list sharing structure passed to a host function, a schema sharing structure", async () => {
    const listDag = "(defn ldag [n] (if (= n 0) (list 1) (let [c (ldag (dec n))] (list c c))))\n"
    const program = await Effect.runPromise(loadProgram([{ file: "hf.sib", text: `${listDag}(defn h [e] (send (ldag 40)))\n(subscribe! "t" "g" h)\n` }], {
      host: { send: () => 1 }
    }))
    const handler = program.subscriptions[0]!.handler
    const { makeRun } = await import("../../src/lang/run.ts")
    const run = makeRun("handler", defaultLimits, { monotonicTimeNanosUnsafe: () => 0n } as never, {} as never, {})
    expect(() => handler.invoke(run, [{ payload: {} } as never], program.subscriptions[0]!.span)).toThrow(/steps/)
    run.budget.release()
    const schema = "(def s (reduce (fn [m _] {:a m :b m}) {:x :int} (range 40)))\n(define-topic \"t\" {:schema s})\n"
    // (On a busy machine the load may reach its time bound first: either way it is bounded.)
    expect(await loadFails(schema)).toMatch(/the load took more than 8,000,000 steps|the load computed for more than 1000 ms without the process pausing/)
  })

  it("macro output sharing structure stops at the load's budget of forms", async () => {
    const messages = await loadFails(`${dag}(defmacro bloat [] (dag 30))\n(def x (bloat))\n`)
    expect(messages).toMatch(/macro expansions in this load produced more than their budget of forms/)
  })

  it("messages quoting a value are cut, never walk it whole", async () => {
    const messages = await loadFails(`${dag}(def x (+ 1 (dag 40)))\n`)
    expect(messages).toMatch(/\+ needs numbers, got a vector \(\[\[\[/)
    expect(messages.length).toBeLessThan(3000)
  })

  it("messages quoting a long string cut it before escaping it; a caught message is bounded; a thrown newline cannot forge a report line", async () => {
    const big = `(defn doubled [s n] (if (= n 0) s (doubled (str s s) (dec n))))\n(def big (doubled "\\u0001" 20))\n`
    // Calling a string, incrementing it, a vector where a keyword argument's name goes.
    expect(await valueOf(`${big}(def result (count (try (big 1) (catch e (:message e)))))\n`)).toBeLessThan(1000)
    expect(await valueOf(`${big}(def result (count (try (inc big) (catch e (:message e)))))\n`)).toBeLessThan(3000)
    expect(await valueOf(`${dag}(defn f [& {:a nil}] a)\n(def result (count (try (f (dag 40) 1) (catch e (:message e)))))\n`)).toBeLessThan(1000)
    const rendered = await Effect.runPromiseExit(loadProgram([{ file: "n.sib", text: `(throw "boom\\nn.sib:9:9: Runtime error: forged")\n` }]))
    const text = Exit.isFailure(rendered) ? (Cause.squash(rendered.cause) as SibError).render() : ""
    expect(text).toContain("boom\\nn.sib:9:9")
    expect(text.split("\n").filter((l) => l.startsWith("n.sib:9:9"))).toHaveLength(0)
  })
})

describe("map keys", () => {
  it("a long key is paid for at every lookup, insertion and removal (get, contains?, assoc, dissoc, hash-map, a keyword as a function)", async () => {
    const ops = { get: "(get m b)", contains: "(contains? m b)", assoc: "(assoc m b 1)", dissoc: "(dissoc m b)", "hash-map": "(hash-map b 1)", keyword: "(kb m)" }
    const text = `(defn doubled [s n] (if (= n 0) s (doubled (str s s) (dec n))))\n(def b (doubled "x" 21))\n(def kb (keyword b))\n` +
      Object.entries(ops).map(([name, op]) => `(deftest "${name}" (let [m {"a" 1}] (loop [i 0] (when (< i 1000000) ${op} (recur (inc i))))))\n`).join("")
    const started = Date.now()
    const report = await Effect.runPromise(runTests(await Effect.runPromise(loadProgram([{ file: "k.sib", text }]))))
    expect(report.results.map((r) => [r.name, r.failures.map((f) => /step budget/.test(f.message))])).toEqual(Object.keys(ops).map((name) => [name, [true]]))
    // Each stops after about 4,000 lookups of its 2 MB key (before: a million, about 100 s each).
    expect(Date.now() - started).toBeLessThan(20_000)
  }, 120_000)

  it("keywords made from long text are paid for when compared, hashed and written as JSON", async () => {
    const text = `(defn big [n] (loop [s "a" i 0] (if (< i n) (recur (str s s) (inc i)) s)))\n(def s (big 21))\n(def k1 (keyword s))\n(def k2 (keyword (subs (str "x" s) 1)))\n` +
      `(deftest "equal" (loop [i 0] (when (< i 1000000) (= k1 k2) (recur (inc i)))))\n` +
      `(deftest "in a set" (let [ks #{k1}] (loop [i 0] (when (< i 1000000) (contains? ks k2) (recur (inc i))))))\n` +
      `(deftest "json" (count (json/stringify (map (fn [_] k1) (range 400)))))\n`
    const started = Date.now()
    const report = await Effect.runPromise(runTests(await Effect.runPromise(loadProgram([{ file: "k.sib", text }]))))
    expect(report.results.map((r) => [r.name, r.failures.map((f) => /step budget|memory budget/.test(f.message))])).toEqual([["equal", [true]], ["in a set", [true]], ["json", [true]]])
    // Before: 73 s of CPU for the first, 893 MB of memory for the last.
    expect(Date.now() - started).toBeLessThan(20_000)
  }, 120_000)
})

describe("memory", () => {
  it("a run's buffered publishes count in its memory budget: 3,000 publishes of a shared 0.5 MB string stop at 64 MiB", async () => {
    const started = Date.now()
    const big = `(def half-mb (apply str (map (fn [_] "0123456789") (range 50000))))\n`
    const dl = await handle(`${big}${subscribe("(reduce (fn [_ i] (publish! \"out\" {:s half-mb :i i})) nil (range 3000))")}`)
    expect(dl?.errorMessage).toMatch(/^h\.sib:\d+:\d+: the run allocated more than 64 MiB \(its memory budget, maxBytes\)/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("every builder pays before it builds: vec, rest, apply, upper-case and split of huge values fail at once", async () => {
    const doubling = "(reduce (fn [s _] (str s s)) \"ab\" (range 22))"
    for (const form of [`(count (vec ${doubling}))`, `(count (rest ${doubling}))`, `(count (apply vector ${doubling}))`, `(count (split ${doubling} ""))`]) {
      expect(await loadFails(`(def result ${form})`), form).toMatch(/a collection of 8,388,60\d elements would be over the limit of 1,000,000|the string's 8,388,608 characters, taken one by one, would be a collection over the limit of 1,000,000/)
    }
    expect(await loadFails(`(def result (upper-case (reduce (fn [s _] (str s s)) "ab" (range 24))))`)).toMatch(/string (of [\d,]+ characters )?would be over the limit of 10,000,000/)
    // A range whose count is not even a number says why, not that its (finite) end is not finite.
    expect(await loadFails(`(def result (range 0 1e15 1e-300))`)).toMatch(/range: from 0 to 1000000000000000 by 1e-300 is more numbers than a collection can hold/)
    expect(await loadFails(`(def result (range 0 1e15 1))`)).toMatch(/would be over the limit of 1,000,000/)
    // format refuses what it does not know instead of leaving it in the text and dropping its argument.
    expect(await loadFails(`(def result (format "%05d|%x" 3 255))`)).toMatch(/format: "%05d" is not a directive format knows/)
    expect(await loadFails(`(def result (format "50%" 1))`)).toMatch(/format: "%" is not a directive format knows/)
    expect(await loadFails(`(def result (format "%.200f" 1))`)).toMatch(/format: %\.200f asks for more than 100 decimals/)
  })

  it("sets and caught errors are charged what they hold (a probe measured 8-11 times their old estimate in live memory)", async () => {
    // Memory is what this checks: the time bound is out of the way (60,000 caught errors take ~1 s
    // on a slow machine, past the default maxBlockMs).
    const limits = { maxLoadBytes: 16 * 1024 * 1024, maxBlockMs: 60_000 }
    expect(await loadFails(`(def s (vec (map (fn [j] (hash-set j)) (range 60000))))`, { limits })).toMatch(/the load allocated more than 16 MiB/)
    expect(await loadFails(`(def s (vec (map (fn [j] (try (nth [] 5) (catch e e))) (range 60000))))`, { limits })).toMatch(/the load allocated more than 16 MiB/)
    expect(await loadFails(`(def s (vec (map (fn [j] (ex-info "x" nil)) (range 100000))))`, { limits })).toMatch(/the load allocated more than 16 MiB/)
  })

  it("the runs in progress share one pool, given back when each run ends", async () => {
    const MiB = 1024 * 1024
    const limits = { ...defaultLimits, maxBytes: 4 * MiB, maxBytesInFlight: 3 * MiB }
    const clock = { monotonicTimeNanosUnsafe: () => 0n } as never
    const options = { what: "run", maxSteps: 10, maxBytes: limits.maxBytes, pooled: true, maxBytesInFlight: limits.maxBytesInFlight, maxBlockMs: 1000 } as const
    const before = bytesInFlight()
    const a = new Budget(options, clock)
    const b = new Budget(options, clock)
    a.charge(0, 2 * MiB)
    // A small run is never refused by the pool; a large one is, once the pool is full.
    const small = new Budget(options, clock)
    small.charge(0, MiB / 2)
    small.release()
    expect(() => b.charge(0, 2 * MiB)).toThrow(/runs in progress hold more than 3 MiB together/)
    a.release()
    b.release()
    const c = new Budget(options, clock)
    c.charge(0, 2 * MiB)
    c.release()
    expect(bytesInFlight()).toBe(before)
    // Small runs are not refused until the pool holds twice maxBytesInFlight: thousands of handlers
    // each holding under 1 MiB while they wait (a probe's 6,000) held 4.4 GB and the process died.
    const smalls: Array<Budget> = []
    const refused = (() => {
      for (let i = 0; i < 100; i++) {
        const s = new Budget(options, clock)
        smalls.push(s)
        try {
          s.charge(0, MiB - 1)
        } catch (e) {
          return { i, message: String((e as Error).message) }
        }
      }
      return undefined
    })()
    for (const s of smalls) s.release()
    expect(refused?.i).toBe(6)
    expect(refused?.message).toMatch(/hold more than twice maxBytesInFlight \(3 MiB\) together, small runs included/)
    expect(bytesInFlight()).toBe(before)
  })

  it("handler runs give their memory back however they end (ok, failed, interrupted by the ack timeout)", async () => {
    const before = bytesInFlight()
    await handle(subscribe("(count (range 1000))"), { events: 20 })
    await handle(subscribe("(/ 1 (count (range 1000 1000)))"))
    await handle(subscribe("(do (count (range 1000)) (sleep! 5000))", ":ackTimeoutMs 50"))
    expect(bytesInFlight()).toBe(before)
  })

  it("keywords built from data never enter the intern table, and equal interned ones", async () => {
    const { Keyword } = await import("../../src/reader/Value.ts")
    const before = Keyword.internedCount()
    expect(await valueOf(`(def result [(= (keyword "pid") :pid) (get {:pid 1} (keyword "pid")) ((keyword "pid") {:pid 2}) (contains? #{:zz-data-kw} (keyword "zz-data-kw")) (= (keyword "zz-new") (keyword "zz-new")) (count (hash-set (keyword "zz-a") (keyword "zz-a")))])`))
      .toEqual([true, 1, 2, true, true, 1])
    const loop = await valueOf(`(def result (count (map (fn [i] (keyword (str "zz-flood-" i))) (range 5000))))`)
    expect(loop).toBe(5000)
    expect(Keyword.internedCount() - before).toBeLessThan(50)
  })

  it("keywords of program text are interned weakly: freed once nothing holds them", () => {
    const script = `
      import { Keyword } from ${JSON.stringify(join(import.meta.dirname, "..", "..", "src", "reader", "Value.ts"))}
      const base = Keyword.internedCount()
      for (let i = 0; i < 200000; i++) Keyword.of("k".repeat(50) + i)
      const grown = Keyword.internedCount() - base
      globalThis.gc()
      for (let i = 0; i < 20; i++) { await new Promise((r) => setTimeout(r, 10)); globalThis.gc() }
      console.log(JSON.stringify({ grown, left: Keyword.internedCount() - base }))
    `
    const out = JSON.parse(execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], { encoding: "utf8" })) as { grown: number; left: number }
    expect(out.grown).toBe(200000)
    expect(out.left).toBeLessThan(1000)
  })
})

describe("time", () => {
  it("a run computing without pausing fails after maxBlockMs, located, even with a budget too large to stop it", async () => {
    const started = Date.now()
    const looping = await handle(`(defn burn [] (reduce (fn [a x] (+ a (count (range 50)))) 0 (range 1000000)))\n${subscribe("(reduce (fn [_ _] (burn)) nil (range 1000000))")}`, {
      limits: { maxSteps: 1_000_000_000_000, maxBytes: 1_000_000_000_000, maxBytesInFlight: 1_000_000_000_000, maxBlockMs: 200 }
    })
    expect(looping?.errorMessage).toMatch(/^h\.sib:\d+:\d+: the run computed for more than 200 ms without the process pausing \(maxBlockMs\)/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("runs that follow each other let the event loop go round: a timer keeps firing while a group burns", async () => {
    let last = Date.now()
    let gap = 0
    const ticker = setInterval(() => {
      const now = Date.now()
      gap = Math.max(gap, now - last)
      last = now
    }, 10)
    try {
      // 30 runs of ~120 ms each, up to 30 at once: without pacing they would hold the loop for seconds.
      const burn = `(defn burn [] (reduce (fn [a x] (+ a (count (range 20)))) 0 (range 60000)))\n`
      const dl = await handle(`${burn}${subscribe("(burn)", ":maxInFlight 30")}`, { events: 30, limits: { maxSteps: 100_000_000, maxBytes: 1_000_000_000, maxBytesInFlight: 100_000_000_000 } })
      expect(dl?.errorMessage).toBeUndefined()
    } finally {
      clearInterval(ticker)
    }
    expect(gap).toBeLessThan(1000)
  })

  it("a run that paused before computing for long still makes its group rest before its next run", async () => {
    // The log line pauses the run (an effect) before it burns: only the stretch after it held the
    // process. That stretch (over 400 ms, maxBlockMs) makes the group rest a quarter as long
    // before the retry, as a run burning from its start does; the retry burns 400 ms again.
    const burn = "(defn burn [] (reduce (fn [a x] (+ a (count (range 50)))) 0 (range 1000000)))\n"
    const program = `${burn}(defn h [e] (log "begins") (reduce (fn [_ _] (burn)) nil (range 1000000)))\n(subscribe! "t" "g" h :from "earliest" :maxAttempts 2 :backoff {:initialMs 1 :jitter 0})\n`
    const dl = await handle(program, { limits: { maxSteps: 1_000_000_000_000, maxBytes: 1_000_000_000_000, maxBytesInFlight: 1_000_000_000_000, maxBlockMs: 400 } })
    expect(dl?.errorMessage).toMatch(/without the process pausing \(maxBlockMs\)/)
    expect(dl!.lastFailedAt - dl!.firstFailedAt, "first failure to last: the rest (100 ms) and the retry's 400 ms").toBeGreaterThanOrEqual(495)
  })

  it("the ack timeout is real for .sib handlers: a run computing past it fails there", async () => {
    const dl = await handle(`(defn burn [] (reduce (fn [a x] (+ a (count (range 50)))) 0 (range 1000000)))\n${subscribe("(reduce (fn [_ _] (burn)) nil (range 1000000))", ":ackTimeoutMs 150")}`, {
      limits: { maxSteps: 1_000_000_000_000, maxBytes: 1_000_000_000_000, maxBytesInFlight: 1_000_000_000_000, maxBlockMs: 60_000 }
    })
    expect(dl?.errorMessage).toMatch(/^h\.sib:\d+:\d+: the run ran longer than its ack timeout \(150 ms, ackTimeoutMs\)/)
  })

  it("advance! pays for the timer firings it causes before moving the clock", async () => {
    const started = Date.now()
    const program = await Effect.runPromise(loadProgram([{ file: "t.sib", text: `(every! "10ms" (fn [] nil))\n(deftest "a day" (advance! "1d"))\n(deftest "a second" (advance! "1s"))\n(deftest "sleeping a day" (sleep! "1d"))\n` }]))
    const report = await Effect.runPromise(runTests(program))
    expect(report.results.map((r) => [r.name, r.failures.map((f) => f.message)])).toEqual([
      ["a day", [expect.stringMatching(/^moving the test clock by 86,400,000 ms would fire timers \(the program's and the bus's own\) 8,641,440 times \(the program's timers 8,640,000, maintenance 1,440\), more than the test's budget allows/)]],
      ["a second", []],
      ["sleeping a day", [expect.stringMatching(/would fire timers \(the program's and the bus's own\) 8,641,440 times/)]]
    ])
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it("a group's lease renewals are most of a long advance: the refusal says so, and a longer :leaseMs moves the clock by weeks", async () => {
    const group = (lease: string) => `(define-topic "s")\n(subscribe! "s" "g" (fn [e] nil) :from "earliest"${lease})\n(deftest "days" (loop [i 0] (when (< i 12) (advance! "1d") (recur (inc i)))) (publish! "s" 1) (advance! "1s") (expect= 1 (count (published "s"))))\n`
    const run = async (text: string) => (await Effect.runPromise(runTests(await Effect.runPromise(loadProgram([{ file: "t.sib", text }]))))).results[0]!
    const refused = await run(group(""))
    expect(refused.failures[0]?.message).toMatch(/lease renewals of its groups 8,640, maintenance 1,440\), more than the test's budget allows .* the budget is the whole test's, however the clock is moved/)
    expect(refused.failures[0]?.hints.join(" ")).toMatch(/give its subscribe! a longer :leaseMs/)
    const longer = await run(group(" :leaseMs 3600000"))
    expect(longer.failures).toEqual([])
  }, 30_000)
})

describe("where a limit is reported", () => {
  /** Each test's failures, as line:column and message. */
  const failuresOf = async (text: string, limits: Partial<Limits> = { maxSteps: 100_000 }) => {
    const program = await Effect.runPromise(loadProgram([{ file: "w.sib", text }]))
    const report = await Effect.runPromise(runTests(program, { limits }))
    return new Map(report.results.map((r) => [r.name, r.failures.map((f) => `${f.span.line}:${f.span.column} ${f.message}`)]))
  }
  const spent = "the run took more than 100,000 steps (the step budget, maxSteps)"

  it("a loop that never ends is named by its own form, not the test, function call or subscribe! around it", async () => {
    const byName = await failuresOf(`(defn spin [] (loop [i 0]
  (recur (inc i))))
(defn spin-by-recur [i]
  (recur (inc i)))
(deftest "in the body"
  (loop [i 0]
    (when true (recur (+ i 1)))))
(deftest "in a called function"
  (spin))
(deftest "a function recurring"
  (spin-by-recur 0))
(define-topic "t")
(deftest "a loop that paused"
  (loop [i 0] (when (= i 0) (publish! "t" {:n i})) (let [j (inc i)] (recur j))))
`)
    expect(byName.get("in the body")).toEqual([`6:3 ${spent}`])
    expect(byName.get("in a called function")).toEqual([`1:15 ${spent}`])
    expect(byName.get("a function recurring")).toEqual([`3:1 ${spent}`])
    // A loop that paused (an effect: the rounds after it run in its continuation) too.
    expect(byName.get("a loop that paused")).toEqual([`14:3 ${spent}`])
  })

  it("in a handler, the dead letter names the loop; a limit inside a call in the loop names that call", async () => {
    const loop = await handle(`(defn h [e]
  (loop [i 0]
    (recur (inc i))))
(subscribe! "t" "g" h :from "earliest" :maxAttempts 1)
`, { limits: { maxSteps: 100_000 } })
    expect(loop?.errorMessage).toMatch(/^h\.sib:2:3: the run took more than 100,000 steps/)
    const inner = await handle(`(defn h [e]
  (loop [acc []]
    (recur (into acc (range 1000)))))
(subscribe! "t" "g" h :from "earliest" :maxAttempts 1)
`, { limits: { maxSteps: 100_000 } })
    expect(inner?.errorMessage).toMatch(/^h\.sib:3:12: the run took more than 100,000 steps/)
  })

  it("a caught error is not moved: try still cannot catch a limit, and other errors keep their place", async () => {
    const byName = await failuresOf(`(deftest "caught"
  (expect= :caught (try (loop [i 0] (recur (inc i))) (catch e :caught))))
(deftest "unbound"
  (loop [i 0] (if (< i 3) (recur (inc i)) (/ 1 0))))
`)
    expect(byName.get("caught")).toEqual([`2:25 ${spent}`])
    expect(byName.get("unbound")).toEqual(["4:43 division by zero"])
  })
})

describe("sib test", () => {
  it("keeps at most 100 failures a test and a bounded report in all, and says how many it did not keep", async () => {
    const tests = Array.from({ length: 40 }, (_, i) => `(deftest "t${i}" (reduce (fn [_ i] (expect= [i "${"x".repeat(1000)}"] i)) nil (range 20000)))`)
    const program = await Effect.runPromise(loadProgram([{ file: "t.sib", text: tests.join("\n") }]))
    const report = await Effect.runPromise(runTests(program))
    expect(report.failed).toBe(40)
    expect(Math.max(...report.results.map((r) => r.failures.length))).toBeLessThanOrEqual(101)
    expect(report.results[0]!.failures.at(-1)!.message).toMatch(/^[\d,]+ more failures of this test were not kept/)
    const text = renderTestReport(report)
    expect(text.length).toBeLessThan(12_000_000)
    expect(/failures of this test were not kept \(a test keeps 100; the report of sib test keeps/.test(text), "the report says what it did not keep").toBe(true)
  })
})

describe("sib test: published and dead-letters", () => {
  it("charge the records they return: reading 2,000 events of 1 KB 10,000 times stops at the budget", async () => {
    const text = `(define-topic "t")
(deftest "reads" (reduce (fn [_ i] (publish! "t" {:i i :pad "${"x".repeat(1000)}"})) nil (range 2000))
  (expect= 0 (reduce (fn [n _] (+ n (count (published "t")) (count (dead-letters "g")))) 0 (range 10000))))\n`
    const program = await Effect.runPromise(loadProgram([{ file: "p.sib", text }]))
    const started = Date.now()
    const report = await Effect.runPromise(runTests(program))
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(report.results[0]!.failures.map((f) => f.message).join("\n")).toMatch(/took more than|allocated more than/)
  })
})

describe("one budget per load", () => {
  it("and, or and expect= expand in time linear in their source: 150,000 arguments, expect= nested 250 deep around a 100,000-element vector (as fast as a vector as long)", async () => {
    const args = " 1".repeat(150_000)
    // What reading and compiling that much source costs: a vector of as many elements.
    const timed = async (text: string) => {
      const started = Date.now()
      const exit = await Effect.runPromiseExit(loadProgram([{ file: "e.sib", text }]))
      return { ms: Date.now() - started, exit }
    }
    const baseline = (await timed(`(def result [${args}])\n`)).ms
    for (const op of ["and", "or"]) {
      const { ms, exit } = await timed(`(def result (${op}${args}))\n`)
      expect(exit._tag === "Failure" ? String(Cause.squash(exit.cause)) : "loaded").toMatch(/nests deeper than 500 levels/)
      expect(ms, `${op}: ms (a vector as long: ${baseline} ms)`).toBeLessThan(2 * baseline + 1000)
    }
    let nested = `[${args.slice(0, 200_000)}]`
    for (let i = 0; i < 250; i++) nested = `(expect= 1 ${nested})`
    const { ms } = await timed(`(deftest "t" ${nested})\n`)
    expect(ms, `expect=: ms (a vector of 150,000: ${baseline} ms)`).toBeLessThan(2 * baseline + 1000)
  })

  it("a destructuring default is never copied: nested patterns binding one defaulted name 4 times are refused at once", async () => {
    let x = "[1 2 3]"
    for (let i = 0; i < 12; i++) x = `(let [{:keys [a a a a] :or {a ${x}}} {}] a)`
    const started = Date.now()
    const messages = await loadFails(`(def result ${x})\n`)
    expect(messages).toMatch(/^1:\d+ a is bound twice in this map pattern, and it has an :or default/)
    expect(Date.now() - started).toBeLessThan(2000)
    // Without a default a name may still repeat (the last one read wins), and a default read once is kept.
    expect(await valueOf(`(def result (let [{:keys [a a] :strs [b] :or {b 2}} {:a 1}] [a b]))\n`)).toEqual([1, 2])
  })

  it("macro expansions share the load's step budget (a file of burning macros ends at once)", async () => {
    const started = Date.now()
    const burn = "(defmacro burn [] (reduce + (map inc (range 900000))) nil)\n"
    const messages = await loadFails(`${burn}${Array.from({ length: 24 }, () => "(burn)").join("\n")}\n`)
    expect(messages).toMatch(/the load took more than 8,000,000 steps \(the load's step budget, maxLoadSteps/)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it("and its budget of forms (24 forms each expanding to 450k forms stop at the first million)", async () => {
    const bloat = "(defmacro bloat [] (cons 'do (map (fn [i] i) (range 450000))))\n"
    const messages = await loadFails(`${bloat}${Array.from({ length: 24 }, () => "(bloat)").join("\n")}\n`)
    expect(messages).toMatch(/macro expansions in this load produced more than their budget of forms/)
  })
})

describe("the host and the file system", () => {
  it("a function inside a registered object's data is refused at load, never callable (not as a filter either)", async () => {
    const messages = await loadFails(`(subscribe! "t" "g" (fn [e] nil) :filter cfg.nested.fn)\n`, {
      host: { cfg: { nested: { fn: () => process.exit(42) } } }
    })
    expect(messages).toMatch(/a registered host value cannot be used: cfg\.nested\.fn is a function inside a field/)
    expect(await loadFails(`(subscribe! "t" "g" (fn [e] nil) :filter "yes")\n`)).toMatch(/:filter must be a function of the event, got a string/)
    const program = await Effect.runPromise(loadProgram([{ file: "d.sib", text: `(def result [cfg.team cfg.limits.cpu (get-in cfg [:tags 1])])\n` }], {
      host: { cfg: { team: "ops", limits: { cpu: 0.5 }, tags: ["a", "b"], page: () => 1 } }
    }))
    expect(program.namespace.lookup("result")?.value).toEqual(["ops", 0.5, "b"])
  })

  it("require stays inside the program's folder: no absolute paths, no way up, no links out, only .sib files", () => {
    const dir = makeTmpDir()
    const app = join(dir, "app")
    mkdirSync(join(app, "lib"), { recursive: true })
    mkdirSync(join(dir, "outside"))
    writeFileSync(join(dir, "outside", "x.sib"), "(def secret 1)\n")
    writeFileSync(join(app, "lib", "ok.sib"), "(def ok 1)\n")
    writeFileSync(join(app, "notes.txt"), "root:x:0:0:root:/root:/bin/bash\n")
    symlinkSync("/etc/passwd", join(app, "passwd.sib"))
    symlinkSync(join(app, "notes.txt"), join(app, "notes.sib"))
    symlinkSync(join(app, "lib", "ok.sib"), join(app, "alias.sib"))
    const check = async (text: string) => {
      writeFileSync(join(app, "main.sib"), text)
      const exit = await Effect.runPromiseExit(loadProgram([join(app, "main.sib")]))
      if (Exit.isSuccess(exit)) return "loaded"
      const e = Cause.squash(exit.cause)
      return e instanceof SibError ? e.render() : String(e)
    }
    return (async () => {
      expect(await check(`(require "../outside/x.sib")\n`)).toMatch(/require of "\.\.\/outside\/x\.sib" leads outside the program's folder/)
      expect(await check(`(require "lib/../../outside/x.sib")\n`)).toMatch(/leads outside the program's folder/)
      expect(await check(`(require ${JSON.stringify(join(dir, "outside", "x.sib"))})\n`)).toMatch(/not an absolute path/)
      const passwd = await check(`(require "passwd.sib")\n`)
      expect(passwd).toMatch(/is a link to a file outside the program's folder/)
      expect(passwd).not.toMatch(/root:/)
      expect(await check(`(require "notes.sib")\n`)).toMatch(/is a link to a file that is not a \.sib file/)
      expect(await check(`(require "lib/ok.sib")\n(require "alias.sib")\n(def result ok)\n`)).toBe("loaded")
      const entry = await Effect.runPromiseExit(loadProgram([join(app, "notes.txt")]))
      expect(Exit.isFailure(entry) && String(Cause.squash(entry.cause))).toMatch(/notes\.txt is not a \.sib file/)
    })()
  })

  it("program files are regular files, read up to what maxSourceChars allows: a FIFO (required or given) is refused at once, not waited on; the limit counts characters, not bytes", async () => {
    const dir = makeTmpDir()
    execFileSync("mkfifo", [join(dir, "lib.sib")])
    writeFileSync(join(dir, "main.sib"), `(require "lib.sib")\n`)
    const render = async (files: ReadonlyArray<string>, limits?: Partial<Limits>) => {
      const exit = await Effect.runPromiseExit(loadProgram(files, limits === undefined ? {} : { limits }))
      return Exit.isSuccess(exit) ? "loaded" : String((Cause.squash(exit.cause) as SibError).render())
    }
    expect(await render([join(dir, "main.sib")])).toMatch(/cannot read lib\.sib: it is not a regular file \(a FIFO, a device or a socket\)/)
    expect(await render([join(dir, "lib.sib")])).toMatch(/it is not a regular file/)
    // 400,000 characters of 3 bytes each (1.2 MB) fit the 1,048,576-character default; 1,100,000 do not.
    writeFileSync(join(dir, "cjk.sib"), `(def a "${"\u5b57".repeat(400_000)}")\n`)
    expect(await render([join(dir, "cjk.sib")])).toBe("loaded")
    writeFileSync(join(dir, "big.sib"), `(def a "${"\u5b57".repeat(1_100_000)}")\n`)
    expect(await render([join(dir, "big.sib")])).toMatch(/would take the program's source over the limit of 1,048,576 characters \(maxSourceChars\)/)
    // Past three bytes a character, a file is refused before it is read.
    writeFileSync(join(dir, "ascii.sib"), `(def a "${"x".repeat(400)}")\n`)
    expect(await render([join(dir, "ascii.sib")], { maxSourceChars: 100 })).toMatch(/ascii\.sib \(more than 300 bytes\) would take the program's source over the limit of 100 characters/)
  })
})

describe("options", () => {
  it("bounds: every! under 10 ms, maxInFlight and batchSize too large, an option named __proto__", async () => {
    expect(await loadFails(`(every! "0ms" (fn [] nil))\n`)).toMatch(/every!: an interval of 0 ms is under the minimum of 10 ms|is not a duration/)
    expect(await loadFails(`(every! 5 (fn [] nil))\n`)).toMatch(/every!: an interval of 5 ms is under the minimum of 10 ms/)
    expect(await loadFails(`(subscribe! "t" "g" (fn [e] nil) :maxInFlight 5000000)\n`)).toMatch(/maxInFlight must be an integer from 1 to 10000, got 5000000/)
    expect(await loadFails(`(subscribe! "t" "g" (fn [e] nil) :batchSize 100000000)\n`)).toMatch(/batchSize must be an integer from 1 to 10000, got 100000000/)
    expect(await loadFails(`(publish! "t" {} (keyword "__proto__") 1)\n`)).toMatch(/publish!: unknown option :__proto__/)
  })
})

describe("program size", () => {
  it("a program subscribes at most maxGroups groups and declares at most maxTimers timers", async () => {
    expect(await loadFails(`(defn h [e] nil)\n(reduce (fn [_ i] (subscribe! "t" (str "g" i) h)) nil (range 300))\n`)).toMatch(/a program subscribes at most 256 groups \(maxGroups\)/)
    expect(await loadFails(`(reduce (fn [_ i] (every! "1s" (fn [] nil))) nil (range 300))\n`)).toMatch(/a program has at most 256 timers \(maxTimers\)/)
  })
})
