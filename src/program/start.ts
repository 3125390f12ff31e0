/**
 * Starting a loaded program on a bus: define its topics, start its consumer groups (their handlers
 * are `.sib` functions run in handler mode), publish its initial events in one batch, and start its
 * timers on the runtime's Clock. `stop` stops the timers and drains the groups.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { basename } from "node:path"
import { SibRuntimeError } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import type { Callable, Value } from "../reader/Value.ts"
import type { BusShape, Subscription } from "../runtime/Bus.ts"
import { clipForLog, LineThrottle } from "../runtime/lineThrottle.ts"
import type { Handler } from "../runtime/ConsumerGroup.ts"
import { BusClosedError, PublishError, SubscribeError, TopicError } from "../runtime/busErrors.ts"
import { defaultAckTimeoutMs, type StartFrom, type SubscribeOptions } from "../runtime/subscribeOptions.ts"
import type { StoreError } from "../store/storeErrors.ts"
import type { Event } from "../store/records.ts"
import { Closure } from "../lang/Closure.ts"
import { deliveryObject } from "./domain.ts"
import type { Program, TimerDef, WatchDef } from "./Program.ts"
import { type Budget, defaultLimits, type Limits, runBudget } from "../lang/budget.ts"
import { LangError, located, originOf } from "../lang/langError.ts"
import { isEffect, makeRun, releasing, type RunState } from "../lang/run.ts"
import { paced, Share } from "../lang/turns.ts"
import type { Expectations } from "./testing.ts"

export interface RunningProgram {
  readonly subscriptions: ReadonlyArray<Subscription>
  /**
   * Where each timer stands: `active` (this process runs it), `standby` (another process on the
   * database does), `starting` (claiming its lease).
   */
  readonly timers: () => ReadonlyArray<TimerState>
  /** Stops the timers and drains every group. */
  readonly stop: Effect.Effect<void>
}

export type TimerState = "starting" | "active" | "standby"

/**
 * A timer's name across processes: the same timer of the same program (the text of every file of
 * the program, and where the timer is in it) is one singleton however many processes run the
 * program, so it fires in one of them. Another program (even one whose timer reads the same, in a
 * file of the same name) has timers of its own, and so has a changed program.
 */
const timerName = (program: Program, t: TimerDef): string => {
  const texts = program.files.map((f) => `${basename(f)}\u0000${program.sources.get(f) ?? ""}`).join("\u0000")
  return `timer:${basename(t.span.file)}:${t.span.line}:${t.span.column}:${t.kind}:${t.ms}:${fnv1a(texts)}`
}

/** FNV-1a (32 bits) as 8 hex digits. */
const fnv1a = (text: string): string => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(16).padStart(8, "0")
}

/**
 * Runs a `.sib` function as one run with its own budget (made by `start`, which may already fail:
 * a spent test budget), giving the run's pooled memory back however it ends.
 */
const runCallable = (start: () => RunState, fn: Callable, args: () => ReadonlyArray<Value>, span: Span, share: Share) =>
  Effect.suspend(() => {
    let run: RunState
    try {
      run = start()
    } catch (e) {
      return Effect.fail(located(e, span))
    }
    const began = run.clock.monotonicTimeNanosUnsafe()
    let out: unknown
    try {
      out = fn.invoke(run, args(), span)
    } catch (e) {
      share.computed(run.clock, began)
      run.budget.release()
      return Effect.fail(located(e, span))
    }
    if (!isEffect(out)) {
      share.computed(run.clock, began)
      return releasing(run, Effect.succeed(out))
    }
    // The run paused (an effect) and goes on after it: its longest stretch is known when it ends.
    return releasing(run, Effect.ensuring(out, Effect.sync(() => share.held(run.clock, run.budget.longestStretch))))
  })

