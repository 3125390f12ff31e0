/**
 * The sandbox: `.sib` code reaches only the language's built-ins and what the application registers.
 * Escape attempts fail to compile or read nothing; prototype pollution is checked with canaries;
 * runaway code in a handler (endless recursion, step budget, huge values) ends that attempt with a
 * located language error that reaches the dead letter, and the process carries on.
 */
import { afterEach, describe, expect, it } from "vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { loadProgram } from "../../src/program/load.ts"
import { startProgram } from "../../src/program/start.ts"
import { SibError } from "../../src/diagnostics/Diagnostic.ts"
import { Bus } from "../../src/facade/Bus.ts"

const loadFails = async (text: string): Promise<string> => {
  const exit = await Effect.runPromiseExit(loadProgram([{ file: "hostile.sib", text }]))
  expect(Exit.isFailure(exit), `should not load: ${text}`).toBe(true)
  const e = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  return e instanceof SibError ? e.diagnostics.map((d) => `${d.kind}: ${d.message}`).join("\n") : String(e)
}


/** Loads a program whose top level defines `result`, and returns its value. */
const valueOf = async (text: string): Promise<unknown> => {
  const program = await Effect.runPromise(loadProgram([{ file: "probe.sib", text: `(def result ${text})` }]))
  return program.namespace.lookup("result")?.value
}

describe("sandbox", () => {
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted, "Object.prototype must stay clean").toBeUndefined()
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted")).toBe(false)
  })

  for (const escape of ["(require \"fs\")", "(require \"/etc/passwd\")", "(js/require \"fs\")", "(process.exit 1)", "globalThis", "(eval \"1\")", "(Function \"return process\")", "(import \"fs\")", "(. process exit)"]) {
    it(`cannot reach the host: ${escape}`, async () => {
      const message = await loadFails(escape)
      expect(message).toMatch(/unknown symbol|loads \.sib files only|has no methods|needs the object/)
    })
  }

  it("reads no prototype or constructor through fields, get, keywords or methods", async () => {
    expect(await valueOf("[(get {} \"constructor\") (get {} :__proto__) (:constructor {}) ({} 1)]").catch((e) => String(e))).toMatch(/not a function/)
    expect(await valueOf("[(get {} \"constructor\") (get {} :__proto__) (:constructor {}) (get [] \"length\")]")).toEqual([null, null, null, null])
    expect(await valueOf("(let [m {:a 1}] [m.constructor m.__proto__ m.toString m.hasOwnProperty])")).toEqual([null, null, null, null])
    expect(await valueOf("(let [f (fn [] 1)] [f.captured f.body f.name f.params])")).toEqual([null, null, null, null])
    expect(await valueOf("[bus.methods bus.fields bus.constructor]")).toEqual([null, null, null])
    expect(await loadFails("(def x (.constructor bus))")).toMatch(/bus has no method constructor/)
    expect(await loadFails("(def x (.toString {:a 1}))")).toMatch(/a map has no methods/)
  })

  it("keeps __proto__ keys as plain data (no pollution through assoc, merge, literals, JSON)", async () => {
    const v = await valueOf(`
      (let [a (assoc {} "__proto__" {:polluted true})
            b (merge {} (json/parse "{\\"__proto__\\": {\\"polluted\\": true}}"))
            c (assoc-in {} ["__proto__" "polluted"] true)
            d {"__proto__" {:polluted true}}
            e (update {} "constructor" (fn [_] {:prototype {:polluted true}}))]
        (json/stringify [a b c d e]))`)
    expect(JSON.parse(v as string)).toEqual([
      { ["__proto__"]: { polluted: true } }, { ["__proto__"]: { polluted: true } }, { ["__proto__"]: { polluted: true } },
      { ["__proto__"]: { polluted: true } }, { constructor: { prototype: { polluted: true } } }
    ].map((o) => JSON.parse(JSON.stringify(o, (k, x) => x))))
  })

  it("a payload with __proto__ keys is stored and read as data", async () => {
    await Effect.runPromise(Effect.gen(function*() {
      const program = yield* loadProgram([{ file: "p.sib", text: "(publish! \"t\" (json/parse \"{\\\"__proto__\\\": {\\\"polluted\\\": 1}}\"))" }])
      const bus = yield* Bus
      yield* startProgram(program, bus)
      const [e] = yield* bus.read("t", 0, 10)
      expect(Object.hasOwn(e!.payload as object, "__proto__")).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(Bus.sqlite({ filename: ":memory:" }))))
  })

  const handlerFailure = async (body: string) =>
    Effect.runPromise(Effect.gen(function*() {
      const text = `(defn handle [e ctx]\n  ${body})\n(subscribe! "t" "g" handle :from "earliest" :maxAttempts 2 :backoff {:initialMs 1 :jitter 0})`
      const program = yield* loadProgram([{ file: "h.sib", text }])
      const bus = yield* Bus
      yield* startProgram(program, bus)
      yield* bus.publish("t", { n: 1 })
      for (let i = 0; i < 400; i++) {
        const [dl] = yield* bus.deadLetters({ group: "g" })
        if (dl !== undefined) return dl
        yield* Effect.sleep(5)
      }
      throw new Error("no dead letter")
    }).pipe(Effect.scoped, Effect.provide(Bus.sqlite({ filename: ":memory:" }))))

  it("endless recursion in a handler is a located error, counted as an attempt, and the process lives", async () => {
    const dl = await handlerFailure("(do (defn-loop 0) nil))\n(defn defn-loop [n] (defn-loop (inc n))")
    expect(dl.attempts).toBe(2)
    expect(dl.errorMessage).toMatch(/^h\.sib:\d+:\d+: calls nest deeper than 400 levels/)
    expect(dl.errorStack).toMatch(/at h\.sib:\d+:\d+/)
  })

  it("a loop that exhausts the step budget, and a value over the size limit, fail the attempt with their location", async () => {
    const steps = await handlerFailure("(reduce + (map inc (range 900000)))")
    expect(steps.errorMessage).toMatch(/^h\.sib:2:\d+: the run took more than 1,000,000 steps/)
    const size = await handlerFailure("(count (range 5000000))")
    expect(size.errorMessage).toMatch(/^h\.sib:2:\d+: a collection of 5,000,000 elements would be over the limit/)
  })

  it("deep but bounded recursion works, deep data does not overflow the stack", async () => {
    expect(await valueOf("((fn count-down [n] (if (= n 0) :done (count-down (dec n)))) 350)")).toEqual(expect.objectContaining({ name: "done" }))
    const nested = await valueOf("(json/stringify ((fn nest [n] (if (= n 0) [] [(nest (dec n))])) 300))") as string
    expect(nested.length).toBe(602)
  })
})
