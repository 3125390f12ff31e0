/**
 * Fuzzing the language front to back (read, expand, compile, top-level evaluation): random bytes,
 * token soup, mutated valid files and deep nesting must each end in a loaded program or in located
 * diagnostics (a `SibError`), never another exception, a defect or a stack overflow, and quickly.
 */
import { describe, expect, it } from "vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import fc from "fast-check"
import { readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { loadProgram } from "../../src/program/load.ts"
import { SibError } from "../../src/diagnostics/Diagnostic.ts"

const root = join(import.meta.dirname, "..", "..")
const slow = process.env["SIB_SLOW"] === "1"
const runs = (n: number) => (slow ? n * 10 : n)

/** Every valid (and deliberately invalid) `.sib` file in the repository: the mutation corpus. */
const corpus: ReadonlyMap<string, string> = new Map(
  [join(root, "dsl-examples"), join(root, "test", "fixtures", "lang"), join(root, "test", "fixtures", "bad"), join(root, "test", "fixtures", "sketch")]
    .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith(".sib")).map((f) => join(dir, f)))
    .map((path) => [path, readFileSync(path, "utf8")] as const)
)

/** The fuzzed file reads its siblings from the corpus only (a `require` of anything else: no such file). */
const readFile = (path: string): string => {
  const text = corpus.get(path)
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" })
  return text
}

/** Outcomes seen, by diagnostic code (or "loaded"): the fuzzers must reach past the reader. */
const outcomes = new Map<string, number>()
const saw = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)

/** Loads `text` as `file`; returns what went wrong with the outcome, or undefined when it was acceptable. */
const problemWith = async (file: string, text: string): Promise<string | undefined> => {
  // The bound is on this process's CPU time, not the wall clock: other tests' processes share the
  // machine's cores, and what is bounded is the work a load does.
  const started = process.cpuUsage()
  let exit: Exit.Exit<unknown, SibError>
  try {
    // A load's step budget of 1M (not the default 8M) keeps every input well under the time bound
    // on a busy machine; what is fuzzed is that every failure is a typed diagnostic.
    exit = await Effect.runPromiseExit(loadProgram([{ file, text }], { readFile, limits: { maxLoadSteps: 1_000_000 } }))
  } catch (e) {
    return `threw outside Effect: ${e instanceof Error ? e.stack : String(e)}`
  }
  const used = process.cpuUsage(started)
  const elapsed = (used.user + used.system) / 1000
  if (elapsed > 1000) return `took ${elapsed.toFixed(0)} ms of CPU`
  if (Exit.isSuccess(exit)) {
    saw("loaded")
    return undefined
  }
  const failures = exit.cause.reasons.filter(Cause.isFailReason).map((r) => r.error)
  if (failures.length !== exit.cause.reasons.length || failures.length !== 1) return `not one typed failure: ${Cause.pretty(exit.cause)}`
  const error = failures[0]
  if (!(error instanceof SibError)) return `failed with ${String(error)}`
  if (error.diagnostics.length === 0) return "a SibError without diagnostics"
  saw(error.diagnostics[0]!.code)
  const sources = new Map([...corpus, [file, text]])
  for (const d of error.diagnostics) {
    const source = sources.get(d.span.file) ?? sources.get(resolve(d.span.file))
    if (error.sources?.get(d.span.file) !== source) return `the error does not carry the text of ${d.span.file}`
    if (source === undefined) return `diagnostic in an unknown file ${d.span.file}: ${d.message}`
    const lines = source.split("\n").length
    const { line, column, endLine } = d.span
    if (!(line >= 1 && line <= lines && column >= 1 && endLine >= line)) return `bad span ${JSON.stringify(d.span)} for ${d.message}`
    if (d.message.length === 0) return `empty message (${d.code})`
    if (d.code === "read/ambiguous") return "the grammar found more than one parse"
  }
  const rendered = error.render()
  if (!/^.+:\d+:\d+: (Read|Expand|Compile|Runtime) error: /m.test(rendered)) return `unrendered: ${rendered}`
  return undefined
}

const expectAcceptable = async (file: string, text: string) => {
  const problem = await problemWith(file, text)
  if (problem !== undefined) throw new Error(`${problem}\n--- input (${text.length} chars) ---\n${text.slice(0, 2000)}`)
}

/** Tokens that reach past the reader: special forms, macros, domain forms, sandbox escapes, literals. */
const vocabulary = [
  "(", "(", "(", ")", ")", ")", "[", "]", "{", "}", "#{", "'", "`", "~", "~@", "#_", "&", ".", "^",
  "def", "defn", "fn", "let", "if", "do", "quote", "defmacro", "deftest", "when", "cond", "case", "->", "->>", "and", "or",
  "if-let", "when-let", "loop", "recur", "define-topic", "publish!", "subscribe!", "latest", "log", "every!", "after!",
  "require", "advance!", "expect", "expect=", "published", "map", "reduce", "range", "assoc", "get-in", "str", "format",
  "json/parse", "json/stringify", "apply", "x", "y", "e.payload", "bus", ".publish", ".subscribe", ".constructor",
  "__proto__", "constructor", "prototype", "globalThis", "process", "eval", ":key", ":from", ":__proto__", ":schema",
  "\"topic.a\"", "\"5s\"", "\"%s\"", "\"\\u0000\"", "\"main.sib\"", "\"topics.sib\"", "0", "1", "-1", "1e308", "2.5",
  "9007199254740993", "nil", "true", "false", ";c\n", "\n", " "
]

