/**
 * Traces: the W3C `traceparent` an event carries in its headers, the OpenTelemetry messaging span
 * names and attributes of a publish (`publish <topic>`, producer) and of a handler run (`process
 * <topic>`, consumer), and the OTLP export layer (`Tracing.layerOtlp`, `Tracing.layerFromEnv`).
 * The bus makes spans only when a tracer other than Effect's default in-memory one is installed
 * (`tracingOn`); this module does not decide where spans are made (`Bus.ts`, `group/`).
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import type * as OtlpExporter from "effect/observability/OtlpExporter"
import * as Tracer from "effect/Tracer"
import type { PublishOptions } from "../runtime/publish.ts"

/** The header that carries the publisher's trace context (W3C Trace Context). */
export const traceparentHeader = "traceparent"

/** Whether a tracing backend is installed (Effect's default tracer keeps spans in memory only). */
export const tracingOn = (fiber: Fiber.Fiber<unknown, unknown>): boolean => fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer

/** The fiber's current span (its own or an external parent), if any. */
export const currentSpanOf = (fiber: Fiber.Fiber<unknown, unknown>): Tracer.AnySpan | undefined =>
  Context.getOrUndefined(fiber.context, Tracer.ParentSpan)

const hex32 = /^[0-9a-f]{32}$/
const hex16 = /^[0-9a-f]{16}$/

/** `00-<trace id>-<span id>-<flags>`; undefined when the span's ids are not W3C-shaped. */
export const traceparentOf = (span: Tracer.AnySpan): string | undefined =>
  hex32.test(span.traceId) && hex16.test(span.spanId) ? `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}` : undefined

