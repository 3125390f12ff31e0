/**
 * The bus's `publish` and `publishAll`: each publish is checked and prepared (`publish.ts`) before
 * anything is written, then submitted to the group-commit writer, which resolves it once its
 * transaction has committed. A publish carries the current span's trace context, and with a tracer
 * installed it is a `publish <topic>` span of its own (see src/observability/tracing.ts).
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import { callerTraceparent, currentSpanOf, publishSpanName, publishSpanOptions, traceparentOf, tracingOn, withTraceparent } from "../observability/tracing.ts"
import type { Event } from "../store/records.ts"
import { TransactionSlot } from "../store/Store.ts"
import { IdTaken, StoreError } from "../store/storeErrors.ts"
import { BusClosedError, PublishError } from "./busErrors.ts"
import type { BusShape } from "./BusShape.ts"
import { prepare, type Prepared, type PublishItem, type PublishLimits, type PublishOptions, recordOf, type Stamp } from "./publish.ts"
import type { Topic } from "./Topic.ts"
import type { makeWriter } from "./Writer.ts"

type PublishFailure = PublishError | StoreError | BusClosedError

export interface PublishingDeps {
  readonly writer: Effect.Success<ReturnType<typeof makeWriter>>
  readonly topicOf: (name: string) => Topic | undefined
  readonly limits: PublishLimits
  /** Ids, time and the bus's sid for the events prepared in a fiber. */
  readonly stamp: (clock: Clock.Clock, random: Random.Random) => Stamp
  /** True once the bus is closing: publishes are refused. */
  readonly closed: () => boolean
}

/** A publish through the bus from a handler holding its transaction would wait for that transaction. */
const insideTransaction = (topic: string) =>
  new PublishError({
    topic: String(topic), reason: "options",
    detail: "this handler holds ctx.transaction, which the bus would wait for: publish with ctx.publish (written with the ack)"
  })

/** A publish refused because its id names another topic's event: the publisher's mistake, said as one (nothing was written). */
const idTakenAsPublishError = (prepared: ReadonlyArray<Prepared>) => (e: PublishFailure): PublishFailure => {
  if (!(e instanceof StoreError && e.cause instanceof IdTaken)) return e
  const taken = e.cause
  const item = prepared.findIndex((p) => p.draft.id === taken.id && p.draft.topic === taken.topic)
  return new PublishError({
    topic: taken.topic, reason: "id", detail: prepared.length > 1 ? `item ${item} of ${prepared.length}: ${taken.message}` : taken.message,
    item: prepared.length > 1 ? item : undefined
  })
}

export const makePublishing = (deps: PublishingDeps): Pick<BusShape, "publish" | "publishAll"> => {
  const { limits, stamp, topicOf, writer } = deps

  const publishOne = (fiber: Fiber.Fiber<unknown, unknown>, topic: string, payload: unknown, publishOptions: PublishOptions | undefined, traced: boolean): Effect.Effect<Event, PublishFailure> => {
    const span = currentSpanOf(fiber)
    const prepared = prepare(
      topic, payload, span === undefined ? publishOptions : withTraceparent(publishOptions, traceparentOf(span)), topicOf(topic), limits,
      stamp(fiber.getRef(Clock.Clock), fiber.getRef(Random.Random))
    )
    if (prepared instanceof PublishError) return Effect.fail(prepared)
    if (traced && span?._tag === "Span") span.attribute("messaging.message.id", prepared.draft.id)
    return Effect.map(writer.submit({ appends: [prepared.draft] }), (r) => {
      const appended = r.appended[0]!
      return appended.existing ?? recordOf(prepared, appended.seq)
    }).pipe(Effect.mapError(idTakenAsPublishError([prepared])))
  }

  const publish: BusShape["publish"] = (topic, payload, publishOptions) =>
    Effect.withFiber<Event, PublishFailure>((fiber) => {
      if (deps.closed()) return Effect.fail(new BusClosedError({ operation: "publish" }))
      if (fiber.getRef(TransactionSlot).current !== undefined) return Effect.fail(insideTransaction(topic))
      if (!tracingOn(fiber)) return publishOne(fiber, topic, payload, publishOptions, false)
      const name = String(topic)
      // A caller's own traceparent (outside any span) is the publish span's parent.
      const caller = callerTraceparent(fiber, publishOptions)
      const spanOptions = caller?.parent === undefined ? publishSpanOptions(name) : { ...publishSpanOptions(name), parent: caller.parent }
      return Effect.withSpan(Effect.withFiber((inner) => publishOne(inner, topic, payload, caller?.options ?? publishOptions, true)), publishSpanName(name), spanOptions)
    })

  const publishMany = (fiber: Fiber.Fiber<unknown, unknown>, items: ReadonlyArray<PublishItem>, traced: boolean): Effect.Effect<ReadonlyArray<Event>, PublishFailure> => {
    const span = currentSpanOf(fiber)
    const traceparent = span === undefined ? undefined : traceparentOf(span)
    const next = stamp(fiber.getRef(Clock.Clock), fiber.getRef(Random.Random))
    const prepared: Array<Prepared> = []
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (typeof item !== "object" || item === null) {
        return Effect.fail(new PublishError({ topic: "", reason: "options", detail: `item ${i} is not an object { topic, payload }` }))
      }
      const { topic, payload, ...rest } = item
      const p = prepare(topic, payload, withTraceparent(rest, traceparent), topicOf(topic), limits, next)
      if (p instanceof PublishError) {
        return Effect.fail(new PublishError({ topic: p.topic, reason: p.reason, detail: `item ${i} of ${items.length}: ${p.detail}`, item: i }))
      }
      prepared.push(p)
    }
    if (prepared.length === 0) return Effect.succeed([])
    if (traced && span?._tag === "Span" && prepared.length === 1) span.attribute("messaging.message.id", prepared[0]!.draft.id)
    return Effect.map(writer.submit({ appends: prepared.map((p) => p.draft) }), (r) =>
      r.appended.map((a, i) => a.existing ?? recordOf(prepared[i]!, a.seq))
    ).pipe(Effect.mapError(idTakenAsPublishError(prepared)))
  }

  const publishAll: BusShape["publishAll"] = (items) =>
    Effect.withFiber<ReadonlyArray<Event>, PublishFailure>((fiber) => {
      if (deps.closed()) return Effect.fail(new BusClosedError({ operation: "publish" }))
      if (fiber.getRef(TransactionSlot).current !== undefined) return Effect.fail(insideTransaction(""))
      if (!Array.isArray(items)) {
        return Effect.fail(new PublishError({ topic: "", reason: "options", detail: "publishAll takes an array of { topic, payload, ...options }" }))
      }
      if (items.length === 0 || !tracingOn(fiber)) return publishMany(fiber, items, false)
      // One span for the batch: named by its topic when all items share one.
      const first = (items[0] as PublishItem | undefined)?.topic
      const topic = typeof first === "string" && items.every((i: PublishItem | undefined) => i?.topic === first) ? first : undefined
      const options = publishSpanOptions(topic, items.length)
      return Effect.withSpan(Effect.withFiber((inner) => publishMany(inner, items, true)), topic === undefined ? "publish" : publishSpanName(topic), options)
    })

  return { publish, publishAll }
}
