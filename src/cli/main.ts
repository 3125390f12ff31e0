/**
 * The `sib` command line (`bin/sib.js` runs this). Commands are `effect/cli` commands run by
 * `NodeRuntime.runMain`: SIGINT/SIGTERM interrupt the command and its finalizers run (a running
 * program drains and commits), after which `sib run` and `sib tail -f` exit 0 and any other
 * command 130/143 (it did not finish); a second signal exits at once.
 * Usage errors print one line on stderr and exit 2; help and version go to stdout.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Runtime from "effect/Runtime"
import { CliError, CliOutput, Command } from "effect/cli"
import { readFileSync } from "node:fs"
import { safeLines, safeText } from "../diagnostics/terminal.ts"
import { check, test } from "./programCommands.ts"
import { event } from "./eventCommand.ts"
import { trace } from "./traceCommand.ts"
import { publish, tail } from "./publishTailCommands.ts"
import { dlq, groups, replay, topics } from "./inspectCommands.ts"
import { compact, prune } from "./maintenanceCommands.ts"
import { run } from "./runCommand.ts"
import { CliFailure, root } from "./shared.ts"
import { liveLine } from "./status.ts"

const version = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version

const cli = root.pipe(Command.withSubcommands([run, check, test, publish, tail, event, trace, topics, groups, dlq, replay, compact, prune]))

/** A parse error as one line: what is wrong, a suggestion when there is one, and where to look. */
const oneLine = (error: CliError.NonShowHelpErrors, path: ReadonlyArray<string>): string => {
  const first = error.message.split("\n")[0]!
  const suggestions = "suggestions" in error && error.suggestions.length > 0 ? ` (did you mean ${error.suggestions.join(" or ")}?)` : ""
  return safeText(`sib: ${first}${suggestions}; see ${path.join(" ")} --help`)
}

const presenter = CliOutput.layerPresenter({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.sync(() => {
        for (const e of event.errors) process.stderr.write(`${oneLine(e, event.commandPath)}\n`)
      })
      : CliOutput.defaultPresenter.present(event)
})

/**
 * Log lines on stderr, written above the live status line when there is one. The message (a `.sib`
 * program's `log`, or a warning quoting a handler's error) is escaped for the terminal and kept on
 * one line; a cause keeps its lines, each escaped.
 */
const logger = Logger.make((options) => {
  const parts = Array.isArray(options.message) ? options.message : [options.message]
  const text = safeText(parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" "))
  const cause = options.cause.reasons.length > 0 ? ` ${safeLines(Cause.pretty(options.cause))}` : ""
  liveLine.write(`${options.date.toISOString().slice(11, 23)} ${options.logLevel.toUpperCase()} ${text}${cause}\n`)
})

// A reader that stops early (`sib tail ... | head`) closes stdout: that ends the command quietly.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(0)
  throw e
})

let signals = 0
let firstSignal: NodeJS.Signals | undefined
const onSignal = (signal: NodeJS.Signals) => {
  signals++
  firstSignal ??= signal
  if (signals === 2) {
    liveLine.write("sib: second signal, exiting now\n")
    liveLine.end()
    process.exit(130)
  }
  if (signals === 1 && liveLine.stopNotice !== undefined) liveLine.write(`${liveLine.stopNotice}\n`)
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

/**
 * `--wizard` asks its questions on a terminal: without one it would print "Wizard cancelled." and
 * exit 0, as if the user had cancelled.
 */
const wizardWithoutTerminal = process.argv.slice(2).includes("--wizard") && process.stdin.isTTY !== true
  ? Effect.fail(new CliFailure({ message: "--wizard asks its questions on a terminal, and stdin is not one", exitCode: 2 }))
  : undefined

const program = (wizardWithoutTerminal ?? Command.run(cli, { version })).pipe(
  Effect.catchTag("ShowHelp", (help) =>
    help.errors.length === 0 ? Effect.void : Effect.fail(new CliFailure({ message: "invalid invocation", exitCode: 2, reported: true }))),
  Effect.tapError((e) => (e instanceof CliFailure && e.reported !== true ? Effect.sync(() => liveLine.write(`sib: ${safeText(e.message)}\n`)) : Effect.void)),
  Effect.provide(Layer.mergeAll(NodeServices.layer, presenter, Logger.layer([logger]))),
  Effect.provideService(Logger.LogToStderr, true)
)

/**
 * Exits once what was written to stdout and stderr has been handed to them: `process.exit` drops
 * writes still queued for a pipe (`sib check ... | less` lost all but the first 64 KiB of a long
 * report, its summary line included). An empty write's callback runs after the writes before it.
 */
const exitAfterOutput = (onExit: (code: number) => void) => (code: number) => {
  let pending = 2
  const done = () => {
    if (--pending === 0) onExit(code)
  }
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || stream.writableEnded) done()
    else stream.write("", done)
  }
}

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, exitNow) => {
    const onExit = exitAfterOutput(exitNow)
    // Stopped by a signal: success for a command a signal ends (after a clean drain), else the
    // signal's usual exit code (130 for SIGINT, 143 for SIGTERM).
    if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) && signals > 0) {
      if (liveLine.signalEndsNormally) return onExit(0)
      // Cut short (a check, a publish, a run still starting): say so, not only by the exit code.
      liveLine.write(`sib: stopped by ${firstSignal ?? "a signal"} before the command finished\n`)
      return onExit(firstSignal === "SIGTERM" ? 143 : 130)
    }
    if (Exit.isFailure(exit)) {
      const error = Cause.squash(exit.cause)
      if (!(error instanceof CliFailure)) process.stderr.write(`sib: ${safeText(error instanceof Error ? error.message : String(error))}\n`)
      return onExit(error instanceof CliFailure ? error.exitCode : 1)
    }
    return Runtime.defaultTeardown(exit, onExit)
  }
})
