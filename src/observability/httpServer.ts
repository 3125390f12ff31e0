/**
 * The operator's HTTP server (`sib run --http`, `rt.serveHttp`, `MetricsHttp.layer`): a `node:http`
 * server in an Effect scope (listening when acquired, closed with its connections when the scope
 * closes) that answers a table of routes, each an Effect run in the server's context. A reply is a
 * body, or a stream of text chunks (server-sent events) written as they come and ended when the
 * stream ends, the client leaves or the scope closes. The table holds `GET /metrics`
 * (`metricsRoutes`) and, with the ops page, the page's routes (`web/opsRoutes.ts`).
 *
 * Binding: an address is `host:port` or a port alone (then 127.0.0.1). A host that is not a
 * loopback address is refused unless `allowRemote` says so: metrics name topics and groups, and
 * the ops page shows payloads, which is not for the network at large.
 *
 * Not `@effect/platform-node`'s server: an embedding application would have to install that
 * package (and its dependencies) for one route, and `node:http` keeps `sib` quick to start.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Layer from "effect/Layer"
import { BusMetrics, type Recorder } from "./BusMetrics.ts"
import { defaultHost, defaultPort, type HttpAddress, HttpServeError, isLoopback, isLoopbackHostHeader, serveOptionsProblem } from "./httpAddress.ts"

export { defaultHost, defaultPort, HttpServeError, isLoopback, parseHttpAddress } from "./httpAddress.ts"
export type { HttpAddress } from "./httpAddress.ts"

export interface ServeOptions extends Partial<HttpAddress> {
  /** Allow a host that is not a loopback address (the server is then reachable from the network). */
  readonly allowRemote?: boolean | undefined
}


/** A request as a route sees it. */
export interface HttpRequest {
  readonly method: string
  readonly url: URL
  readonly headers: IncomingMessage["headers"]
  /** The request's body as UTF-8 ("" for GET; at most `maxRequestBytes`, a longer one is refused with 413). */
  readonly body: string
}

/** A route's answer: a body (`kind` "body" or absent) or a stream. */
export type HttpReply = HttpBodyReply | HttpStreamReply

