/**
 * Time in a program: `every!` and `after!` declare timers at the top level (run on the runtime's
 * Clock, in one process of those running the program on a database, when it starts), and
 * `sleep!` pauses a handler, a timer or a test (a test's sleep moves its test clock).
 */
import * as Effect from "effect/Effect"
import { type Callable, isCallable, typeName } from "../reader/Value.ts"
import { type Builtin, builtin } from "../lang/builtins.ts"
import { collecting, failOn } from "./callErrors.ts"
import { arityProblem, durationMs, running, services, topLevel } from "./domainOperands.ts"
import { fail, failAll, LangError } from "../lang/langError.ts"

export const sleep = builtin({
  name: "sleep!", group: "domain", arglists: ["[interval]"],
  doc: "Pauses the running handler, timer or test for the interval (milliseconds, or \"500ms\", \"5s\", \"2m\", \"1h\") on the runtime's Clock. In a test body it moves the test clock, as advance! does; a handler sleeping in a test wakes when the test advances the clock. A handler's pause counts toward its ack timeout.",
  example: "(sleep! \"250ms\")",
  modes: running, modeHint: "sleep! pauses a handler, a timer or a test",
  impl: ([interval], run) => {
    const ms = durationMs(interval!, "sleep!")
    // A test body drives the test clock itself: sleeping there means moving it (as advance! does).
    if (run.mode === "test") return Effect.as((run.services as { readonly test: { readonly advance: (ms: number) => Effect.Effect<void> } }).test.advance(ms), null)
    return Effect.as(Effect.sleep(ms), null)
  }
})

/** The shortest interval of an `every!` timer: a timer cannot keep the process busy by itself. */
const minTimerIntervalMs = 10

export const timer = (kind: "every" | "after"): Builtin => builtin({
  name: `${kind}!`, group: "domain", arglists: ["[interval f]"],
  doc: kind === "every"
    ? "Calls f (with no arguments) every interval (milliseconds, or \"500ms\", \"5s\", \"2m\", \"1h\"; at least 10 ms) while the program runs; on the runtime's Clock, so tests drive it with advance!. Processes running the same program on one database share it: it fires in one of them at a time, the others stand by and take over when that one stops."
    : "Calls f (with no arguments) once, interval after the program starts (in one of the processes running the program on one database; a process that takes the timer over runs it again).",
  example: `(${kind}! "5s" (fn [] (publish! "tick" {:at (now)})))`,
  modes: topLevel, modeHint: "declare timers at the top level of a program",
  impl: ([interval, f], run, span) => {
    // The interval and the function are both checked, each error under the argument it is about.
    const errors: Array<LangError> = []
    const ms = collecting(errors, () => {
      const ms = durationMs(interval!, `${kind}!`)
      if (kind === "every" && ms < minTimerIntervalMs) {
        fail("duration", `every!: an interval of ${ms} ms is under the minimum of ${minTimerIntervalMs} ms`, [`use "${minTimerIntervalMs}ms" or more`])
      }
      return ms
    }, { argument: 0 })
    if (!isCallable(f)) collecting(errors, () => failOn({ argument: 1 }, "type", `${kind}!: expected a function of no arguments, got ${typeName(f!)}`))
    const problem = isCallable(f) ? arityProblem(f, 0) : undefined
    if (problem !== undefined) {
      collecting(errors, () => failOn({ argument: 1 }, "arity", `${kind}!: a timer calls its function with no arguments, but ${problem}`, [`write it as (fn [] ...)`]))
    }
    if (errors.length > 0 || ms === undefined) return failAll(errors)
    const builder = services(run).builder!
    if (builder.timers.length >= run.limits.maxTimers) fail("timer", `${kind}!: a program has at most ${run.limits.maxTimers} timers (maxTimers)`, ["one timer can do several things"])
    builder.timers.push({ kind, ms, fn: f as Callable, span })
    return null
  }
})