/** A `.sib` function as a consumer-group handler. */
const sibHandler = (
  program: Program, def: Program["subscriptions"][number], bus: BusShape, limits: Limits, extra: {
    readonly ackTimeoutMs: number
    readonly parent?: Budget | undefined
    readonly log?: ((line: string) => void) | undefined
    readonly expectations?: Expectations | undefined
  }
): Handler => {
  // A handler written (fn [e] ...) gets the event only.
  const h = def.handler
  const eventOnly = h instanceof Closure && h.params.fixed < 2 && h.params.rest === undefined && h.params.keywords === undefined
  // A run that computes past its ack timeout fails at its next checkpoint, even without pausing.
  const deadline = { ms: extra.ackTimeoutMs, what: `its ack timeout (${extra.ackTimeoutMs} ms, ackTimeoutMs)` }
  const share = new Share(`group ${def.group}`)
  return (event, ctx) =>
    Effect.withFiber((fiber) => {
      const clock = fiber.getRef(Clock.Clock)
      // Runs that follow each other without a pause take turns with other groups and timers.
      return paced(clock, share, runCallable(
        () => makeRun("handler", limits, clock, fiber.getRef(Random.Random), { bus, delivery: ctx, event, program, log: extra.log, expectations: extra.expectations }, runBudget(limits, clock, { deadline, parent: extra.parent })),
        h,
        () => (eventOnly ? [event as unknown as Value] : [event as unknown as Value, deliveryObject(ctx)]),
        def.span,
        share
      ))
    })
}

/** How long a timer's run may take (computing or waiting): like a handler's default ack timeout. */
export const timerTimeoutMs = defaultAckTimeoutMs

/** Whether a run failed because its bus had closed under it (a publish refused): the process is stopping. */
const closedUnder = (error: unknown): boolean =>
  (error instanceof SibRuntimeError ? originOf(error) : error) instanceof BusClosedError

/**
 * One bounded call of a program's function outside a consumer group (a timer's tick, a watch's
 * call): it ends within timerTimeoutMs (computing past it fails at a checkpoint, waiting past it is
 * interrupted, so it cannot hold memory or a pool share for ever); a failure is reported (to
 * `onTimerError`, or logged as `what failed...`), never raised. Its value says whether the bus is
 * still open: a call the closed bus cut short is no failure (the process is stopping; a program
 * may outlive its bus briefly when both end together), and is not reported.
 */
const boundedCall = (
  program: Program,
  bus: BusShape,
  limits: Limits,
  options: StartOptions,
  call: {
    readonly fn: Callable
    readonly span: Span
    readonly what: "timer" | "watch"
    readonly args: ReadonlyArray<Value>
    readonly failed: string
    readonly share: Share
    /** Its failures' log lines (a timer failing every 10 ms would write 100 a second). */
    readonly lines: LineThrottle
  }
) => {
  const { onTimerError: onError, parentBudget: parent, log, expectations } = options
  const deadline = { ms: timerTimeoutMs, what: `a ${call.what}'s time limit (${timerTimeoutMs} ms)` }
  return Effect.withFiber((fiber) => {
    const clock = fiber.getRef(Clock.Clock)
    return paced(clock, call.share, runCallable(
      () => makeRun("timer", limits, clock, fiber.getRef(Random.Random), { bus, program, log, expectations }, runBudget(limits, clock, { parent, deadline })),
      call.fn,
      () => call.args,
      call.span,
      call.share
    )).pipe(
      Effect.timeoutOption(timerTimeoutMs),
      Effect.flatMap((done) => done._tag === "Some" ? Effect.succeed(true) : Effect.fail(located(new LangError("time-limit", `the ${call.what} ran longer than ${timerTimeoutMs} ms (a ${call.what}'s time limit)`), call.span)))
    )
  }).pipe(
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
      const error = Cause.squash(cause)
      if (closedUnder(error)) return Effect.succeed(false)
      if (onError !== undefined && error instanceof SibRuntimeError) return Effect.sync(() => (onError(error), true))
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const line = call.lines.pass(`${call.failed}: ${clipForLog(error instanceof Error ? error.message : String(error), 500)}`, now)
        return line === undefined ? Effect.succeed(true) : Effect.as(Effect.logWarning(line), true)
      })
    })
  )
}

/**
 * The failure lines of every timer and watch of the process's programs, together: at most 10 a
 * second (256 timers failing every 10 ms wrote 2,560 lines a second when each had its own).
 */
const failureLines = new LineThrottle(10)

