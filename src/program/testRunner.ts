/**
 * Running a program's `deftest`s. Each test gets a fresh in-memory bus under a TestClock, with a
 * Random seeded from the test's name (so a test is deterministic), starts the program (topics,
 * groups, initial publishes, timers), and runs its body in test mode (a host function the body
 * waits for must answer within 30 s of real time: the test clock does not move while it waits). A
 * test fails on any failed expect (an `Assertion` diagnostic with the expected and actual values)
 * or on an error; the report lists each test with its location, and keeps the `log` lines its
 * body, handlers and timers wrote (shown for failing tests, or for every test when asked).
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as References from "effect/References"
import * as TestClock from "effect/testing/TestClock"
import { type Diagnostic, diagnostic, SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import { basename } from "node:path"
import { Bus } from "../runtime/Bus.ts"
import { openStore } from "../store/open.ts"
import type { Program, TestDef } from "./Program.ts"
import { defaultLimits, type Limits, runBudget, testBudget, timerFiringCost } from "../lang/budget.ts"
import { fail, LangError, located } from "../lang/langError.ts"
import { type HostWait, lift, makeRun, releasing } from "../lang/run.ts"
import { startProgram, timerTimeoutMs } from "./start.ts"
import { settle } from "../testing.ts"
import type { TestLog, TestReport, TestResult } from "./testReport.ts"

export { renderTestReport } from "./testReport.ts"
export type { TestLog, TestReport, TestResult } from "./testReport.ts"

/** A test keeps at most this many log lines and characters of them (the rest is counted, not kept). */
const maxLogLines = 1000
const maxLogChars = 1_000_000
/** A test keeps at most this many failures (the rest is counted, not kept). */
const maxFailures = 100
/**
 * Characters of failures and log lines a whole `sib test` keeps, every test together: past them,
 * failures and lines are counted, not kept (each test still shows as failed, with the count).
 */
const maxReportChars = 4_000_000

/** What is left of `maxReportChars` in one `runTests`. */
interface Room {
  chars: number
}

const diagnosticChars = (d: Diagnostic): number =>
  d.message.length + d.hints.reduce((n, h) => n + h.length, 0) + (d.details ?? []).reduce((n, l) => n + l.length, 0)

/**
 * Steps a move of the test clock costs besides the firings it causes: letting the fibers settle
 * before and after it (about 200 microseconds, some 500 steps of work). A test sleeping 10 ms in a
 * loop until its budget ran for minutes when a move cost nothing.
 */
const advanceCost = 500

/**
 * Steps a test costs besides its own (a fresh bus, its start and its teardown), against the whole
 * run's budget.
 */
const testSetupCost = 50_000

/** The whole run's budget: this many tests' worth of steps (see `testBudget`). */
const testRunTests = 25

/**
 * How a test's body waits for a host function: at most `ms` of real time (the live clock's, raced
 * with the call, which keeps the test's clock), then the test fails there. A handler's wait ends at
 * its ack timeout and a timer's at its time limit, as the test moves its clock; the body's clock
 * does not move while the body waits, so a host call that never answered hung `sib test`.
 */
const hostWaitOf = (ms: number): HostWait => (name, call) =>
  Effect.raceFirst(
    call,
    Effect.andThen(TestClock.withLive(Effect.sleep(ms)), () =>
      Effect.fail(new LangError("time-limit", `${name} did not answer within ${ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`} of real time: the test clock does not move while a test's body waits for a host function, so nothing else would end the wait`, [
        `give the test a host ${name} that answers (runSibTests(files, { host }) takes the hosts its tests call)`
      ])))
  )

