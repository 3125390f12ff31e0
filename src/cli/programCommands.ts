/**
 * `sib check` and `sib test`: the `.sib` files given on the command line (a directory stands for
 * the `.sib` files directly in it), loaded (read, expanded, compiled) without touching any
 * database; `check` reports diagnostics, `test` runs `deftest`s and fails when none ran.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Argument, Command, Flag } from "effect/cli"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { type LoadOptions, loadProgram } from "../program/load.ts"
import type { Program } from "../program/Program.ts"
import { renderTestReport, runTests } from "../program/testRunner.ts"
import { SibError } from "../diagnostics/Diagnostic.ts"
import { diagnosticJson } from "../diagnostics/render.ts"
import { jsonText } from "../diagnostics/terminal.ts"
import { CliFailure, err, failWith, out, useColor } from "./shared.ts"

export const filesArgument = Argument.String("files").pipe(
  Argument.withDescription(".sib files (their requires are loaded too)"),
  Argument.variadic({ min: 1 })
)

/** Every file must exist and be a file: a missing one is a usage error, not a diagnostic. */
const checkFilesExist = (files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (const file of files) {
      if (!existsSync(file)) return yield* failWith(`${file}: no such file`)
      if (statSync(file).isDirectory()) return yield* failWith(`${file} is a directory: pass .sib files (e.g. ${file}/main.sib)`)
    }
  })

/**
 * `--host name` (repeatable, or names separated by commas): host functions the program uses, as if
 * it declared them with `declare-host`. `sib check` and `sib test` run without the application, so
 * a declared host function is a stand-in there: it logs its call and returns nil.
 */
const hostFlag = Flag.String("host").pipe(
  Flag.withDescription("a host function the program uses (repeatable, or names separated by commas); like (declare-host name) in the program: a stand-in here that logs its call and returns nil"),
  Flag.atLeast(0)
)

/** The load options of `sib check` and `sib test`: declared host functions are stand-ins. */
const checkingLoad = (hosts: ReadonlyArray<string>): LoadOptions => ({
  declaredHost: hosts.flatMap((h) => h.split(",")).map((h) => h.trim()).filter((h) => h.length > 0),
  undeclaredHost: "stand-in"
})

/** Loads the files; on diagnostics prints them on stderr and fails with exit code 1. */
export const loadOrReport = (files: ReadonlyArray<string>, options: LoadOptions = {}): Effect.Effect<Program, CliFailure> =>
  Effect.gen(function*() {
    yield* checkFilesExist(files)
    return yield* loadProgram(files, options).pipe(
      Effect.catchTag("SibError", (error) =>
        Effect.andThen(
          err(error.render({ color: useColor(process.stderr) })),
          Effect.fail(new CliFailure({ message: summary(error), exitCode: 1, reported: true }))
        ))
    )
  })

/**
 * The files of `sib check` and `sib test`: each file as given, and each directory as the `.sib`
 * files directly in it (not its subfolders), in name order. A file another one requires is loaded
 * once however it is reached. A missing path, or a directory without `.sib` files, is a usage error.
 */
const expandFiles = (paths: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<string>, CliFailure> =>
  Effect.gen(function*() {
    const out: Array<string> = []
    for (const path of paths) {
      if (!existsSync(path)) return yield* failWith(`${path}: no such file`)
      if (!statSync(path).isDirectory()) {
        out.push(path)
        continue
      }
      const files = readdirSync(path, { withFileTypes: true })
        .filter((e) => e.name.endsWith(".sib") && (e.isFile() || (e.isSymbolicLink() && statSync(join(path, e.name), { throwIfNoEntry: false })?.isFile() === true)))
        .map((e) => join(path, e.name))
        .sort()
      if (files.length === 0) return yield* failWith(`${path} is a directory without .sib files`)
      out.push(...files)
    }
    return out
  })

const summary = (error: SibError) => `${error.diagnostics.length} error${error.diagnostics.length === 1 ? "" : "s"}; nothing was started`

export const check = Command.make(
  "check",
  {
    files: filesArgument,
    host: hostFlag,
    format: Flag.Literals("format", ["text", "json"]).pipe(
      Flag.withDescription("text: rendered for people (stderr); json: one diagnostic object per line (stdout)"),
      Flag.withDefault("text")
    )
  },
  Effect.fn(function*({ files: paths, host, format }) {
    const files = yield* expandFiles(paths)
    const exit = yield* Effect.exit(loadProgram(files, checkingLoad(host)))
    if (Exit.isSuccess(exit)) {
      const p = exit.value
      if (format === "text") {
        yield* err(`ok: ${p.files.length} file(s), ${p.topics.length} topic(s), ${p.subscriptions.length} group(s), ${p.timers.length} timer(s), ${p.tests.length} test(s)`)
      }
      return
    }
    const error = Cause.squash(exit.cause) as SibError
    if (format === "json") {
      for (const d of error.diagnostics) yield* out(jsonText(diagnosticJson(d)))
    } else {
      yield* err(error.render({ color: useColor(process.stderr) }))
    }
    return yield* Effect.fail(new CliFailure({ message: summary(error), exitCode: 1, reported: format === "json" }))
  })
).pipe(
  Command.withDescription("Read, expand and compile .sib files (a directory: its .sib files) without starting anything (exit 1 on any error)"),
  Command.withExamples([
    { command: "sib check dsl-examples/main.sib", description: "check a program and everything it requires" },
    { command: "sib check dsl-examples", description: "check every .sib file of a folder, as one program" },
    { command: "sib check app.sib --format json", description: "diagnostics as JSON lines, for editors and CI" },
    { command: "sib check app.sib --host send-email", description: "a program that calls a function its application registers" }
  ])
)

export const test = Command.make(
  "test",
  {
    files: filesArgument,
    host: hostFlag,
    match: Flag.String("match").pipe(Flag.withDescription("run only tests whose name contains this text"), Flag.optional),
    logs: Flag.Boolean("logs").pipe(Flag.withDescription("show the log lines of passing tests too (those of failing tests are always shown)"), Flag.withDefault(false))
  },
  Effect.fn(function*({ files: paths, host, match, logs }) {
    const files = yield* expandFiles(paths)
    const program = yield* loadOrReport(files, checkingLoad(host))
    if (program.tests.length === 0) {
      return yield* Effect.fail(new CliFailure({ message: `no tests ran: ${files.join(" ")} define${files.length === 1 ? "s" : ""} no deftest`, exitCode: 1 }))
    }
    const filter = match._tag === "Some" ? (name: string) => name.includes(match.value) : undefined
    const report = yield* runTests(program, { filter })
    if (report.results.length === 0) {
      const count = program.tests.length
      return yield* Effect.fail(new CliFailure({
        message: `no tests ran: no test name contains ${JSON.stringify(match._tag === "Some" ? match.value : "")} (of ${count} test${count === 1 ? "" : "s"})`,
        exitCode: 1
      }))
    }
    yield* out(renderTestReport(report, { color: useColor(process.stdout), logs: logs ? "all" : "failed" }))
    if (report.failed > 0) return yield* Effect.fail(new CliFailure({ message: `${report.failed} test(s) failed`, exitCode: 1, reported: true }))
  })
).pipe(
  Command.withDescription("Run the deftests of .sib files (a directory: its .sib files), each on a fresh in-memory bus under a test clock; exit 1 when a test fails or none ran"),
  Command.withExamples([
    { command: "sib test dsl-examples", description: "the tests of every .sib file in the folder: one line per test, then N passed, N failed" },
    { command: "sib test app.sib --match projector --logs", description: "only tests whose name contains projector, with their log lines" }
  ])
)