const runTimer = (program: Program, t: TimerDef, bus: BusShape, limits: Limits, options: StartOptions) => {
  const where = `timer at ${t.span.file}:${t.span.line}:${t.span.column}`
  const tick = boundedCall(program, bus, limits, options, {
    fn: t.fn, span: t.span, what: "timer", args: [], failed: `${where} failed`, share: new Share(where), lines: failureLines
  })
  // A tick the closed bus cut short ends the timer: every tick after it would be cut short too.
  const once = Effect.andThen(Effect.sleep(t.ms), tick)
  const every: Effect.Effect<void, unknown> = Effect.flatMap(once, (open) => (open ? every : Effect.void))
  return t.kind === "after" ? Effect.asVoid(once) : every
}

/**
 * A watch (`watch!`): the program's function called with every event of its topics from now on,
 * one call at a time, each bounded like a timer's tick; a failing call is reported (as a timer's
 * is) and the next event comes.
 */
const runWatch = (program: Program, w: WatchDef, bus: BusShape, limits: Limits, options: StartOptions) => {
  const where = `watch at ${w.span.file}:${w.span.line}:${w.span.column}`
  const share = new Share(where)
  const lines = failureLines
  const call = (event: Event) =>
    boundedCall(program, bus, limits, options, {
      fn: w.fn, span: w.span, what: "watch", args: [event as unknown as Value], failed: `${where} failed on ${event.topic} #${event.seq}`, share, lines
    })
  // Forked once it stands at the topics' ends, so what is published after the program started is seen.
  return Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkScoped(Stream.runForEach(bus.live(w.topics, { onStart: () => Deferred.doneUnsafe(started, Effect.void) }), call).pipe(
      Effect.catchCause((cause) => Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logWarning(`${where} stopped: ${Cause.pretty(cause)}`))
    ))
    yield* Effect.raceFirst(Deferred.await(started), Fiber.await(fiber))
    return fiber
  })
}

export interface StartOptions {
  readonly limits?: Partial<Limits> | undefined
  /** Publish the program's top-level `publish!` events (default true; a reload passes false). */
  readonly initialPublishes?: boolean | undefined
  /** Subscribe options for every group, under what the program itself sets. */
  readonly subscribeDefaults?: SubscribeOptions | undefined
  /** Where a timer's failure goes (default: a logged warning). */
  readonly onTimerError?: ((error: SibRuntimeError) => void) | undefined
  /** A budget every run of the program also counts against (a test's). */
  readonly parentBudget?: Budget | undefined
  /** Where the handlers' and timers' `log` lines go (default: the runtime's log); a test keeps them. */
  readonly log?: ((line: string) => void) | undefined
  /**
   * Where `expect` and `expect=` in the handlers, timers and watches record their failures (a
   * test's report, while the test runs); without it they are an error there.
   */
  readonly expectations?: Expectations | undefined
}

/** `file:line:col: `, the place a message names first. */
const where = (at: { readonly file: string; readonly line: number; readonly column: number }) => `${at.file}:${at.line}:${at.column}: `

