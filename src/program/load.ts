/**
 * Loading a program: files in, a `Program` out, all or nothing. Each file is read, its top-level
 * names are declared up front (so functions may refer to names defined further down), and then
 * each top-level form is, in order, expanded (user macros run here), compiled, and evaluated in
 * load mode, where domain forms register topics, groups, publishes and timers into a builder.
 * `(require "x.sib")` loads another file relative to the current one, once, and only from inside
 * the program's folder (the entry file's, symlinks resolved). The whole load (every top-level form
 * and every macro expansion) spends one budget. Every diagnostic found is reported; if there is
 * any, the load fails with `SibError` and nothing is registered.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { realpathSync, statSync } from "node:fs"
import { dirname, isAbsolute, relative, resolve } from "node:path"
import { fileProblem, inside, readSourceFile, TooLarge } from "./sourceFiles.ts"
import { type Diagnostic, diagnostic, SibError, SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import { type ExpandEnv, expand, fresh } from "../expand/expand.ts"
import { destructureParams } from "../lang/destructure.ts"
import { read } from "../reader/read.ts"
import * as S from "../reader/Syntax.ts"
import type { Callable, FormBudget, HostObject, Value } from "../reader/Value.ts"
import { toCallable } from "../lang/builtins.ts"
import type { Closure } from "../lang/Closure.ts"
import { makeCompiler } from "../lang/compile.ts"
import { specialForms } from "../lang/specials.ts"
import { hostEntry, type HostValue, HostValueError } from "../lang/host.ts"
import { Namespace } from "../lang/Namespace.ts"
import { coreBuiltins, protectedBuiltins } from "../lang/core.ts"
import { busObject, domainBuiltins, hostStandIn } from "./domain.ts"
import { type Program, ProgramBuilder } from "./Program.ts"
import { defaultLimits, type Frame, isEffect, isLimit, type Limits, limitsProblem, lift, loadBudget, located, makeRun } from "../lang/run.ts"
import { paced, Share } from "../lang/turns.ts"
import { testingBuiltins } from "./testing.ts"
import { sourceProblem } from "./sources.ts"

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

export interface Source {
  readonly file: string
  /** The text; read from `file` when absent. */
  readonly text?: string | undefined
}

/**
 * The namespace a program starts from: the language's built-ins, `bus`, and the host's names. A
 * host value the language cannot take is left out and described in `problems` (when given; else
 * its `HostValueError` is thrown).
 */
const baseNamespace = (host: LoadOptions["host"], problems?: Array<string>): Namespace => {
  const entries: Array<readonly [string, unknown, string | undefined]> = []
  for (const b of [...coreBuiltins, ...domainBuiltins, ...testingBuiltins.filter((t) => !t.name.startsWith("sib/"))]) {
    entries.push([b.name, toCallable(b), b.doc])
  }
  entries.push(["bus", busObject, "The bus: (.publish bus topic payload options) and (.subscribe bus topic group handler options)."])
  for (const [name, v] of Object.entries(host ?? {})) {
    try {
      entries.push([name, hostEntry(name, v), "registered by the application"])
    } catch (e) {
      if (!(e instanceof HostValueError) || problems === undefined) throw e
      problems.push(e.message)
    }
  }
  const protectedEntries = [...protectedBuiltins, ...testingBuiltins.filter((t) => t.name.startsWith("sib/"))]
    .map((b) => [b.name, toCallable(b)] as const)
  return new Namespace(entries, protectedEntries)
}

/** The doc of a declared host function's stand-in (`sib check`, `sib test`). */
const standInDoc = "a host function the program declares (declare-host); a stand-in that logs its call and returns nil here"

/** How a file is named in spans and messages: relative to the working directory when inside it. */
const displayName = (absolute: string): string => {
  const rel = relative(process.cwd(), absolute)
  return rel.length > 0 && !rel.startsWith("..") && !isAbsolute(rel) ? rel : absolute
}

/** How often a load gives the event loop back between top-level forms. */
const yieldEveryMs = 10

/** A file's first position, for diagnostics about the file as a whole. */
const nowhere = (file: string): Span => ({ file, line: 1, column: 1, endLine: 1, endColumn: 1, offset: 0, endOffset: 0 })

