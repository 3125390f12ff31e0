/**
 * Loading a program: files in, a `Program` out, all or nothing. Each file is read, its top-level
 * names are declared up front (so functions may refer to names defined further down), and then
 * each top-level form is, in order, expanded (user macros run here), compiled, and evaluated in
 * load mode, where domain forms register topics, groups, publishes and timers into a builder.
 * `(require "x.sib")` loads another file relative to the current one, once, and only from inside
 * the program's folder (the entry file's, symlinks resolved). The whole load (every top-level form
 * and every macro expansion) spends one budget. Every diagnostic found is reported; if there is
 * any, the load fails with `SibError` and nothing is registered.
 *
 * This module holds the loader: reading, expanding, compiling and evaluating the forms, and what
 * it reports. Which files it reads and their limits are programFiles.ts's; the names a program
 * starts with (and `declare-host`) are programNamespace.ts's.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { resolve } from "node:path"
import { type Diagnostic, diagnostic, SibError, SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import { type ExpandEnv, expand, fresh } from "../expand/expand.ts"
import { coreMacros } from "../expand/macros.ts"
import { destructureParams } from "../lang/destructure.ts"
import { read } from "../reader/read.ts"
import * as S from "../reader/Syntax.ts"
import type { Callable, FormBudget, HostObject, Value } from "../reader/Value.ts"
import type { Closure } from "../lang/Closure.ts"
import { makeCompiler } from "../lang/compile.ts"
import { specialForms } from "../lang/specials.ts"
import type { HostValue } from "../lang/host.ts"
import { type Program, ProgramBuilder } from "./Program.ts"
import { nowhere, ProgramFiles } from "./programFiles.ts"
import { baseNamespace, hostDeclarations } from "./programNamespace.ts"
import { defaultLimits, type Limits, limitsProblem, loadBudget } from "../lang/budget.ts"
import { isLimit, located } from "../lang/langError.ts"
import { type Frame, isEffect, lift, makeRun } from "../lang/run.ts"
import { paced, Share } from "../lang/turns.ts"
import type { Source } from "./sources.ts"

export interface LoadOptions {
  /** Functions and objects the `.sib` code may use, by name (`registerHost`). */
  readonly host?: Readonly<Record<string, HostValue>> | undefined
  readonly limits?: Partial<Limits> | undefined
  /** Reads a file (default: the file system, UTF-8). */
  readonly readFile?: ((path: string) => string) | undefined
  /**
   * Host names the program may use without a host giving them, as if it declared them with
   * `declare-host` (the `--host` flag of `sib check` and `sib test`).
   */
  readonly declaredHost?: ReadonlyArray<string> | undefined
  /**
   * What a declared host name no host gives is: `"error"` (the default: the program cannot run
   * without its application) or `"stand-in"` (a function that logs its call and returns nil; for
   * checking and testing a program apart from its application).
   */
  readonly undeclaredHost?: "error" | "stand-in" | undefined
}

/** Problems a load reports at most (then how many more there were): every one an editor or CI needs, not megabytes. */
const maxReported = 2000

/** How often a load gives the event loop back between top-level forms. */
const yieldEveryMs = 10

/**
 * Macro calls and `do`s one top-level form may open into further top-level forms, and how deep:
 * as the expander bounds the expansion of one form.
 */
const maxTopExpansions = 10_000
const maxTopDepth = 500

/** Names a form defines at the top level, found without expanding it. */
const declaredName = (form: S.Syntax): S.SSymbol | undefined => {
  if (form.kind !== "list") return undefined
  const [head, name] = form.items
  return head?.kind === "symbol" && (head.name === "def" || head.name === "defn") && name?.kind === "symbol" ? name : undefined
}

/** An incremental loader: files and text are added one at a time into one program. */
export interface Loader {
  /** Adds a file (its text read from disk when not given). */
  readonly add: (source: Source | string) => Effect.Effect<void>
  /** Evaluates text as top-level forms; the value of the last one, or the diagnostics. */
  readonly evaluate: (text: string, file: string) => Effect.Effect<Value, SibError>
  /** The program, or every diagnostic found so far. */
  readonly finish: Effect.Effect<Program, SibError>
}