const runOne = (program: Program, test: TestDef, limits: Limits, room: Room, hostWait: HostWait) =>
  Effect.gen(function*() {
    const bus = yield* Bus
    const failures: Array<Diagnostic> = []
    let droppedFailures = 0
    /** Keeps a failure while the test and the report have room for it; counts it otherwise. */
    const failure = (make: () => Diagnostic) => {
      if (failures.length >= maxFailures || room.chars <= 0) {
        droppedFailures++
        return
      }
      const d = make()
      room.chars -= diagnosticChars(d)
      failures.push(d)
    }
    const clock = yield* Clock.Clock
    // `log` lines of the test's runs, stamped with the test clock's time since the test started.
    const logs: Array<TestLog> = []
    const startedAt = clock.currentTimeMillisUnsafe()
    let logChars = 0
    let dropped = 0
    const log = (line: string) => {
      if (logs.length >= maxLogLines || logChars + line.length > maxLogChars || line.length > room.chars) {
        dropped++
        return
      }
      logChars += line.length
      room.chars -= line.length
      logs.push({ atMs: clock.currentTimeMillisUnsafe() - startedAt, line })
    }
    const done = (): { readonly failures: ReadonlyArray<Diagnostic>; readonly logs: ReadonlyArray<TestLog>; readonly steps: number } => ({
      steps: budget.steps,
      failures: droppedFailures === 0 ? failures : [...failures, diagnostic("Runtime", "test/not-kept", `${droppedFailures.toLocaleString("en-US")} more failure${droppedFailures === 1 ? "" : "s"} of this test were not kept (a test keeps ${maxFailures}; the report of sib test keeps ${maxReportChars.toLocaleString("en-US")} characters of failures and logs in all)`, test.span)],
      logs: dropped === 0 ? logs : [...logs, { atMs: clock.currentTimeMillisUnsafe() - startedAt, line: `(${dropped} more log line(s) not kept)` }]
    })
    // The whole test (its body, and every handler and timer run of its program) has one budget.
    const budget = testBudget(limits, clock)
    const started = yield* Effect.exit(startProgram(program, bus, { limits, parentBudget: budget, log, expectations: failure, onTimerError: (e) => {
      // A timer failing on every tick is one failure.
      const d = e.diagnostic
      if (!failures.some((f) => f.message === d.message && f.span.offset === d.span.offset && f.span.file === d.span.file)) failure(() => d)
    } }))
    if (started._tag === "Failure") {
      const e = Cause.squash(started.cause)
      failure(() => diagnostic("Runtime", "test/start", `the program did not start: ${e instanceof Error ? e.message : String(e)}`, test.span))
      return done()
    }
    yield* settle
    const topicsOf = (group: string) => program.subscriptions.find((s) => s.group === group)?.topics ?? []
    const advance = (ms: number) => {
      // Every timer firing it causes is paid for before the clock moves (advance! and sleep! in a
      // test body both come here): a fast timer and a long advance fail at once instead of running
      // millions of firings.
      // The program's timers, and the bus's own: each group renews its lease every leaseMs / 3, and
      // maintenance runs every minute (the test bus does not poll for other processes).
      const timers = program.timers.reduce((n, timer) => n + (timer.kind === "every" ? Math.floor(ms / timer.ms) : 0), 0)
      const renewals = program.subscriptions.reduce((n, s) => n + Math.floor(ms / Math.max(1, Math.floor((s.options.leaseMs ?? 30_000) / 3))), 0)
      const maintenance = Math.floor(ms / 60_000)
      const firings = timers + renewals + maintenance
      const cost = firings * timerFiringCost
      const left = budget.options.maxSteps - budget.steps
      if (firings === 0 && advanceCost > left) {
        fail("step-budget", `the test's budget is spent (${budget.options.maxSteps.toLocaleString("en-US")} steps): each move of the test clock costs ${advanceCost} steps, as the fibers settle around it`, [
          "a loop of sleep! or advance! that does not end, or one moving the clock in steps far smaller than what it tests"
        ])
      }
      if (cost + advanceCost > left) {
        const parts = [
          timers > 0 ? `the program's timers ${timers.toLocaleString("en-US")}` : undefined,
          renewals > 0 ? `lease renewals of its groups ${renewals.toLocaleString("en-US")}` : undefined,
          maintenance > 0 ? `maintenance ${maintenance.toLocaleString("en-US")}` : undefined
        ].filter((p) => p !== undefined)
        fail("step-budget", `moving the test clock by ${ms.toLocaleString("en-US")} ms would fire timers (the program's and the bus's own) ${firings.toLocaleString("en-US")} times (${parts.join(", ")}), more than the test's budget allows (about ${Math.max(0, Math.floor(left / timerFiringCost)).toLocaleString("en-US")} more firings; the budget is the whole test's, however the clock is moved)`, [
          maintenance >= renewals && maintenance >= timers
            ? "maintenance (retention, compaction) runs every minute: a test moves its clock by about 69 days at most"
            : renewals >= timers
            ? "a group renews its lease every leaseMs / 3 (10 s by default): to test days or weeks, give its subscribe! a longer :leaseMs (3600000, an hour, renews every 20 minutes)"
            : "test the timer with a longer interval, or move the clock by less"
        ])
      }
      budget.absorb(cost + advanceCost)
      return Effect.gen(function*() {
        yield* settle
        yield* TestClock.adjust(ms)
        yield* settle
      })
    }
    const run = makeRun("test", limits, clock, yield* Random.Random, {
      bus, program, log, test: { failure, advance, topicsOf }, hostWait
    }, runBudget(limits, clock, { parent: budget }))
    const exit = yield* Effect.exit(Effect.suspend(() => {
      try {
        return releasing(run, lift(test.body.invoke(run, [], test.span)))
      } catch (e) {
        run.budget.release()
        return Effect.fail(located(e, test.span))
      }
    }))
    if (exit._tag === "Failure" && !Cause.hasInterruptsOnly(exit.cause)) {
      const e = Cause.squash(exit.cause)
      failure(() => e instanceof SibRuntimeError ? e.diagnostic : diagnostic("Runtime", "test/error", e instanceof Error ? e.message : String(e), test.span))
    }
    // Tear down on the test clock: stop the timers and the groups while moving the clock, so that
    // drain and ack timeouts can elapse (a handler that never acks must not hang the test).
    const stopping = yield* Effect.forkChild(started.value.stop)
    for (let i = 0; i < 600 && stopping.pollUnsafe() === undefined; i++) {
      yield* TestClock.adjust(100)
      yield* settle
    }
    if (stopping.pollUnsafe() === undefined) {
      yield* Fiber.interrupt(stopping)
      failure(() => diagnostic("Runtime", "test/teardown", "the program's groups did not stop within 60 s of test time after the test", test.span))
    }
    return done()
  }).pipe(
    Effect.scoped,
    Effect.provide(testBus, { local: true })
  )

