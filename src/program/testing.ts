/**
 * What `deftest` bodies can use: advance! (moves the test clock), expect and expect= (record located
 * failures; the test continues), published (events of a topic), dead-letters and attempts (delivery
 * facts of a group). Each test runs on a fresh in-memory bus under a TestClock (see testRunner.ts).
 */
import * as Effect from "effect/Effect"
import { diagnostic, type Diagnostic } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import { durationValue } from "../options/spec.ts"
import { costs, equals, print, truthy, typeName, type Value } from "../reader/Value.ts"
import type { BusShape } from "../runtime/Bus.ts"
import { type Builtin, builtin } from "../lang/builtins.ts"
import { topicName } from "./domainOperands.ts"
import { fail } from "../lang/langError.ts"
import { type RunState, step } from "../lang/run.ts"

export interface TestContext {
  /** Records a failure (made only when the test's report still keeps failures). */
  readonly failure: (make: () => Diagnostic) => void
  /**
   * Moves the TestClock and lets everything that became due run. The timer firings it will cause
   * are paid from the test's budget first: too many throw (a language error) before the clock moves.
   */
  readonly advance: (ms: number) => Effect.Effect<void>
  /** The topics a group reads, for delivery lookups. */
  readonly topicsOf: (group: string) => ReadonlyArray<string>
}

const testing = (run: RunState) => run.services as { readonly test: TestContext; readonly bus: BusShape }

/** Where failed expectations go: a test's report. */
export type Expectations = (make: () => Diagnostic) => void

/**
 * Where a failed `expect` goes: the test's report, from the test's body or from the handlers,
 * timers and watches its program runs meanwhile (their runs carry the test's `expectations`).
 */
const expectationsOf = (run: RunState, fn: string): Expectations => {
  if (run.mode === "test") return testing(run).test.failure
  const recorder = run.services["expectations"]
  if (typeof recorder === "function") return recorder as Expectations
  return fail("mode", `${fn} checks a test's run: it cannot be used outside sib test (here ${run.mode === "load" ? "at the top level of a program" : run.mode === "macro" ? "inside a macro" : `in a ${run.mode} of a running program`})`, [
    "use it in a deftest's body, or in a handler or timer while a deftest runs it"
  ])
}

const groupName = (v: Value, fn: string): string =>
  typeof v === "string" ? v : fail("type", `${fn}: a group is named by a string, got ${typeName(v)}`)

const inTest = ["test"] as const
const hint = "use it inside a deftest"

/** A value or form as an assertion shows it: printed readably, cut at 2,000 characters, paid for. */
const shown = (v: Value, run: RunState): string => print(v, false, { meter: run.budget, maxChars: 2000 })

/** A failed expect: the assertion as written, then what was expected and what was found. */
const assertion = (span: Span, form: string, expected: string, actual: string): Diagnostic =>
  diagnostic("Assertion", "test/expectation", form, span, { details: [`expected: ${expected}`, `actual:   ${actual}`] })

/** Records `published` and `dead-letters` return at most, and how many `published` reads at a time. */
const maxRecords = 100_000
const pageSize = 1000

/**
 * Charges the run for records just read from the test's bus, as if it had built them: a step per
 * value and per 16 characters, their estimated bytes. They are plain data fresh from the store
 * (nothing shared), walked without recursion.
 */
const chargeRecords = (records: ReadonlyArray<unknown>, run: RunState): void => {
  const stack: Array<unknown> = [...records]
  let steps = 0
  let bytes = 0
  while (stack.length > 0) {
    const x = stack.pop()
    steps++
    if (typeof x === "string") {
      steps += x.length >> 4
      bytes += x.length * costs.char
    } else if (Array.isArray(x)) {
      bytes += costs.object + x.length * costs.element
      for (const item of x) stack.push(item)
    } else if (x !== null && typeof x === "object") {
      bytes += costs.object
      for (const [k, v] of Object.entries(x)) {
        bytes += costs.entry + k.length * costs.char
        stack.push(v)
      }
    }
    if (steps > 4096) {
      run.budget.charge(steps, bytes)
      steps = 0
      bytes = 0
    }
  }
  run.budget.charge(steps, bytes)
}

