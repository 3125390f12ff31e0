/**
 * `RunContext`, the `DeliveryContext` a handler gets for one run: its attempt number, `ack` and
 * `nack` (one decision per run, see `runs.ts`), `publish` (checked now, buffered on the work and
 * written with the run's ack) and `transaction` (the store's handler transaction, opened on first
 * use and committed with the ack). Once the run is over or decided, publishing and opening the
 * transaction fail with `PublishError` reason `"settled"`.
 */
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { Kysely } from "kysely"
import type { StoreError } from "../../store/storeErrors.ts"
import type { RuntimeStore } from "../../store/Store.ts"
import { currentSpanOf, publishSpanName, publishSpanOptions, traceparentHeader, traceparentOf, tracingOn, withTraceparent } from "../../observability/tracing.ts"
import { PublishError } from "../busErrors.ts"
import { type PendingEvent, pendingRecordOf, type PublishOptions } from "../publish.ts"
import type { Runs } from "./runs.ts"
import type { DeliveryContext, GroupDeps } from "./types.ts"
import type { Work } from "./work.ts"

/** What every run's context shares. */
export interface RunServices {
  readonly group: string
  readonly runs: Runs
  readonly store: RuntimeStore
  readonly prepare: GroupDeps["prepare"]
}

export class RunContext implements DeliveryContext {
  readonly group: string
  private readonly services: RunServices
  readonly work: Work
  readonly run: number

  constructor(services: RunServices, work: Work) {
    this.group = services.group
    this.services = services
    this.work = work
    this.run = work.run
  }

  get attempt() {
    return this.work.attempts
  }

  get ack() {
    return Effect.suspend(() => this.services.runs.decide(this.work, this.run, { _tag: "ack" }))
  }

  nack(delayMs?: number) {
    return Effect.suspend(() => this.services.runs.decide(this.work, this.run, { _tag: "nack", delayMs }))
  }

  get transaction(): Effect.Effect<Kysely<any>, PublishError | StoreError> {
    return Effect.suspend((): Effect.Effect<Kysely<any>, PublishError | StoreError> => {
      const work = this.work
      if (this.services.runs.settled(work, this.run)) {
        return Effect.fail(new PublishError({
          topic: work.event.topic, reason: "settled", operation: "transaction",
          detail: `the delivery of event ${work.event.id} is already settled: ${this.services.runs.settledHow(work, this.run)}; its transaction is closed`
        }))
      }
      if (work.tx !== undefined) return Effect.succeed(work.tx.db)
      return Effect.uninterruptible(Effect.flatMap(this.services.store.beginTransaction, (tx) => {
        // Opening waits for a connection (on SQLite, for the one another run's transaction holds):
        // a run that timed out or was settled meanwhile gives it back at once. Kept, it would stay
        // open for ever, holding the connection and a permit (every later run would wait on it).
        if (this.services.runs.settled(work, this.run)) {
          return Effect.andThen(tx.rollback, Effect.fail(this.settledTransaction(work)))
        }
        work.tx = tx
        return Effect.succeed(tx.db)
      }))
    })
  }

  private settledTransaction(work: Work): PublishError {
    return new PublishError({
      topic: work.event.topic, reason: "settled", operation: "transaction",
      detail: `the delivery of event ${work.event.id} was settled (timed out, or acked or nacked) while its transaction was opening: it was rolled back`
    })
  }

  publish(topic: string, payload: unknown, options?: PublishOptions): Effect.Effect<PendingEvent, PublishError> {
    return Effect.withFiber((fiber) => {
      const work = this.work
      if (this.services.runs.settled(work, this.run)) {
        return Effect.fail(new PublishError({
          topic: String(topic), reason: "settled",
          detail: `the delivery of event ${work.event.id} that would cause it is already settled: ${this.services.runs.settledHow(work, this.run)}`
        }))
      }
      // Without a tracer the follow-up carries the handled event's trace context on; with one it
      // is a `publish <topic>` span, a child of the run's `process` span, and carries that span's.
      if (!tracingOn(fiber)) return this.buffer(fiber, topic, payload, options, work.event.headers?.[traceparentHeader], false)
      const name = String(topic)
      return Effect.withSpan(
        Effect.withFiber((inner) => {
          const span = currentSpanOf(inner)
          return this.buffer(inner, topic, payload, options, span === undefined ? undefined : traceparentOf(span), true)
        }),
        publishSpanName(name),
        publishSpanOptions(name)
      )
    })
  }

  private buffer(
    fiber: Fiber.Fiber<unknown, unknown>,
    topic: string,
    payload: unknown,
    options: PublishOptions | undefined,
    traceparent: string | undefined,
    traced: boolean
  ): Effect.Effect<PendingEvent, PublishError> {
    const work = this.work
    const given = withTraceparent(options, traceparent) ?? {}
    const prepared = this.services.prepare(fiber, topic, payload, typeof given === "object" && given !== null && given.causedBy === undefined ? { ...given, causedBy: work.event.id } : given)
    if (prepared instanceof PublishError) return Effect.fail(prepared)
    if (traced) {
      const span = currentSpanOf(fiber)
      if (span?._tag === "Span") span.attribute("messaging.message.id", prepared.draft.id)
    }
    ;(work.publishes ??= []).push(prepared)
    return Effect.succeed(pendingRecordOf(prepared))
  }
}
