/**
 * The runs in flight: which work each worker runs now, since when (its ack deadline, start +
 * `ackTimeoutMs`: so the oldest run is always the first to expire), and the one decision (ack or
 * nack) its handler may make. A run is identified by its work and its run number: a decision, a
 * publish or a transaction from an earlier run of the same event, or from a run the watchdog took
 * over, is refused.
 *
 * The runs in flight are a list threaded through their `Work` (start order, O(1) removal from
 * anywhere): a `Set` churned by a start and an end per event rehashed its table every few runs.
 */
import type * as Clock from "effect/Clock"
import { monotonicMillis } from "../monotonic.ts"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { GroupMetrics } from "../../observability/BusMetrics.ts"
import { AckError } from "../busErrors.ts"
import { shown } from "../../options/spec.ts"
import { Signal, suspend } from "../Signal.ts"
import type { AckFloor } from "../AckFloor.ts"
import type { Decision, Work } from "./work.ts"

const validDelay = (delayMs: unknown) => delayMs === undefined || (typeof delayMs === "number" && Number.isFinite(delayMs) && delayMs >= 0)

export class Runs {
  private readonly group: string
  private readonly ackTimeoutMs: number
  private readonly clock: Clock.Clock
  /** The runs in flight, oldest first (linked through `Work.olderRun`/`newerRun`). */
  private oldestRun: Work | undefined = undefined
  private newestRun: Work | undefined = undefined
  private count = 0
  /** Raised when the first run starts (the watchdog waits for it). */
  readonly started = new Signal()

  private readonly metrics: GroupMetrics

  /** The floor of a topic, for runs whose work has none of its own (requeued dead letters). */
  private readonly floorOf: (topic: string) => AckFloor | undefined

  constructor(group: string, ackTimeoutMs: number, clock: Clock.Clock, metrics: GroupMetrics, floorOf: (topic: string) => AckFloor | undefined = () => undefined) {
    this.group = group
    this.ackTimeoutMs = ackTimeoutMs
    this.clock = clock
    this.metrics = metrics
    this.floorOf = floorOf
  }

  /** A new run of `work` starts on `fiber`: one more attempt, a fresh decision, buffer and deadline. */
  begin(work: Work, fiber: Fiber.Fiber<unknown, unknown>): void {
    work.attempts++
    work.run++
    work.decision = undefined
    work.cutShort = undefined
    work.handlerDone = false
    work.publishes = undefined
    work.tx = undefined
    work.deadline = monotonicMillis(this.clock) + this.ackTimeoutMs
    work.fiber = fiber
    this.link(work)
    if (this.count === 1) this.started.raise()
    // A requeued dead letter's run counts too (its work, below the floor, has no floor of its own).
    if (work.attempts > 1) (work.floor ?? this.floorOf(work.event.topic))?.redelivery()
    const series = work.series ??= this.metrics.series(work.event.topic)
    if (series !== undefined) {
      series.delivered.n++
      series.inflight.v++
      if (work.attempts > 1) series.redelivered.n++
      // A measurement of real work, not a schedule: the monotonic clock, not the Effect Clock.
      work.startedAt = performance.now()
    }
  }

  /** The run is over (settled, or taken over by the watchdog). */
  end(work: Work): void {
    this.unlink(work)
    work.fiber = undefined
    if (work.startedAt !== 0) {
      const series = work.series!
      series.inflight.v--
      series.handler.observe((performance.now() - work.startedAt) / 1000)
      work.startedAt = 0
    }
  }

  /** Ends every run in flight (their workers were interrupted): their decisions and publishes are refused from now on. */
  endAll(): void {
    while (this.oldestRun !== undefined) {
      const work = this.oldestRun
      work.cutShort = "stop"
      this.end(work)
      work.publishes = undefined
    }
  }

  /** `work` runs now on `fiber` (false once the watchdog took it over). */
  runsOn(work: Work, fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return work.fiber === fiber && work.inFlight
  }

  /** The run that expires first. */
  oldest(): Work | undefined {
    return this.oldestRun
  }

  /** Adds `work` as the newest run (one already in flight keeps its place). */
  private link(work: Work): void {
    if (work.inFlight) return
    work.inFlight = true
    work.olderRun = this.newestRun
    work.newerRun = undefined
    if (this.newestRun === undefined) this.oldestRun = work
    else this.newestRun.newerRun = work
    this.newestRun = work
    this.count++
  }

  private unlink(work: Work): void {
    if (!work.inFlight) return
    work.inFlight = false
    const { olderRun, newerRun } = work
    if (olderRun === undefined) this.oldestRun = newerRun
    else olderRun.newerRun = newerRun
    if (newerRun === undefined) this.newestRun = olderRun
    else newerRun.olderRun = olderRun
    work.olderRun = undefined
    work.newerRun = undefined
    this.count--
  }

  /** Settles the run in flight of the event `eventId` (`run`: only that run of it), as `decide`. */
  decideById(eventId: string, run: number | undefined, decision: Decision): Effect.Effect<void, AckError> {
    let work: Work | undefined
    for (let w = this.oldestRun; w !== undefined; w = w.newerRun) if (w.event.id === eventId) work = w
    if (work === undefined || (run !== undefined && work.run !== run)) return Effect.fail(this.notOutstanding(eventId))
    return this.decide(work, work.run, decision)
  }

  /** Settles run `run` of `work`: once; a second ack or nack is refused. */
  decide(work: Work, run: number, decision: Decision): Effect.Effect<void, AckError> {
    const { group } = this
    if (decision._tag === "nack" && !validDelay(decision.delayMs)) {
      return Effect.fail(new AckError({
        group, eventId: work.event.id, detail: `a nack delay is a number of milliseconds >= 0, got ${shown(decision.delayMs)}`
      }))
    }
    if (work.run !== run || !work.inFlight) return Effect.fail(this.notOutstanding(work.event.id))
    if (work.decision !== undefined) {
      return Effect.fail(new AckError({ group, eventId: work.event.id, detail: `this delivery was already ${work.decision._tag}ed` }))
    }
    work.decision = decision
    work.onDecision?.()
    return Effect.void
  }

  /** Waits until the handler of `work`'s current run decides (manual acks). */
  awaitDecision(work: Work): Effect.Effect<void> {
    return work.decision !== undefined
      ? Effect.void
      : suspend<void>((wake) => {
        work.onDecision = () => wake(undefined)
        return () => {
          work.onDecision = undefined
        }
      })
  }

  /** True once run `run` can take no more publishes or writes: over, or acked/nacked. */
  settled(work: Work, run: number): boolean {
    return work.run !== run || !work.inFlight || work.decision !== undefined
  }

  /** How run `run` of `work` was settled, in words, for the errors of a handler that goes on after it. */
  settledHow(work: Work, run: number): string {
    if (work.run !== run) return "a later run of it has started (this one was ended: see ackTimeoutMs)"
    if (work.decision !== undefined) return `it was ${work.decision._tag}ed`
    if (work.cutShort === "timeout") return `it ran past ackTimeoutMs (${this.ackTimeoutMs} ms) and was interrupted; it will be delivered again`
    if (work.cutShort === "stop") return "the group stopped while it ran (its handler was interrupted after drainTimeoutMs, or its session ended); it will be delivered again"
    return "its handler already returned (a handler publishes before it returns or acks)"
  }

  private notOutstanding(eventId: string): AckError {
    return new AckError({
      group: this.group,
      eventId,
      detail: "no delivery of it is outstanding (it was already settled, or its ack timeout expired and it will be redelivered)"
    })
  }
}
