/**
 * Traces on the Effect API, under TestClock with an in-memory tracer (SQLite in memory): the
 * `publish`/`process` spans and their messaging attributes, the `traceparent` an event carries
 * through a retry and a requeued dead letter, a handler's follow-up continuing the trace, and no
 * spans or headers without a tracer (nor a current span). Also the `traceparent` codec and the
 * environment variables of the OTLP exporter.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { Bus } from "../../src/facade/Bus.ts"
import { OtlpExporter } from "effect/observability"
import { layerFromEnv, otlpOptionsFromEnv, parseTraceparent, traceparentOf } from "../../src/observability/tracing.ts"
import type { Event } from "../../src/store/records.ts"
import { advance, makeRecorder, settle } from "../helpers/recorder.ts"

const memoryTracer = () => {
  const spans: Array<Tracer.NativeSpan> = []
  const tracer = Tracer.make({
    span(options) {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

const traced = <A, E>(tracer: Tracer.Tracer, effect: Effect.Effect<A, E, Bus>) =>
  effect.pipe(Effect.provide(Bus.open(":memory:"), { local: true }), Effect.provideService(Tracer.Tracer, tracer))

const parentId = (span: Tracer.AnySpan) => span._tag === "Span" && span.parent._tag === "Some" ? span.parent.value.spanId : undefined
const ctxOf = (span: Tracer.AnySpan) => traceparentOf(span)
const traceparent = (e: Event) => e.headers?.traceparent

describe("traces", () => {
  it.effect("a retried event keeps its publisher's context; each attempt is a process span under the publish span, and the follow-up continues the trace", () => {
    const { spans, tracer } = memoryTracer()
    return traced(tracer, Effect.gen(function*() {
      const bus = yield* Bus
      const rec = yield* makeRecorder
      const next = yield* makeRecorder
      yield* bus.subscribe("orders", "billing", rec.handler((_, ctx) =>
        ctx.attempt === 1 ? Effect.fail(new Error("flaky")) : ctx.publish("invoices", { n: 1 })
      ), { from: "earliest", backoff: { initialMs: 100, jitter: 0 } })
      yield* bus.subscribe("invoices", "mailer", next.handler(), { from: "earliest" })
      const published = yield* bus.publish("orders", { n: 1 }).pipe(Effect.withSpan("client"))
      yield* rec.take(1)
      yield* settle
      yield* advance(100)
      yield* rec.take(1)
      const [followUp] = yield* next.take(1)
      yield* settle

      const client = spans.find((s) => s.name === "client")!
      const publish = spans.find((s) => s.name === "publish orders")!
      assert.strictEqual(publish.kind, "producer")
      assert.strictEqual(parentId(publish), client.spanId)
      assert.deepStrictEqual(Object.fromEntries(publish.attributes), {
        "messaging.system": "sibus", "messaging.operation.type": "send", "messaging.operation.name": "publish",
        "messaging.destination.name": "orders", "messaging.message.id": published.id
      })
      assert.strictEqual(traceparent(published), ctxOf(publish))

      const runs = spans.filter((s) => s.name === "process orders")
      assert.deepStrictEqual(runs.map((s) => [s.kind, parentId(s), s.traceId, s.attributes.get("messaging.sibus.message.delivery_attempt")]), [
        ["consumer", publish.spanId, client.traceId, 1],
        ["consumer", publish.spanId, client.traceId, 2]
      ])
      assert.deepStrictEqual(runs.map((s) => s.status._tag === "Ended" && s.status.exit._tag), ["Failure", "Success"])
      assert.strictEqual(runs[1]!.attributes.get("messaging.consumer.group.name"), "billing")
      assert.strictEqual(runs[1]!.attributes.get("messaging.message.id"), published.id)
      assert.strictEqual(runs[1]!.attributes.get("messaging.destination.name"), "orders")

      const publishB = spans.find((s) => s.name === "publish invoices")!
      assert.strictEqual(parentId(publishB), runs[1]!.spanId)
      assert.strictEqual(publishB.attributes.get("messaging.message.id"), followUp!.event.id)
      assert.strictEqual(traceparent(followUp!.event), ctxOf(publishB))
      const processB = spans.find((s) => s.name === "process invoices")!
      assert.strictEqual(parentId(processB), publishB.spanId)
      assert.strictEqual(processB.traceId, client.traceId)
      // Stored with the event: a later read has it too.
      const [stored] = yield* bus.read("orders", 0, 10)
      assert.strictEqual(traceparent(stored!), ctxOf(publish))
    }))
  })

  it.effect("a dead letter requeued later is processed under its publisher's span again", () => {
    const { spans, tracer } = memoryTracer()
    return traced(tracer, Effect.gen(function*() {
      const bus = yield* Bus
      const rec = yield* makeRecorder
      let healthy = false
      yield* bus.subscribe("t", "g", rec.handler(() => (healthy ? Effect.void : Effect.fail("down"))), { from: "earliest", maxAttempts: 1 })
      const event = yield* bus.publish("t", "p").pipe(Effect.withSpan("client"))
      yield* rec.take(1)
      yield* settle
      assert.strictEqual((yield* bus.deadLetters()).length, 1)
      healthy = true
      yield* bus.requeue("g", event.id)
      const [again] = yield* rec.take(1)
      yield* settle
      assert.strictEqual(traceparent(again!.event), traceparent(event))
      const publish = spans.find((s) => s.name === "publish t")!
      const runs = spans.filter((s) => s.name === "process t")
      assert.strictEqual(runs.length, 2)
      assert.deepStrictEqual(runs.map(parentId), [publish.spanId, publish.spanId])
      assert.deepStrictEqual(runs.map((s) => s.traceId), [publish.traceId, publish.traceId])
      assert.deepStrictEqual(yield* bus.deadLetters(), [])
    }))
  })

  it.effect("publishAll is one publish span that every event of the batch carries; a traceparent given by the caller is the publish's parent, and a malformed one starts a new trace", () => {
    const { spans, tracer } = memoryTracer()
    return traced(tracer, Effect.gen(function*() {
      const bus = yield* Bus
      const rec = yield* makeRecorder
      yield* bus.subscribe(["t", "u"], "g", rec.handler(), { from: "earliest" })
      const [e1, e2] = yield* bus.publishAll([{ topic: "t", payload: 1 }, { topic: "t", payload: 2 }])
      const mixed = yield* bus.publishAll([{ topic: "t", payload: 3 }, { topic: "u", payload: 4 }])
      const given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      const kept = yield* bus.publish("t", 5, { headers: { traceparent: given } })
      const bad = yield* bus.publish("t", 6, { headers: { traceparent: "garbage" } })
      yield* rec.take(6)
      yield* settle
      const batch = spans.find((s) => s.name === "publish t" && s.attributes.get("messaging.batch.message_count") === 2)!
      assert.strictEqual(traceparent(e1!), ctxOf(batch))
      assert.strictEqual(traceparent(e2!), ctxOf(batch))
      const several = spans.find((s) => s.name === "publish")!
      assert.isFalse(several.attributes.has("messaging.destination.name"))
      assert.deepStrictEqual(mixed.map(traceparent), [ctxOf(several), ctxOf(several)])
      // The caller's traceparent (no span around the publish) is the publish span's parent; the
      // event carries the publish span, so the run is the publish's child, in the caller's trace.
      const keptPublish = spans.find((s) => s.name === "publish t" && s.attributes.get("messaging.message.id") === kept.id)!
      assert.strictEqual(keptPublish.traceId, "0af7651916cd43dd8448eb211c80319c")
      assert.strictEqual(parentId(keptPublish), "b7ad6b7169203331")
      assert.strictEqual(traceparent(kept), ctxOf(keptPublish))
      const runOf = (e: Event) => spans.find((s) => s.name.startsWith("process ") && s.attributes.get("messaging.message.id") === e.id)!
      assert.strictEqual(parentId(runOf(kept)), keptPublish.spanId)
      assert.strictEqual(runOf(kept).traceId, "0af7651916cd43dd8448eb211c80319c")
      // A malformed one is no parent: the publish span starts a trace and the event carries it.
      const badPublish = spans.find((s) => s.name === "publish t" && s.attributes.get("messaging.message.id") === bad.id)!
      assert.isUndefined(parentId(badPublish))
      assert.strictEqual(traceparent(bad), ctxOf(badPublish))
      assert.strictEqual(parentId(runOf(bad)), badPublish.spanId)
      assert.strictEqual(parentId(runOf(e1!)), batch.spanId)
    }))
  })

  it.effect("without a tracer: no spans made by the bus, no header unless the publisher has a span; a handler's follow-up carries the event's", () =>
    Effect.gen(function*() {
      const bus = yield* Bus
      const rec = yield* makeRecorder
      const next = yield* makeRecorder
      yield* bus.subscribe("a", "g", rec.handler((_, ctx) => ctx.publish("b", 1)), { from: "earliest" })
      yield* bus.subscribe("b", "h", next.handler(), { from: "earliest" })
      const plain = yield* bus.publish("a", 0)
      assert.strictEqual(plain.headers, undefined)
      const withSpan = yield* Effect.withSpan(bus.publish("a", 1, { headers: { x: "y" } }), "client")
      assert.strictEqual(withSpan.headers?.x, "y")
      assert.isDefined(parseTraceparent(withSpan.headers?.traceparent))
      const [, second] = yield* next.take(2)
      yield* settle
      const all = next.all.map((d) => d.event.headers?.traceparent)
      assert.deepStrictEqual(all.sort(), [withSpan.headers!.traceparent, undefined].sort())
      assert.isDefined(second)
    }).pipe(Effect.provide(Bus.open(":memory:"), { local: true })))

  it("traceparent: formats and parses version 00, refuses the malformed", () => {
    const span = parseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")!
    assert.deepStrictEqual([span.traceId, span.spanId, span.sampled], ["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", true])
    assert.strictEqual(traceparentOf(span), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    for (const bad of [undefined, "", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "00-xyz"]) {
      assert.isUndefined(parseTraceparent(bad), String(bad))
    }
  })

  it("OTLP options come from the standard variables, and nothing is exported without an endpoint", () => {
    assert.isUndefined(otlpOptionsFromEnv({}))
    assert.isUndefined(otlpOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }))
    assert.isUndefined(otlpOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_TRACES_EXPORTER: "none" }))
    assert.deepStrictEqual(otlpOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }), {
      url: "http://c:4318/v1/traces", encoding: "json", serviceName: "sibus"
    })
    assert.deepStrictEqual(otlpOptionsFromEnv({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t/x", OTEL_SERVICE_NAME: "shop",
      OTEL_EXPORTER_OTLP_HEADERS: "api-key=a%20b,x=1", OTEL_BSP_SCHEDULE_DELAY: "200"
    }), { url: "http://t/x", encoding: "protobuf", serviceName: "shop", headers: { "api-key": "a b", x: "1" }, exportIntervalMs: 200 })
    assert.strictEqual(otlpOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TIMEOUT: "2500" })?.exportTimeoutMs, 2500)
    assert.strictEqual(otlpOptionsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TIMEOUT: "2500", OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: "700" })?.exportTimeoutMs, 700)
  })

  it.effect("without an endpoint, layerFromEnv still provides Effect's OtlpExporter.Flusher: what registers with it (an application's own OTLP layers) is flushed", () =>
    Effect.gen(function*() {
      const flusher = yield* OtlpExporter.Flusher
      let flushed = 0
      yield* Effect.scoped(Effect.gen(function*() {
        yield* flusher.register(Effect.sync(() => flushed++))
        yield* flusher.flush
      }))
      assert.strictEqual(flushed, 1)
      // Unregistered when its scope closed.
      yield* flusher.flush
      assert.strictEqual(flushed, 1)
    }).pipe(Effect.provide(layerFromEnv({}))))
})
