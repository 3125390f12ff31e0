/**
 * Where a Promise runtime's log lines go: by default Effect's console logger; with
 * `createRuntime({ logger })`, a function of the application's (its own logger, pino, a test's
 * array), so the bus's warnings (a group restarting, a lease taken over, a retention pass) reach
 * wherever the application logs.
 */
import * as Cause from "effect/Cause"
import * as Logger from "effect/Logger"

/** One log line of the runtime. */
export interface LogEntry {
  readonly level: "fatal" | "error" | "warn" | "info" | "debug" | "trace"
  readonly message: string
  readonly time: Date
  /** The failure the line is about, rendered (with its stack), when there is one. */
  readonly cause?: string | undefined
}

export type LogFunction = (entry: LogEntry) => void

const levels: Record<string, LogEntry["level"]> = {
  Fatal: "fatal", Error: "error", Warn: "warn", Info: "info", Debug: "debug", Trace: "trace"
}

const text = (message: unknown): string =>
  Array.isArray(message) ? message.map(text).join(" ") : typeof message === "string" ? message : String(message)

/** A layer sending every log line to `log` instead of the console; a throwing `log` loses only its line. */
export const logTo = (log: LogFunction) =>
  Logger.layer([Logger.make((options) => {
    const entry: LogEntry = {
      level: levels[options.logLevel] ?? "info",
      message: text(options.message),
      time: options.date,
      ...(options.cause.reasons.length === 0 ? {} : { cause: Cause.pretty(options.cause) })
    }
    try {
      log(entry)
    } catch {
      // The application's logger failed: the runtime carries on.
    }
  })])
