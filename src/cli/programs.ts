/**
 * `sib check` and `sib test`: the `.sib` files given on the command line, loaded (read, expanded,
 * compiled) without touching any database; `check` reports diagnostics, `test` runs `deftest`s.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { Argument, Command, Flag } from "effect/cli"
import { existsSync, statSync } from "node:fs"
import { loadProgram } from "../program/load.ts"
import type { Program } from "../program/Program.ts"
import { renderTestReport, runTests } from "../program/testRunner.ts"
import { SibError } from "../diagnostics/Diagnostic.ts"
import { diagnosticJson } from "../diagnostics/render.ts"
import { CliFailure, err, failWith, out, useColor } from "./shared.ts"

export const filesArgument = Argument.String("files").pipe(
  Argument.withDescription(".sib files (their requires are loaded too)"),
  Argument.variadic({ min: 1 })
)

/** Every file must exist and be a file: a missing one is a usage error, not a diagnostic. */
export const checkFilesExist = (files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (const file of files) {
      if (!existsSync(file)) return yield* failWith(`${file}: no such file`)
      if (statSync(file).isDirectory()) return yield* failWith(`${file} is a directory: pass .sib files (e.g. ${file}/main.sib)`)
    }
  })

/** Loads the files; on diagnostics prints them on stderr and fails with exit code 1. */
export const loadOrReport = (files: ReadonlyArray<string>): Effect.Effect<Program, CliFailure> =>
  Effect.gen(function*() {
    yield* checkFilesExist(files)
    return yield* loadProgram(files).pipe(
      Effect.catchTag("SibError", (error) =>
        Effect.andThen(
          err(error.render({ color: useColor(process.stderr) })),
          Effect.fail(new CliFailure({ message: summary(error), exitCode: 1, reported: true }))
        ))
    )
  })

const summary = (error: SibError) => `${error.diagnostics.length} error${error.diagnostics.length === 1 ? "" : "s"}; nothing was started`

export const check = Command.make(
  "check",
  {
    files: filesArgument,
    format: Flag.Literals("format", ["text", "json"]).pipe(
      Flag.withDescription("text: rendered for people (stderr); json: one diagnostic object per line (stdout)"),
      Flag.withDefault("text")
    )
  },
  Effect.fn(function*({ files, format }) {
    yield* checkFilesExist(files)
    const exit = yield* Effect.exit(loadProgram(files))
    if (Exit.isSuccess(exit)) {
      const p = exit.value
      if (format === "text") {
        yield* err(`ok: ${p.files.length} file(s), ${p.topics.length} topic(s), ${p.subscriptions.length} group(s), ${p.timers.length} timer(s), ${p.tests.length} test(s)`)
      }
      return
    }
    const error = Cause.squash(exit.cause) as SibError
    if (format === "json") {
      for (const d of error.diagnostics) yield* out(JSON.stringify(diagnosticJson(d)))
    } else {
      yield* err(error.render({ color: useColor(process.stderr) }))
    }
    return yield* Effect.fail(new CliFailure({ message: summary(error), exitCode: 1, reported: format === "json" }))
  })
).pipe(
  Command.withDescription("Read, expand and compile .sib files without starting anything (exit 1 on any error)"),
  Command.withExamples([
    { command: "sib check dsl-examples/main.sib", description: "check a program and everything it requires" },
    { command: "sib check app.sib --format json", description: "diagnostics as JSON lines, for editors and CI" }
  ])
)

export const test = Command.make(
  "test",
  {
    files: filesArgument,
    match: Flag.String("match").pipe(Flag.withDescription("run only tests whose name contains this text"), Flag.optional)
  },
  Effect.fn(function*({ files, match }) {
    const program = yield* loadOrReport(files)
    const filter = match._tag === "Some" ? (name: string) => name.includes(match.value) : undefined
    const report = yield* runTests(program, { filter })
    yield* out(renderTestReport(report, { color: useColor(process.stdout) }))
    if (report.failed > 0) return yield* Effect.fail(new CliFailure({ message: `${report.failed} test(s) failed`, exitCode: 1, reported: true }))
  })
).pipe(
  Command.withDescription("Run the deftests of .sib files, each on a fresh in-memory bus under a test clock"),
  Command.withExamples([{ command: "sib test dsl-examples/main.sib", description: "one line per test, then N passed, N failed" }])
)