export const createLoader = (options: LoadOptions = {}): Effect.Effect<Loader> =>
  Effect.gen(function*() {
    const limitsError = limitsProblem(options.limits)
    const limits: Limits = { ...defaultLimits, ...(limitsError === undefined ? options.limits : {}) }
    const hostProblems: Array<string> = []
    const ns = baseNamespace(options.host, hostProblems)
    const builder = new ProgramBuilder()
    const compiler = makeCompiler(ns)
    const macros = new Map<string, Closure>()
    const diagnostics: Array<Diagnostic> = hostProblems.map((message) =>
      diagnostic("Compile", "compile/host", `a registered host value cannot be used: ${message}`, nowhere("<host>"), {
        hints: ["register the function by its own name (registerHost(\"name\", fn)), or make it a method of a registered object"]
      }))
    if (limitsError !== undefined) diagnostics.push(diagnostic("Compile", "compile/limits", `the load's limits option is not usable: ${limitsError}`, nowhere("<options>")))
    const files = new ProgramFiles(limits, options.readFile, diagnostics)
    const texts = new Map<string, string>()
    const order: Array<string> = []
    const clock = yield* Clock.Clock
    const random = yield* Random.Random
    // The load takes turns with the running program's groups and timers (a reload runs beside them).
    const share = new Share("load")
    // One budget for the whole load: every top-level form and every macro expansion spend from it.
    // (`evaluate` starts a new one for each text it is given, as a separate load would.)
    let budget = loadBudget(limits, clock)
    const forms: FormBudget = { left: limits.maxExpandedForms }
    let loadRun = makeRun("load", limits, clock, random, { builder }, budget)
    let top: Frame = { slots: [], parent: undefined, run: loadRun }
    const freshBudget = () => {
      budget = loadBudget(limits, clock)
      forms.left = limits.maxExpandedForms
      loadRun = makeRun("load", limits, clock, random, { builder }, budget)
      top = { slots: [], parent: undefined, run: loadRun }
    }

    const env: ExpandEnv = {
      forms,
      special: (name) => specialForms.get(name)?.expand,
      userMacro: (name) => macros.get(name),
      shadows: (name) => ns.isProgramGlobal(name),
      callMacro: (macro, args, site) => {
        const m = macro as Closure
        const run = makeRun("macro", limits, clock, random, {}, budget)
        try {
          const out = m.invoke(run, args, site)
          if (isEffect(out)) {
            return { ok: false, diagnostic: diagnostic("Expand", "expand/macro-effect", `macro ${m.name} tried to run an effect; macros only compute code`, site) }
          }
          return { ok: true, value: out as Value }
        } catch (e) {
          const l = located(e, site)
          const inner = l instanceof SibRuntimeError ? l.diagnostic : undefined
          return {
            ok: false,
            diagnostic: diagnostic("Expand", "expand/macro-failed", `macro ${m.name} failed: ${inner?.message ?? String(e)}`, site, {
              related: inner !== undefined && inner.span !== site ? [{ message: "in the macro", span: inner.span }] : [],
              hints: inner?.hints ?? []
            })
          }
        }
      }
    }

    /**
     * Program names whose definition failed (to read, expand, compile or run): a later use of one
     * ("used before its definition ran") follows from that failure and is not reported again.
     */
    const failedNames = new Set<string>()
    const followsFromFailure = (d: Diagnostic) =>
      d.code === "runtime/unbound" && [...failedNames].some((n) => d.message.startsWith(`${n} is used before its definition ran`))
    /**
     * Macros whose definition failed: a use of one compiles as a call of an unknown name, which
     * follows from that failure and is not reported (the definition's own error is).
     */
    const failedMacros = new Set<string>()
    const usesFailedMacro = (d: Diagnostic) => d.code === "compile/unknown-symbol" && failedMacros.has(d.message.slice("unknown symbol ".length))

    /** What a failed top-level form reports: its error and every other problem it carried. */
    const runtimeDiagnostics = (e: unknown, span: Span): ReadonlyArray<Diagnostic> => {
      formFailed = true
      // A limit (time, steps, memory, depth) ends the load's running of forms: what follows is only
      // read, expanded and compiled, so that a runaway form costs its limit once, not once per form.
      if (isLimit(e)) exhausted = true
      const l = located(e, span)
      const all = l instanceof SibRuntimeError
        ? [l.diagnostic, ...l.more]
        : [diagnostic("Runtime", "runtime/internal", e instanceof Error ? e.message : String(e), span)]
      return all.filter((d) => !followsFromFailure(d))
    }

    let lastValue: Value = null

    /** Evaluates a compiled top-level form at load time (running its effects, if any). */
    const evaluate = (node: (f: Frame) => unknown, span: Span) =>
      Effect.gen(function*() {
        let out: unknown
        loadRun.depth = 0
        try {
          out = node(top)
        } catch (e) {
          diagnostics.push(...runtimeDiagnostics(e, span))
          return false
        }
        if (isEffect(out)) {
          const exit = yield* Effect.exit(lift(out))
          if (exit._tag === "Failure") {
            diagnostics.push(...runtimeDiagnostics(Cause.squash(exit.cause), span))
            return false
          }
          lastValue = exit.value as Value
        } else {
          lastValue = out as Value
        }
        return true
      })

    const processFile = (file: string, text: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (files.loaded.has(resolve(file))) return
        files.loaded.add(resolve(file))
        if (files.tooMuchSource(file, text.length, nowhere(file))) return
        files.sourceLeft -= text.length
        texts.set(file, text)
        order.push(file)
        const result = read(text, file, { maxTokens: files.tokensLeft })
        files.tokensLeft -= result.tokens ?? 0
        // Reading is bounded by the source limits, not by the load's computing time: let the
        // event loop go round after it, so that only running the forms counts against maxBlockMs.
        yield* paced(clock, share, Effect.void)
        if (result.diagnostics.length > 0) {
          diagnostics.push(...result.diagnostics)
          return
        }
        for (const form of result.forms) {
          const name = declaredName(form)
          if (name !== undefined) ns.declare(name.name, name.span)
          if (S.headName(form) === "declare-host" && form.kind === "list") declareHost(form)
        }
        let since = clock.currentTimeMillisUnsafe()
        for (const form of result.forms) {
          yield* processTop(form, file)
          // Give the event loop back between forms every few milliseconds: a load never holds it
          // for more than one form past that.
          const now = clock.currentTimeMillisUnsafe()
          if (now - since >= yieldEveryMs) {
            yield* Effect.yieldNow
            since = clock.currentTimeMillisUnsafe()
          }
        }
      })

    const { declareHost, standInOrProblem } = hostDeclarations(ns, options.host, options.undeclaredHost, diagnostics)
    for (const name of options.declaredHost ?? []) standInOrProblem(name, nowhere("<--host>"))

    /** Set when the form being processed failed to run (its diagnostics may all follow from earlier failures). */
    let formFailed = false
    /** Set when a form hit a limit: later forms are not run (each would only fail the same way, or be slow). */
    let exhausted = false

    /**
     * Processes one top-level form. A form that fails does not stop the load: every form is read,
     * expanded, compiled and run so that one pass reports every error of a program (nothing is
     * started from a load with any). A failed definition's name is remembered so that its uses do
     * not report it again.
     */
    const processTop = (form: S.Syntax, file: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const before = diagnostics.length + compiler.diagnostics.length
        formFailed = false
        topExpansions = 0
        topRunaway = false
        yield* processTopForm(form, file, 0)
        if (formFailed || diagnostics.length + compiler.diagnostics.length > before) {
          const name = declaredName(form)
          if (name !== undefined) failedNames.add(name.name)
        }
      })

    /** Macro calls and `do`s one top-level form has opened (see `processTopForm`), and whether it opened too many. */
    let topExpansions = 0
    let topRunaway = false

    /**
     * One top-level form, `depth` macro calls and `do`s into what the file wrote: what a macro call
     * there expands into, and each form of a `do` there, is a top-level form too (as in Clojure: a
     * macro may define macros and tests, or several globals at once).
     */
    const processTopForm = (form: S.Syntax, file: string, depth: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        const head = S.headName(form)
        if (head === "declare-host" && form.kind === "list") {
          // Declared (and checked) before any form of its file ran: only as written in the file.
          if (depth > 0) {
            diagnostics.push(diagnostic("Compile", "compile/not-top-level", "declare-host belongs at the top level of a file, as written there (hosts are declared before any form runs, so a macro cannot make one)", form.span))
          }
          return
        }
        if (head === "require" && form.kind === "list") {
          const required = files.required(form, file)
          if (required !== undefined) yield* processFile(required.file, required.text)
          return
        }
        if (head === "defmacro" && form.kind === "list") {
          const [, name, params, ...body] = form.items
          if (name?.kind === "symbol") failedMacros.add(name.name)
          if (name?.kind !== "symbol" || params === undefined || (params.kind !== "vector" && params.kind !== "list")) {
            diagnostics.push(diagnostic("Compile", "compile/bad-shape", "defmacro needs a name and a parameter list", form.span, { hints: ["(defmacro name [params] body...) or (defmacro name (params) body...)"] }))
            return
          }
          // Parameter patterns, as fn takes them: plain names, destructured by a let around the body.
          const d = destructureParams(params, body, fresh)
          if (d !== undefined && !d.ok) {
            diagnostics.push(d.diagnostic)
            return
          }
          const expandedBody = expandAll(d === undefined ? body : d.value.body)
          if (expandedBody === undefined) return
          const before = compiler.diagnostics.length
          const node = compiler.compileFn(name.name, d === undefined ? params : d.value.params, expandedBody, form.span)
          if (compiler.diagnostics.length > before) return
          macros.set(name.name, node(top) as Closure)
          failedMacros.delete(name.name)
          return
        }
        if (head === "deftest" && form.kind === "list") {
          const [, name, ...body] = form.items
          if (name?.kind !== "string") {
            diagnostics.push(diagnostic("Compile", "compile/bad-shape", "deftest needs a name string first", form.span, { hints: ["(deftest \"what it checks\" body...)"] }))
            return
          }
          const expandedBody = expandAll(body)
          if (expandedBody === undefined) return
          const before = compiler.diagnostics.length
          const node = compiler.compileFn(name.value, S.vector([], form.span), expandedBody, form.span)
          if (compiler.diagnostics.length > before) return
          builder.tests.push({ name: name.value, body: node(top) as Callable, span: form.span })
          return
        }
        if (form.kind === "list" && (head === "do" || (head !== undefined && (macros.has(head) || (coreMacros.has(head) && !ns.isProgramGlobal(head)))))) {
          if (++topExpansions > maxTopExpansions || depth >= maxTopDepth) {
            if (!topRunaway) {
              topRunaway = true
              // As the expander says it of one form's expansions.
              diagnostics.push(diagnostic("Expand", "expand/runaway", `expanding this form took more than ${depth >= maxTopDepth ? `${maxTopDepth} nested` : maxTopExpansions.toLocaleString("en-US")} macro expansions (${head === "do" ? "a top-level do was opening" : `${head} was expanding`})`, form.span, {
                hints: ["a macro expands into a call of itself without end, or into several copies of a form that expands further"]
              }))
            }
            formFailed = true
            return
          }
          if (head === "do") {
            for (const sub of form.items.slice(1)) {
              if (exhausted) return
              yield* processTopForm(sub, file, depth + 1)
            }
            return
          }
          const once = expand(form, env, true)
          if (!once.ok) {
            diagnostics.push(...once.diagnostics)
            return
          }
          if (once.form !== form) return yield* processTopForm(once.form, file, depth + 1)
        }
        const expanded = expand(form, env)
        if (!expanded.ok) {
          diagnostics.push(...expanded.diagnostics)
          return
        }
        const before = compiler.diagnostics.length
        const node = compiler.compileTop(expanded.form)
        if (compiler.diagnostics.length > before || exhausted) return
        yield* evaluate(node, form.span)
      })

    const expandAll = (forms: ReadonlyArray<S.Syntax>): Array<S.Syntax> | undefined => {
      const out: Array<S.Syntax> = []
      for (const f of forms) {
        const e = expand(f, env)
        if (!e.ok) {
          diagnostics.push(...e.diagnostics)
          return undefined
        }
        out.push(e.form)
      }
      return out
    }

    const add = (source: Source | string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const entry = files.entry(source)
        return entry === undefined ? Effect.void : processFile(entry.file, entry.text)
      })

    /**
     * Every problem found, in file order, each once: a macro's expansion that repeats a mistake
     * (twenty deftests inside a let) is reported at the macro's call once, not twenty times.
     */
    const collected = () => {
      const seen = new Set<string>()
      const all = [...diagnostics, ...compiler.diagnostics].filter((d) => {
        if (usesFailedMacro(d)) return false
        const key = `${d.code}\u0000${d.message}\u0000${d.span.file}\u0000${d.span.offset}\u0000${d.span.endOffset}`
        if (seen.has(key)) return false
        seen.add(key)
        return true
      }).sort((a, b) =>
        a.span.file === b.span.file ? a.span.offset - b.span.offset : order.indexOf(a.span.file) - order.indexOf(b.span.file)
      )
      // A report a person can read: a macro making 40,000 different mistakes printed 8 MB.
      if (all.length <= maxReported) return all
      const last = all[maxReported - 1]!
      return [...all.slice(0, maxReported), diagnostic("Compile", "load/more-problems", `${(all.length - maxReported).toLocaleString("en-US")} more problems not shown (the first ${maxReported.toLocaleString("en-US")} are)`, last.span)]
    }

    const finish = Effect.suspend(() => {
      const all = collected()
      if (all.length > 0) return Effect.fail(new SibError({ diagnostics: all, sources: new Map(texts) }))
      return Effect.succeed({
        files: [...order],
        sources: texts,
        topics: [...builder.topics],
        subscriptions: [...builder.subscriptions],
        publishes: [...builder.publishes],
        timers: [...builder.timers],
        watches: [...builder.watches],
        tests: [...builder.tests],
        filterServices: builder.filterServices,
        namespace: ns
      } satisfies Program)
    })

    const evaluateText = (text: string, file: string): Effect.Effect<Value, SibError> =>
      Effect.gen(function*() {
        lastValue = null
        freshBudget()
        failedNames.clear()
        failedMacros.clear()
        exhausted = false
        files.sourceLeft = limits.maxSourceChars
        files.tokensLeft = limits.maxSourceTokens
        if (files.tooMuchSource(file, text.length, nowhere(file))) {
          const found = [...diagnostics]
          diagnostics.length = 0
          return yield* new SibError({ diagnostics: found, sources: new Map() })
        }
        const result = read(text, file, { maxTokens: files.tokensLeft })
        yield* paced(clock, share, Effect.void)
        texts.set(file, (texts.get(file) ?? "") + text)
        // Spans of evaluated text count from its own first line.
        const sources = new Map([...texts, [file, text]])
        if (result.diagnostics.length > 0) return yield* new SibError({ diagnostics: result.diagnostics, sources })
        for (const form of result.forms) {
          const name = declaredName(form)
          if (name !== undefined) ns.declare(name.name, name.span)
          if (S.headName(form) === "declare-host" && form.kind === "list") declareHost(form)
        }
        for (const form of result.forms) yield* processTop(form, file)
        const all = collected()
        if (all.length > 0) {
          diagnostics.length = 0
          compiler.diagnostics.length = 0
          return yield* new SibError({ diagnostics: all, sources })
        }
        return lastValue
      })

    return { add, evaluate: evaluateText, finish } satisfies Loader
  })

/** Loads a whole program from files (or texts): all or nothing. */
export const loadProgram = (sources: ReadonlyArray<Source | string>, options: LoadOptions = {}): Effect.Effect<Program, SibError> =>
  Effect.gen(function*() {
    const loader = yield* createLoader(options)
    for (const source of sources) yield* loader.add(source)
    return yield* loader.finish
  })

export type { HostObject, Source }
export { type HostFunction, type HostValue, HostValueError, hostEntry, hostFunction, hostObject } from "../lang/host.ts"
