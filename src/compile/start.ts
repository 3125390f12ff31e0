/**
 * Starting a loaded program on a bus: define its topics, start its consumer groups (their handlers
 * are `.sib` functions run in handler mode), publish its initial events in one batch, and start its
 * timers on the runtime's Clock. `stop` stops the timers and drains the groups.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import type { Value } from "../reader/Value.ts"
import type { BusShape, Subscription } from "../runtime/Bus.ts"
import type { Handler } from "../runtime/ConsumerGroup.ts"
import type { BusClosedError, PublishError, SubscribeError, TopicError } from "../runtime/errors.ts"
import type { SubscribeOptions } from "../runtime/options.ts"
import type { StoreError } from "../store/errors.ts"
import type { Event } from "../store/records.ts"
import { deliveryObject } from "./domain.ts"
import type { Program, TimerDef } from "./Program.ts"
import { defaultLimits, type Limits, lift, located, makeRun, type RunState } from "./runtime.ts"

export interface RunningProgram {
  readonly subscriptions: ReadonlyArray<Subscription>
  /** Stops the timers and drains every group. */
  readonly stop: Effect.Effect<void>
}

const runCallable = (run: RunState, fn: Program["subscriptions"][number]["handler"], args: ReadonlyArray<Value>, span: Program["subscriptions"][number]["span"]) =>
  Effect.suspend(() => {
    try {
      return lift(fn.invoke(run, args, span))
    } catch (e) {
      return Effect.fail(located(e, span))
    }
  })

/** A `.sib` function as a consumer-group handler. */
export const sibHandler = (program: Program, def: Program["subscriptions"][number], bus: BusShape, limits: Limits): Handler =>
  (event, ctx) =>
    Effect.withFiber((fiber) => {
      const run = makeRun("handler", limits, fiber.getRef(Clock.Clock), fiber.getRef(Random.Random), { bus, delivery: ctx, event, program })
      return runCallable(run, def.handler, [event as unknown as Value, deliveryObject(ctx)], def.span)
    })

const runTimer = (program: Program, t: TimerDef, bus: BusShape, limits: Limits) => {
  const tick = Effect.withFiber((fiber) => {
    const run = makeRun("timer", limits, fiber.getRef(Clock.Clock), fiber.getRef(Random.Random), { bus, program })
    return runCallable(run, t.fn, [], t.span)
  }).pipe(
    Effect.catchCause((cause) => Effect.logWarning(`timer at ${t.span.file}:${t.span.line}:${t.span.column} failed: ${Cause.squash(cause) instanceof Error ? (Cause.squash(cause) as Error).message : String(Cause.squash(cause))}`))
  )
  return t.kind === "after"
    ? Effect.andThen(Effect.sleep(t.ms), tick)
    : Effect.andThen(Effect.sleep(t.ms), tick).pipe(Effect.forever)
}

export interface StartOptions {
  readonly limits?: Partial<Limits> | undefined
  /** Publish the program's top-level `publish!` events (default true; a reload passes false). */
  readonly initialPublishes?: boolean | undefined
  /** Subscribe options for every group, under what the program itself sets. */
  readonly subscribeDefaults?: SubscribeOptions | undefined
}

export const startProgram = (
  program: Program,
  bus: BusShape,
  options: StartOptions = {}
): Effect.Effect<RunningProgram, TopicError | StoreError | SubscribeError | BusClosedError | PublishError, Scope.Scope> =>
  Effect.gen(function*() {
    const limits: Limits = { ...defaultLimits, ...options.limits }
    for (const t of program.topics) yield* bus.defineTopic(t.name, t.options)
    const subscriptions: Array<Subscription> = []
    for (const s of program.subscriptions) {
      const subscribeOptions = { ...options.subscribeDefaults, ...s.options }
      subscriptions.push(yield* bus.subscribe(s.topics, s.group, sibHandler(program, s, bus, limits), subscribeOptions))
    }
    if (program.publishes.length > 0 && options.initialPublishes !== false) {
      yield* bus.publishAll(program.publishes.map((p) => ({ topic: p.topic, payload: p.payload, ...p.options })))
    }
    const timers: Array<Fiber.Fiber<unknown, unknown>> = []
    for (const t of program.timers) timers.push(yield* Effect.forkScoped(runTimer(program, t, bus, limits)))
    return {
      subscriptions,
      stop: Effect.gen(function*() {
        yield* Fiber.interruptAll(timers)
        yield* Effect.forEach(subscriptions, (s) => s.unsubscribe, { concurrency: "unbounded", discard: true })
      })
    }
  })

export type { Event, Exit }