export const testingBuiltins: ReadonlyArray<Builtin> = [
  builtin({
    name: "advance!", group: "testing", arglists: ["[interval]"],
    doc: "Moves the test clock forward (milliseconds, or \"500ms\", \"5s\", \"2m\", \"1h\") and lets timers, retries and handlers that became due run. Every timer firing it causes is paid from the test's budget first: the program's timers, each group's lease renewal (every leaseMs / 3, 10 s by default) and maintenance (every minute). A test moves its clock by about ten days with the defaults; a group with a longer :leaseMs lets it move by weeks.",
    example: "(advance! \"5s\")", modes: inTest, modeHint: hint,
    impl: ([interval], run) => {
      const v = interval!
      const ms = durationValue(v)
      if (ms === undefined) return fail("duration", `advance!: ${print(v)} is not a duration`, ["500, \"500ms\", \"5s\", \"2m\", \"1h\""])
      // Moving the clock runs everything that became due: it counts for much in the test's budget.
      step(run, 1000)
      return Effect.as(testing(run).test.advance(ms), null)
    }
  }),
  builtin({
    name: "published", group: "testing", arglists: ["[topic]"],
    doc: "The events published to the topic so far in this test, oldest first (records with :payload, :key, :causedBy, ...).",
    example: "(map :payload (published \"alerts\"))", modes: inTest, modeHint: hint,
    impl: ([topic], run) => {
      const name = topicName(topic!, "published")
      const bus = testing(run).bus
      // Page by page, each paid before the next is read: a program reading its events over and
      // over stops at its budget instead of holding copies of them all.
      const from = (afterSeq: number, got: Array<Value>): Effect.Effect<Value, unknown> =>
        Effect.flatMap(bus.read(name, afterSeq, pageSize), (page) => {
          chargeRecords(page, run)
          for (const e of page) got.push(e as unknown as Value)
          return page.length < pageSize || got.length >= maxRecords ? Effect.succeed(got as Value) : from(page[page.length - 1]!.seq, got)
        })
      return from(0, [])
    }
  }),
  builtin({
    name: "dead-letters", group: "testing", arglists: ["[group]"],
    doc: "The dead letters of a group in this test (maps with :eventId, :attempts, :errorMessage, ...).",
    example: "(count (dead-letters \"ops\"))", modes: inTest, modeHint: hint,
    impl: ([group], run) =>
      Effect.map(testing(run).bus.deadLetters({ group: groupName(group!, "dead-letters"), limit: maxRecords }), (ds) => {
        chargeRecords(ds, run)
        return ds as unknown as Value
      })
  }),
  builtin({
    name: "attempts", group: "testing", arglists: ["[group event-id]"],
    doc: "How many runs the group has recorded for the event: its dead letter's attempts, or its retry record's, or 0 when it never failed.",
    example: "(attempts \"ops\" (:id (first (published \"jobs\"))))", modes: inTest, modeHint: hint,
    impl: ([group, id], run) => {
      const t = testing(run)
      const g = groupName(group!, "attempts")
      return Effect.gen(function*() {
        const dead = (yield* t.bus.deadLetters({ group: g })).find((d) => d.eventId === id)
        if (dead !== undefined) return dead.attempts
        if (typeof id !== "string") return 0
        const [delivery] = yield* t.bus.deliveries({ group: g, eventId: id })
        return delivery?.attempts ?? 0
      })
    }
  }),
  builtin({
    name: "sib/expect", group: "testing", arglists: ["[value form]"], doc: "(internal: expect)",
    impl: ([value, form], run, span) => {
      const failure = expectationsOf(run, "expect")
      if (!truthy(value!)) {
        failure(() => assertion(span, `(expect ${shown(form!, run)})`, "a true value (anything but nil and false)", shown(value!, run)))
      }
      return value!
    }
  }),
  builtin({
    name: "sib/expect=", group: "testing", arglists: ["[expected actual expected-form actual-form]"], doc: "(internal: expect=)",
    impl: ([expected, actual, expectedForm, actualForm], run, span) => {
      const failure = expectationsOf(run, "expect=")
      const same = equals(expected!, actual!, run.budget)
      if (!same) {
        failure(() => assertion(span, `(expect= ${shown(expectedForm!, run)} ${shown(actualForm!, run)})`, shown(expected!, run), shown(actual!, run)))
      }
      return same
    }
  })
]