export const startProgram = (
  program: Program,
  bus: BusShape,
  options: StartOptions = {}
): Effect.Effect<RunningProgram, TopicError | StoreError | SubscribeError | BusClosedError | PublishError, Scope.Scope> =>
  Effect.gen(function*() {
    const limits: Limits = { ...defaultLimits, ...options.limits }
    // The program's filters (made when it loaded) see this start's expectations (a test's).
    program.filterServices.expectations = options.expectations
    // Everything that can be refused is checked before anything starts (the loader has checked
    // the topics and the initial publishes); a group already running here is the one thing left.
    const runningHere = new Set(bus.groups())
    const clash = program.subscriptions.find((s) => runningHere.has(s.group))
    if (clash !== undefined) {
      return yield* new SubscribeError({ group: clash.group, detail: `this group is already running in this runtime (${clash.span.file}:${clash.span.line}:${clash.span.column})` })
    }
    // Nothing is written before everything that can be refused has been checked: topic definitions
    // against the stored settings, initial publishes against the topics as they will be.
    const initial = program.publishes.length > 0 && options.initialPublishes !== false
      ? program.publishes.map((p) => ({ topic: p.topic, payload: p.payload, ...p.options }))
      : []
    yield* bus.dryRun({
      topics: program.topics.map((t) => ({ name: t.name, options: t.options })),
      publishes: initial,
      subscriptions: program.subscriptions.map((s) => ({ group: s.group, from: (s.options as { from?: StartFrom | string }).from }))
    }).pipe(
      // What is refused is shown where the program wrote it: an initial publish, a topic's
      // definition (its stored settings differ; a read-only database), a group's start.
      Effect.catchTag("PublishError", (e) => {
        const at = e.item === undefined ? undefined : program.publishes[e.item]?.span
        return Effect.fail(at === undefined ? e : new PublishError({ topic: e.topic, reason: e.reason, detail: `${where(at)}${e.detail.replace(/^item \d+ of \d+: /, "")}` }))
      }),
      Effect.catchTag("TopicError", (e) => {
        const at = program.topics.find((t) => t.name === e.topic)?.span
        return Effect.fail(at === undefined ? e : new TopicError({ topic: e.topic, operation: e.operation, problem: e.problem, detail: `${where(at)}${e.detail}` }))
      }),
      Effect.catchTag("SubscribeError", (e) => {
        const at = program.subscriptions.find((s) => s.group === e.group)?.span
        return Effect.fail(at === undefined ? e : new SubscribeError({ group: e.group, problem: e.problem, detail: `${where(at)}${e.detail}` }))
      })
    )
    // Each partition a group consumes is a session of its own: bounded like the groups themselves.
    let consumers = 0
    for (const s of program.subscriptions) {
      const partitionsOf = (name: string) =>
        program.topics.findLast((t) => t.name === name)?.options.partitions ?? bus.topic(name)?.options.partitions ?? 1
      const partitions = Math.max(1, ...s.topics.map(partitionsOf))
      consumers += partitions
      if (consumers > limits.maxConsumers) {
        return yield* new SubscribeError({
          group: s.group,
          detail: `${s.span.file}:${s.span.line}:${s.span.column}: the program's groups would run ${consumers.toLocaleString("en-US")} consumers or more (this one reads ${partitions.toLocaleString("en-US")} partition${partitions === 1 ? "" : "s"}), over its limit of ${limits.maxConsumers.toLocaleString("en-US")} (maxConsumers): each partition is a session of its own`
        })
      }
    }
    for (const t of program.topics) yield* bus.defineTopic(t.name, t.options)
    const subscriptions: Array<Subscription> = []
    const rollback = Effect.forEach(subscriptions, (s) => s.unsubscribe, { discard: true })
    yield* Effect.gen(function*() {
      for (const s of program.subscriptions) {
        const subscribeOptions = { ...options.subscribeDefaults, ...s.options }
        const ackTimeoutMs = subscribeOptions.ackTimeoutMs ?? defaultAckTimeoutMs
        const handler = sibHandler(program, s, bus, limits, { ackTimeoutMs, parent: options.parentBudget, log: options.log, expectations: options.expectations })
        subscriptions.push(yield* bus.subscribe(s.topics, s.group, handler, subscribeOptions))
      }
      if (initial.length > 0) yield* bus.publishAll(initial)
    }).pipe(Effect.onError(() => rollback))
    // Each timer fires in one process at a time among those running the program on this database.
    const timers: Array<Fiber.Fiber<unknown, unknown>> = []
    const states: Array<TimerState> = program.timers.map(() => "starting")
    for (const [i, t] of program.timers.entries()) {
      const tick = runTimer(program, t, bus, limits, options)
      timers.push(yield* Effect.forkScoped(bus.singleton(timerName(program, t), tick, {
        label: `timer at ${t.span.file}:${t.span.line}:${t.span.column}`,
        onStandby: Effect.sync(() => void (states[i] = "standby")),
        onActive: Effect.sync(() => void (states[i] = "active"))
      }).pipe(Effect.catchCause((cause) => Effect.logWarning(`timer at ${t.span.file}:${t.span.line}:${t.span.column} stopped: ${Cause.pretty(cause)}`)))))
    }
    // Every process running the program watches: a watch is not a singleton.
    for (const w of program.watches) timers.push(yield* runWatch(program, w, bus, limits, options))
    return {
      subscriptions,
      timers: () => states,
      stop: Effect.gen(function*() {
        yield* Fiber.interruptAll(timers)
        yield* Effect.forEach(subscriptions, (s) => s.unsubscribe, { concurrency: "unbounded", discard: true })
      })
    }
  })

export type { Event, Exit }