export interface HttpBodyReply {
  readonly kind?: "body" | undefined
  readonly status: number
  readonly contentType: string
  readonly body: string
  /** More response headers (`content-type`, `content-length` and `cache-control: no-store` are set already). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * A reply written chunk by chunk as `stream` emits (server-sent events): it ends when the stream
 * ends or fails, when the client goes away (the stream is interrupted), or when the server's scope
 * closes. A client that stops reading is disconnected once `maxBufferedBytes` wait unsent.
 */
export interface HttpStreamReply {
  readonly kind: "stream"
  readonly status: number
  readonly contentType: string
  readonly stream: Stream.Stream<string>
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** The largest request body a route is given. */
export const maxRequestBytes = 64 * 1024
/** Unsent bytes of a streamed reply after which its client is disconnected (it stopped reading). */
export const maxBufferedBytes = 1024 * 1024

export interface Route {
  readonly method: "GET" | "POST"
  readonly path: string
  readonly handle: (request: HttpRequest) => Effect.Effect<HttpReply>
}

/** A running server: where it listens (the bound port, when 0 was asked) and its base URL. */
export interface HttpServerInfo extends HttpAddress {
  readonly url: string
}

const text = (status: number, body: string): HttpBodyReply => ({ status, contentType: "text/plain; charset=utf-8", body })

/** `GET /metrics`: the bus's metrics in Prometheus text format (lag read from the store first). */
export const metricsRoutes = (metrics: Recorder): ReadonlyArray<Route> => [{
  method: "GET",
  path: "/metrics",
  handle: () => Effect.map(metrics.text, (body) => ({ status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body }))
}]

/**
 * Sent with every reply unless its route says otherwise (the ops page sends its own policy): no
 * reply is a document that may load or run anything, or be framed.
 */
const strictHeaders = { "content-security-policy": "default-src 'none'; frame-ancestors 'none'", "x-content-type-options": "nosniff" }

const reply = (res: ServerResponse, r: HttpBodyReply, head: boolean) => {
  res.writeHead(r.status, {
    ...strictHeaders,
    ...r.headers,
    "content-type": r.contentType,
    "content-length": Buffer.byteLength(r.body),
    "cache-control": "no-store"
  })
  res.end(head ? undefined : r.body)
}

/** Writes `r.stream` to `res` until it ends; interrupted when the client leaves. */
const streamTo = (res: ServerResponse, r: HttpStreamReply) =>
  Effect.gen(function*() {
    res.writeHead(r.status, { ...r.headers, "content-type": r.contentType, "cache-control": "no-store", "x-accel-buffering": "no" })
    res.flushHeaders()
    yield* Stream.runForEach(r.stream, (chunk) =>
      Effect.sync(() => {
        if (res.writableLength > maxBufferedBytes) res.destroy()
        else res.write(chunk)
      }))
  }).pipe(
    Effect.raceFirst(Effect.callback<void>((resume) => {
      const gone = () => resume(Effect.void)
      res.once("close", gone)
      return Effect.sync(() => res.off("close", gone))
    })),
    Effect.ensuring(Effect.sync(() => res.end())),
    Effect.ignore
  )

/** The request's body, at most `maxRequestBytes` (undefined: longer). */
const readBody = (req: IncomingMessage) =>
  Effect.callback<string | undefined>((resume) => {
    const chunks: Array<Buffer> = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxRequestBytes) {
        req.off("data", onData)
        req.resume()
        resume(Effect.succeed(undefined))
      } else chunks.push(chunk)
    }
    req.on("data", onData)
    req.once("end", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
    req.once("error", () => resume(Effect.succeed(undefined)))
  })

/**
 * Listens on `options` (default 127.0.0.1:9464) and answers `routes` until the scope closes (an
 * unknown option, or one that does not fit, fails with `HttpServeError` before it listens). An
 * unknown path is 404, a known path with another method 405; a route that fails or dies is 500.
 * Requests under way and streamed replies are interrupted when the scope closes, before the server
 * closes its connections.
 */
export const serveHttp = (
  routes: ReadonlyArray<Route>,
  options: ServeOptions = {}
): Effect.Effect<HttpServerInfo, HttpServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const problem = serveOptionsProblem(options)
    if (problem !== undefined) return yield* problem
    const host = options.host ?? defaultHost
    const port = options.port ?? defaultPort
    if (!Number.isInteger(port) || port < 0 || port > 65535) return yield* new HttpServeError({ message: `port ${String(port)}: must be an integer from 0 to 65535` })
    if (!isLoopback(host) && options.allowRemote !== true) {
      return yield* new HttpServeError({
        message: `${host} is not a loopback address: what it serves would be reachable from the network; listen on 127.0.0.1 (the default), or allow it explicitly (sib run --http-allow-remote; allowRemote: true)`
      })
    }
    const requests = yield* FiberSet.make<void>()
    const run = yield* FiberSet.runtime(requests)<never>()
    const answer = (req: IncomingMessage, res: ServerResponse, route: Route, method: string, url: URL, head: boolean) =>
      Effect.gen(function*() {
        const body = method === "GET" || method === "HEAD" ? "" : yield* readBody(req)
        if (body === undefined) return reply(res, text(413, `the request's body is over ${maxRequestBytes} bytes\n`), head)
        const r = yield* Effect.catchCause(route.handle({ method, url, headers: req.headers, body }), () => Effect.succeed(text(500, "internal error\n")))
        if (r.kind === "stream") {
          if (head) return reply(res, { status: r.status, contentType: r.contentType, body: "", headers: r.headers }, true)
          return yield* streamTo(res, r)
        }
        reply(res, r, head)
      }).pipe(Effect.catchCause((cause) =>
        // Interrupted (the server is closing): a streamed reply has ended itself; others are cut with their connection.
        Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.sync(() => (res.headersSent ? res.destroy() : reply(res, text(500, "internal error\n"), head)))
      ))
    const loopbackOnly = isLoopback(host)
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? "/", "http://localhost")
      const method = req.method ?? "GET"
      const head = method === "HEAD"
      // Listening on loopback, every route (metrics too) answers requests to a loopback name only.
      if (loopbackOnly && !isLoopbackHostHeader(req.headers.host)) {
        return reply(res, text(403, `this server answers requests to a loopback address only (Host: ${req.headers.host ?? "none"})\n`), head)
      }
      const atPath = routes.filter((r) => r.path === url.pathname)
      const route = atPath.find((r) => r.method === method || (head && r.method === "GET"))
      if (route === undefined) {
        return reply(res, atPath.length === 0 ? text(404, "not found\n") : text(405, "method not allowed\n"), head)
      }
      run(answer(req, res, route, method, url, head))
    }
    const server = yield* Effect.acquireRelease(
      Effect.callback<Server, HttpServeError>((resume) => {
        const s = createServer(handler)
        const failed = (e: Error) => resume(Effect.fail(new HttpServeError({ message: `cannot listen on ${host}:${port}: ${e.message}` })))
        s.once("error", failed)
        s.listen(port, host, () => {
          s.off("error", failed)
          resume(Effect.succeed(s))
        })
      }),
      (s) => Effect.callback<void>((resume) => {
        s.close(() => resume(Effect.void))
        s.closeAllConnections()
      })
    )
    // Runs before the server closes: streamed replies end (their finalizers end the responses).
    yield* Effect.addFinalizer(() => FiberSet.clear(requests))
    const bound = (server.address() as AddressInfo).port
    const shown = host.includes(":") ? `[${host}]` : host
    return { host, port: bound, url: `http://${shown}:${bound}` }
  })

/** The running HTTP server of `MetricsHttp.layer`: where it listens. */
export class MetricsHttp extends Context.Service<MetricsHttp, HttpServerInfo>()("sibus/MetricsHttp") {
  /** Serves `GET /metrics` of the provided `BusMetrics` (see `serveHttp`) while the layer's scope is open. */
  static readonly layer = (options: ServeOptions = {}): Layer.Layer<MetricsHttp, HttpServeError, BusMetrics> =>
    Layer.effect(MetricsHttp, Effect.flatMap(Effect.service(BusMetrics), (metrics) => serveHttp(metricsRoutes(metrics), options)))
}