const realOrSelf = (path: string): string => {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

const realRoot = (root: string): string => realOrSelf(root)

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
    const readFile = options.readFile ?? ((p: string) => readSourceFile(p, maxSourceBytes()))
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
    const loaded = new Set<string>()
    /** The folder each loaded file's requires are confined to: its entry file's (real) folder. */
    const roots = new Map<string, string>()
    const onDisk = options.readFile === undefined

    /**
     * Where `(require "p")` in `from` leads, if it stays inside `root`: a relative path, resolved
     * lexically and then (on disk) through symlinks, to a `.sib` file under the root's real path.
     */
    const confine = (p: string, from: string, root: string): string | { readonly problem: string } => {
      if (isAbsolute(p)) return { problem: `require takes a path relative to the requiring file, not an absolute path (${JSON.stringify(p)})` }
      const target = resolve(dirname(resolve(from)), p)
      if (!inside(target, root)) return { problem: `require of ${JSON.stringify(p)} leads outside the program's folder` }
      if (!onDisk) return target
      let real: string
      try {
        real = realpathSync(target)
      } catch {
        // Missing: reported by the read that follows, with its reason.
        return target
      }
      if (!inside(real, realRoot(root))) return { problem: `require of ${JSON.stringify(p)} is a link to a file outside the program's folder` }
      if (!real.endsWith(".sib")) return { problem: `require of ${JSON.stringify(p)} is a link to a file that is not a .sib file` }
      return real
    }
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

    /** Characters of source this load may still read (every file together). */
    let sourceLeft = limits.maxSourceChars
    /** Tokens this load may still read. */
    let tokensLeft = limits.maxSourceTokens
    const tooMuchSource = (file: string, size: number, at: Span): boolean => {
      if (size <= sourceLeft) return false
      diagnostics.push(diagnostic("Compile", "compile/source-size", `${file} (${size.toLocaleString("en-US")} characters) would take the program's source over the limit of ${limits.maxSourceChars.toLocaleString("en-US")} characters (maxSourceChars)`, at, {
        hints: ["a program's files are code: keep large data in events or in the application"]
      }))
      return true
    }
    /**
     * The most bytes a file may hold and still fit in the characters left: UTF-8 takes at most 3
     * bytes for each UTF-16 unit of the text (4 for a pair). The text read is then measured in
     * characters (`processFile`).
     */
    const maxSourceBytes = () => 3 * sourceLeft
    /** The file's size on disk when it is too large to read at all (checked before reading). */
    const tooLargeOnDisk = (path: string, shown: string, at: Span): boolean => {
      if (!onDisk) return false
      try {
        const bytes = statSync(path).size
        return bytes > maxSourceBytes() && tooManyBytes(shown, at)
      } catch {
        return false
      }
    }
    const tooManyBytes = (file: string, at: Span): true => {
      diagnostics.push(diagnostic("Compile", "compile/source-size", `${file} (more than ${maxSourceBytes().toLocaleString("en-US")} bytes) would take the program's source over the limit of ${limits.maxSourceChars.toLocaleString("en-US")} characters (maxSourceChars)`, at, {
        hints: ["a program's files are code: keep large data in events or in the application"]
      }))
      return true
    }

    const processFile = (file: string, text: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (loaded.has(resolve(file))) return
        loaded.add(resolve(file))
        if (tooMuchSource(file, text.length, nowhere(file))) return
        sourceLeft -= text.length
        texts.set(file, text)
        order.push(file)
        const result = read(text, file, { maxTokens: tokensLeft })
        tokensLeft -= result.tokens ?? 0
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

    const hostNames = new Set(Object.keys(options.host ?? {}))
    /**
     * `(declare-host name ...)`: the program uses these host functions. A host gives each (checked
     * here, before any form runs); else it is a stand-in where the loader allows (`sib check`,
     * `sib test`), and an error otherwise.
     */
    const declareHost = (form: S.SList) => {
      const names = form.items.slice(1)
      if (names.length === 0) {
        diagnostics.push(diagnostic("Compile", "compile/bad-shape", "declare-host names the host functions the program uses", form.span, { hints: ["(declare-host send-email call-model)"] }))
      }
      for (const n of names) {
        if (n.kind !== "symbol") {
          diagnostics.push(diagnostic("Compile", "compile/bad-shape", "declare-host takes names (symbols), not values", n.span, { hints: ["(declare-host send-email call-model)"] }))
          continue
        }
        standInOrProblem(n.name, n.span)
      }
    }
    const standInOrProblem = (name: string, span: Span) => {
      if (hostNames.has(name)) return
      const existing = ns.lookup(name)
      if (existing !== undefined && existing.kind === "builtin" && existing.doc !== standInDoc) {
        diagnostics.push(diagnostic("Compile", "compile/host", `${name} is a built-in of the language, not a host function`, span, { hints: ["host functions have names of their own"] }))
        return
      }
      if (existing !== undefined && existing.kind !== "builtin") {
        diagnostics.push(diagnostic("Compile", "compile/host", `${name} is declared as a host function and defined by the program`, span))
        return
      }
      // Without a host, the name still stands for something, so its uses are not reported again.
      ns.cells.set(name, { name, value: hostStandIn(name), kind: "builtin", span, doc: standInDoc })
      if ((options.undeclaredHost ?? "error") === "stand-in") return
      diagnostics.push(diagnostic("Compile", "compile/host", `the program uses the host function ${name}, which the application does not register`, span, {
        hints: [`register it before loading (registerHost("${name}", fn), or the host option), or check and test the program with sib check / sib test`]
      }))
    }
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
        yield* processTopForm(form, file)
        if (formFailed || diagnostics.length + compiler.diagnostics.length > before) {
          const name = declaredName(form)
          if (name !== undefined) failedNames.add(name.name)
        }
      })

    const processTopForm = (form: S.Syntax, file: string): Effect.Effect<void> =>
      Effect.gen(function*() {
        const head = S.headName(form)
        // Declared (and checked) before any form of its file ran.
        if (head === "declare-host" && form.kind === "list") return
        if (head === "require" && form.kind === "list") {
          const path = form.items[1]
          if (path?.kind !== "string" || form.items.length !== 2) {
            diagnostics.push(diagnostic("Compile", "compile/bad-shape", "require takes one file name string", form.span, { hints: ["(require \"topics.sib\")"] }))
            return
          }
          if (!path.value.endsWith(".sib")) {
            diagnostics.push(diagnostic("Compile", "compile/require", `require loads .sib files only, not ${JSON.stringify(path.value)}`, path.span, {
              hints: ["functions of the embedding application are registered by name (registerHost), not required"]
            }))
            return
          }
          const root = roots.get(file) ?? dirname(resolve(file))
          const target = confine(path.value, file, root)
          if (typeof target !== "string") {
            diagnostics.push(diagnostic("Compile", "compile/require", target.problem, path.span, {
              hints: [`a program requires files from its own folder (${displayName(root)}) and the folders under it, by a relative path`]
            }))
            return
          }
          if (loaded.has(target)) return
          if (tooLargeOnDisk(target, path.value, path.span)) return
          let text: string
          try {
            text = onDisk ? readSourceFile(target, maxSourceBytes(), realRoot(root)) : readFile(target)
          } catch (e) {
            if (e instanceof TooLarge) {
              tooManyBytes(path.value, path.span)
              return
            }
            diagnostics.push(diagnostic("Compile", "compile/require", `cannot read ${path.value}: ${fileProblem(e)}`, path.span, {
              hints: ["the path is relative to the file that requires it"]
            }))
            return
          }
          const name = displayName(target)
          roots.set(name, root)
          yield* processFile(name, text)
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
        const problem = sourceProblem(source)
        if (problem !== undefined) {
          diagnostics.push(diagnostic("Compile", "compile/source", problem, nowhere("<sources>"), {
            hints: ["a source is a file path, or { file, text } (the text given, file naming it in messages)"]
          }))
          return Effect.void
        }
        const s = typeof source === "string" ? { file: source } : source
        const file = s.text === undefined ? displayName(resolve(s.file)) : s.file
        let text = s.text
        if (text === undefined) {
          // A program's own file is read only if it is a .sib file (after links): a diagnostic
          // never shows lines of anything else.
          const real = onDisk ? realOrSelf(resolve(file)) : resolve(file)
          if (!real.endsWith(".sib")) {
            diagnostics.push(diagnostic("Compile", "compile/file", `${s.file} is not a .sib file${real !== resolve(file) ? ` (it links to ${displayName(real)})` : ""}`, nowhere(s.file), {
              hints: ["programs are .sib files"]
            }))
            return Effect.void
          }
          roots.set(file, dirname(resolve(file)))
          if (tooLargeOnDisk(resolve(file), s.file, nowhere(s.file))) return Effect.void
          try {
            text = readFile(resolve(file))
          } catch (e) {
            if (e instanceof TooLarge) {
              tooManyBytes(s.file, nowhere(s.file))
              return Effect.void
            }
            diagnostics.push(diagnostic("Compile", "compile/file", `cannot read ${s.file}: ${fileProblem(e)}`, nowhere(s.file)))
            return Effect.void
          }
        } else {
          roots.set(file, dirname(resolve(file)))
        }
        return processFile(file, text)
      })

    const collected = () =>
      [...diagnostics, ...compiler.diagnostics].filter((d) => !usesFailedMacro(d)).sort((a, b) =>
        a.span.file === b.span.file ? a.span.offset - b.span.offset : order.indexOf(a.span.file) - order.indexOf(b.span.file)
      )

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
        sourceLeft = limits.maxSourceChars
        tokensLeft = limits.maxSourceTokens
        if (tooMuchSource(file, text.length, nowhere(file))) {
          const found = [...diagnostics]
          diagnostics.length = 0
          return yield* new SibError({ diagnostics: found, sources: new Map() })
        }
        const result = read(text, file, { maxTokens: tokensLeft })
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

export type { HostObject }
export { type HostFunction, type HostValue, HostValueError, hostEntry, hostFunction, hostObject } from "../lang/host.ts"