/** A fresh in-memory bus built on a TestClock (both visible to the test body); the runtime's own
 * warnings (retries, dead letters) stay out of the test report. */
const testBus = Bus.layer({ pollIntervalMs: 3_600_000 }).pipe(
  Layer.provideMerge(openStore(":memory:")),
  Layer.provideMerge(TestClock.layer()),
  Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error")),
  Layer.orDie
)

export const runTests = (
  program: Program,
  options: {
    readonly limits?: Partial<Limits> | undefined
    readonly filter?: ((name: string) => boolean) | undefined
    /** Internal: how long a test's body waits for a host function, in real time (default: a timer's time limit, 30 s). */
    readonly hostWaitMs?: number | undefined
  } = {}
): Effect.Effect<TestReport> =>
  Effect.gen(function*() {
    const limits: Limits = { ...defaultLimits, ...options.limits }
    const hostWait = hostWaitOf(options.hostWaitMs ?? timerTimeoutMs)
    const results: Array<TestResult> = []
    const room: Room = { chars: maxReportChars }
    // Every test is bounded (its own budget); so is the run: thousands of tests each spending
    // theirs would take hours. Past it, the tests left are reported as not run.
    const runBudget = testBudget(limits, (yield* Clock.Clock)).options.maxSteps * testRunTests
    let spent = 0
    for (const test of program.tests) {
      if (options.filter !== undefined && !options.filter(test.name)) continue
      if (spent > runBudget) {
        results.push({
          name: test.name, file: test.span.file, line: test.span.line, passed: false, logs: [],
          failures: [diagnostic("Runtime", "test/not-run", `not run: the tests before it spent the budget of a whole sib test run (${runBudget.toLocaleString("en-US")} steps, ${testRunTests} tests' worth)`, test.span, {
            hints: ["run fewer tests at once (sib test --match), or make the expensive ones cheaper"]
          })]
        })
        continue
      }
      const { failures, logs, steps } = yield* runOne(program, test, limits, room, hostWait).pipe(
        // Seeded by file name and test name: the same run from any working directory.
        Random.withSeed(`${basename(test.span.file)}:${test.name}`),
        Effect.catchCause((cause) => Effect.succeed({ failures: [diagnostic("Runtime", "test/error", String(Cause.squash(cause)), test.span)], logs: [], steps: 0 }))
      )
      spent += steps + testSetupCost
      results.push({ name: test.name, file: test.span.file, line: test.span.line, passed: failures.length === 0, failures, logs })
    }
    const passed = results.filter((r) => r.passed).length
    return { results, passed, failed: results.length - passed, sources: program.sources }
  })