const tokenSoup = fc.array(fc.constantFrom(...vocabulary), { maxLength: 80 }).map((ts) => ts.join(" "))

const corpusFiles = [...corpus.keys()]

/** A corpus file with a few edits: deletions, insertions of syntax characters, swaps and duplications. */
const mutated = fc.record({
  path: fc.constantFrom(...corpusFiles),
  edits: fc.array(
    fc.record({
      at: fc.nat(),
      length: fc.nat({ max: 40 }),
      kind: fc.constantFrom("delete", "insert", "duplicate", "replace"),
      text: fc.oneof(fc.constantFrom("(", ")", "[", "]", "{", "}", "#{", "\"", "\\", "~@", "`", "'", "#_", ";", "\n", "&", "."), fc.string({ maxLength: 4 }))
    }),
    { minLength: 1, maxLength: 6 }
  )
}).map(({ edits, path }) => {
  let text = corpus.get(path)!
  for (const edit of edits) {
    const at = text.length === 0 ? 0 : edit.at % text.length
    const end = Math.min(text.length, at + edit.length)
    text = edit.kind === "delete"
      ? text.slice(0, at) + text.slice(end)
      : edit.kind === "insert"
      ? text.slice(0, at) + edit.text + text.slice(at)
      : edit.kind === "duplicate"
      ? text.slice(0, end) + text.slice(at, end) + text.slice(end)
      : text.slice(0, at) + edit.text + text.slice(end)
  }
  return { path, text }
})

/** How many runs ended with a diagnostic of each phase, and how many loaded. */
const byPhase = () => {
  const phases: Record<string, number> = {}
  for (const [code, n] of outcomes) {
    const phase = code === "loaded" ? "loaded" : code.split("/")[0]!
    phases[phase] = (phases[phase] ?? 0) + n
  }
  outcomes.clear()
  return phases
}

describe("fuzzing the language", () => {
  it("random bytes yield a program or located diagnostics", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.boolean(), async (bytes, latin1) => {
        await expectAcceptable("bytes.sib", new TextDecoder(latin1 ? "latin1" : "utf-8").decode(bytes))
      }),
      { numRuns: runs(300) }
    )
    outcomes.clear()
  }, 120_000)

  it("token soup (forms that reach the expander and compiler) yields a program or located diagnostics", async () => {
    await fc.assert(fc.asyncProperty(tokenSoup, (text) => expectAcceptable("soup.sib", text)), { numRuns: runs(600) })
    const phases = byPhase()
    for (const phase of ["loaded", "read", "compile"]) expect(phases[phase] ?? 0, JSON.stringify(phases)).toBeGreaterThan(5)
  }, 120_000)

  it("mutated valid files yield a program or located diagnostics", async () => {
    // Mutants keep their original path so that their requires resolve to the corpus.
    await fc.assert(fc.asyncProperty(mutated, ({ path, text }) => expectAcceptable(path, text)), { numRuns: runs(400) })
    const phases = byPhase()
    for (const phase of ["loaded", "read", "compile"]) expect(phases[phase] ?? 0, JSON.stringify(phases)).toBeGreaterThan(0)
  }, 180_000)

  it("100k levels of nesting of every opener end in a located read error", async () => {
    const openers = ["(", "[", "{", "#{", "'", "`", "~", "~@", "#_", "(quote ", "(fn [] ", "(let [a ", "`(~", "(do "]
    for (const opener of openers) {
      const closer = opener.includes("(") ? ")" : opener === "[" ? "]" : opener.endsWith("{") ? "}" : ""
      for (const text of [opener.repeat(100_000) + "1", opener.repeat(100_000) + "1" + closer.repeat(100_000)]) {
        await expectAcceptable("deep.sib", text)
        const exit = await Effect.runPromiseExit(loadProgram([{ file: "deep.sib", text }]))
        expect(Exit.isFailure(exit) && String(Cause.squash(exit.cause))).toMatch(/deep\.sib:1:\d+: Read error: forms nest deeper than/)
      }
    }
  }, 60_000)

  it("nesting built by macros and by data ends in located diagnostics", async () => {
    await expectAcceptable("grow.sib", "(defmacro grow [x] `(grow (~x))) (grow 1)")
    await expectAcceptable("grow.sib", "(defmacro grow [& xs] `(grow ~@xs ~@xs)) (grow 1)")
    await expectAcceptable("grow.sib", "(defmacro m [] (reduce (fn [a _] (list a)) 1 (range 100000))) (m)")
    await expectAcceptable("grow.sib", "(defmacro m [] (list 'quote (reduce (fn [a _] [a]) 1 (range 100000)))) (m)")
    await expectAcceptable("deep.sib", "(defn deep [n] (if (= n 0) [] [(deep (dec n))])) (def v (deep 100000))")
    await expectAcceptable("deep.sib", "(def v (reduce (fn [acc _] [acc]) [] (range 200000))) (json/stringify v)")
    await expectAcceptable("deep.sib", "(def v (reduce (fn [acc _] {:a acc}) {} (range 200000))) (str v)")
    await expectAcceptable("deep.sib", "(def v (reduce (fn [acc _] [acc]) 1 (range 100000))) (= v (reduce (fn [acc _] [acc]) 1 (range 100000)))")
  }, 60_000)
})