/** The remote parent a `traceparent` names, or undefined when it is not a valid version-00 one. */
export const parseTraceparent = (value: string | undefined): Tracer.ExternalSpan | undefined => {
  if (value === undefined || value.length !== 55) return undefined
  const [version, traceId, spanId, flags] = value.split("-")
  if (version !== "00" || traceId === undefined || spanId === undefined || flags === undefined || !hex32.test(traceId) ||
    !hex16.test(spanId) || !/^[0-9a-f]{2}$/.test(flags) || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return Tracer.externalSpan({ traceId, spanId, sampled: (parseInt(flags, 16) & 1) === 1 })
}

/**
 * The publish options with `traceparent` set to `span`'s context; unchanged when there is no span,
 * when the caller set one, or when the options are not a plain object (`prepare` refuses those).
 */
export const withTraceparent = (options: PublishOptions | undefined, traceparent: string | undefined): PublishOptions | undefined => {
  if (traceparent === undefined) return options
  if (options === undefined) return { headers: { [traceparentHeader]: traceparent } }
  if (typeof options !== "object" || options === null || Array.isArray(options)) return options
  const headers = options.headers
  if (headers === undefined) return { ...options, headers: { [traceparentHeader]: traceparent } }
  if (typeof headers !== "object" || headers === null || Array.isArray(headers) || traceparentHeader in headers) return options
  return { ...options, headers: { ...headers, [traceparentHeader]: traceparent } }
}

/**
 * A caller's own trace context for a publish made outside any span (a Promise-API caller's way to
 * propagate it): the `traceparent` its headers carry, as the parent the `publish` span takes (none
 * when it is not a valid one), and the options without it (the stored event then carries the
 * publish span's own, so its runs are the publish's children). Undefined when the fiber has a span
 * or the headers carry no traceparent.
 */
export const callerTraceparent = (
  fiber: Fiber.Fiber<unknown, unknown>,
  options: PublishOptions | undefined
): { readonly parent: Tracer.ExternalSpan | undefined; readonly options: PublishOptions } | undefined => {
  if (currentSpanOf(fiber) !== undefined || typeof options !== "object" || options === null) return undefined
  const headers = options.headers
  if (typeof headers !== "object" || headers === null || Array.isArray(headers) || !(traceparentHeader in headers)) return undefined
  // One that is not a valid traceparent is no parent; the event carries the publish span's instead.
  const given = (headers as Record<string, unknown>)[traceparentHeader]
  const parent = typeof given === "string" ? parseTraceparent(given) : undefined
  const { [traceparentHeader]: _, ...rest } = headers as Record<string, string>
  return { parent, options: { ...options, headers: rest } }
}

/** The `publish <topic>` span's options (OpenTelemetry messaging conventions); a batch over several topics names none. */
export const publishSpanOptions = (topic: string | undefined, batch?: number): Tracer.SpanOptions => {
  const attributes: Record<string, unknown> = { "messaging.system": "sibus", "messaging.operation.type": "send", "messaging.operation.name": "publish" }
  if (topic !== undefined) attributes["messaging.destination.name"] = topic
  if (batch !== undefined) attributes["messaging.batch.message_count"] = batch
  return { kind: "producer", captureStackTrace: false, attributes }
}

/** The span name of a publish to `topic`. */
export const publishSpanName = (topic: string) => `publish ${topic}`

/** The span name of a handler run of an event of `topic`. */
export const processSpanName = (topic: string) => `process ${topic}`

/** The `process <topic>` span's options: its parent is the publisher's context, else a new trace. */
export const processSpanOptions = (
  event: { readonly id: string; readonly topic: string; readonly headers?: Readonly<Record<string, string>> | undefined },
  group: string,
  attempt: number
): Tracer.SpanOptions => {
  const parent = parseTraceparent(event.headers?.[traceparentHeader])
  return {
    kind: "consumer",
    captureStackTrace: false,
    ...(parent === undefined ? { root: true } : { parent }),
    attributes: {
      "messaging.system": "sibus",
      "messaging.operation.type": "process",
      "messaging.operation.name": "process",
      "messaging.destination.name": event.topic,
      "messaging.consumer.group.name": group,
      "messaging.message.id": event.id,
      // Named as the conventions name it for Pub/Sub (`messaging.gcp_pubsub.message.delivery_attempt`).
      "messaging.sibus.message.delivery_attempt": attempt
    }
  }
}

/** Options of the OTLP/HTTP trace exporter. */
export interface OtlpOptions {
  /** The traces endpoint, e.g. `http://collector:4318/v1/traces`. */
  readonly url: string
  /** OTLP/HTTP encoding (default `"protobuf"`, as the OpenTelemetry default `http/protobuf`). */
  readonly encoding?: "json" | "protobuf" | undefined
  readonly serviceName?: string | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** How often batched spans are sent (ms; default 5000, Effect's default). */
  readonly exportIntervalMs?: number | undefined
  /**
   * How long one export may wait for the collector (ms; default 10000): a collector that takes a
   * request and never answers would otherwise hold a socket and its spans per export, without end.
   */
  readonly exportTimeoutMs?: number | undefined
}

const defaultExportTimeoutMs = 10_000

/**
 * Installs Effect's OTLP tracer, posting over global `fetch` (no platform package needed). Its
 * spans are flushed when the layer's scope closes. The exporter's modules (Effect's HTTP client
 * and Schema, ~20 MB of a process's memory) load when the layer is built, so a process that
 * exports no traces never loads them.
 */
export const layerOtlp = (options: OtlpOptions): Layer.Layer<OtlpExporter.Flusher> =>
  Layer.unwrap(Effect.promise(async () => {
    const [{ layer }, { layerJson, layerProtobuf }, { Fetch, layer: fetchClient }] = await Promise.all([
      import("effect/observability/OtlpTracer"),
      import("effect/observability/OtlpSerialization"),
      import("effect/http/FetchHttpClient")
    ])
    const timeoutMs = options.exportTimeoutMs ?? defaultExportTimeoutMs
    const timedFetch: typeof globalThis.fetch = (input, init) => {
      const timeout = AbortSignal.timeout(timeoutMs)
      return globalThis.fetch(input, { ...init, signal: init?.signal == null ? timeout : AbortSignal.any([init.signal, timeout]) })
    }
    return layer({
      url: options.url,
      resource: { serviceName: options.serviceName ?? "sibus" },
      ...(options.headers === undefined ? {} : { headers: options.headers }),
      ...(options.exportIntervalMs === undefined ? {} : { exportInterval: options.exportIntervalMs })
    }).pipe(
      Layer.provide(options.encoding === "json" ? layerJson : layerProtobuf),
      Layer.provide(fetchClient),
      Layer.provide(Layer.succeed(Fetch, timedFetch))
    )
  }))

/**
 * Effect's `OtlpExporter.Flusher` service, found by its key (services are): the exporter's own
 * tag lives in a module that loads the HTTP client. Without our exporter, an application's own
 * OTLP layers (logs, metrics) still register with it and are flushed, as by `layerFlusher`.
 */
const Flusher = Context.Service<OtlpExporter.Flusher, OtlpExporter.Flusher["Service"]>("effect/observability/OtlpExporter/Flusher")
const noExporter: Layer.Layer<OtlpExporter.Flusher> = Layer.sync(Flusher, () => {
  const registry = new Set<Effect.Effect<void>>()
  return {
    flush: Effect.forEach(registry, (run) => run, { concurrency: "unbounded", discard: true }),
    register: (run) =>
      Effect.flatMap(Effect.scope, (scope) => {
        registry.add(run)
        return Scope.addFinalizer(scope, Effect.sync(() => registry.delete(run)))
      })
  }
})

/** The OTLP options the standard environment variables name, or undefined when no endpoint is set. */
export const otlpOptionsFromEnv = (env: Readonly<Record<string, string | undefined>>, serviceName = "sibus"): OtlpOptions | undefined => {
  const nonEmpty = (name: string) => {
    const v = env[name]?.trim()
    return v === undefined || v === "" ? undefined : v
  }
  if (nonEmpty("OTEL_SDK_DISABLED")?.toLowerCase() === "true") return undefined
  const exporter = nonEmpty("OTEL_TRACES_EXPORTER")?.toLowerCase()
  if (exporter !== undefined && !exporter.split(",").map((s) => s.trim()).includes("otlp")) return undefined
  let url = nonEmpty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
  if (url === undefined) {
    const base = nonEmpty("OTEL_EXPORTER_OTLP_ENDPOINT")
    if (base === undefined) return undefined
    url = base.endsWith("/") ? `${base}v1/traces` : `${base}/v1/traces`
  }
  const protocol = nonEmpty("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? nonEmpty("OTEL_EXPORTER_OTLP_PROTOCOL")
  const headersText = nonEmpty("OTEL_EXPORTER_OTLP_TRACES_HEADERS") ?? nonEmpty("OTEL_EXPORTER_OTLP_HEADERS")
  const headers: Record<string, string> = {}
  for (const pair of headersText?.split(",") ?? []) {
    const at = pair.indexOf("=")
    if (at > 0) headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim())
  }
  const delay = Number(nonEmpty("OTEL_BSP_SCHEDULE_DELAY"))
  const timeout = Number(nonEmpty("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT") ?? nonEmpty("OTEL_EXPORTER_OTLP_TIMEOUT"))
  return {
    url,
    encoding: protocol === "http/json" ? "json" : "protobuf",
    serviceName: nonEmpty("OTEL_SERVICE_NAME") ?? serviceName,
    ...(Object.keys(headers).length === 0 ? {} : { headers }),
    ...(Number.isFinite(delay) && delay > 0 ? { exportIntervalMs: delay } : {}),
    ...(Number.isSafeInteger(timeout) && timeout > 0 ? { exportTimeoutMs: timeout } : {})
  }
}

/** `layerOtlp` configured from the environment (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...); empty if unset. */
export const layerFromEnv = (env: Readonly<Record<string, string | undefined>> = process.env, serviceName?: string): Layer.Layer<OtlpExporter.Flusher> => {
  const options = otlpOptionsFromEnv(env, serviceName)
  return options === undefined ? noExporter : layerOtlp(options)
}

/** The Effect API of traces: `Tracing.layerOtlp(options)`, `Tracing.layerFromEnv()`. */
export const Tracing = { layerOtlp, layerFromEnv, otlpOptionsFromEnv, parseTraceparent, traceparentOf, traceparentHeader } as const

