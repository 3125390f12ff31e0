/**
 * The ops page's routes, served beside `GET /metrics` by `sib run --http` and
 * `rt.serveHttp({ page: true })`. The page and its assets; JSON reads (the figures, dead letters
 * with their payloads, a topic's events by seq, time or latest, one event, its causation tree);
 * the live figures as server-sent events (`GET /events`, from one shared `Feed`); and the two
 * actions, requeue and drop a dead letter, as POSTs that need the token (`auth.ts`). Reads go
 * through `Inspect` and the store's `eventsCausedBy`, actions through the bus, so both dialects
 * serve the same page. Every reply carries the page's headers (`page.ts`).
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { didYouMean } from "../../diagnostics/suggest.ts"
import { Bus, type BusShape } from "../../runtime/Bus.ts"
import { GroupError } from "../../runtime/busErrors.ts"
import { causationTree, defaultCausationBounds } from "../../runtime/causation.ts"
import * as Inspect from "../../runtime/Inspect.ts"
import { Store, type StoreShape } from "../../store/Store.ts"
import type { HttpBodyReply, HttpReply, HttpRequest, Route } from "../httpServer.ts"
import { checkAction, checkHost, cryptoRandom, generateToken, type Refusal, sameToken, tokenOf, tokenProblem } from "./auth.ts"
import { type Feed, type FeedOptions, makeFeed } from "./feed.ts"
import { pageCss, pageHeaders, pageHtml, pageScript } from "./page.ts"
import { type ActionJson, deadLetterJson, type DeadLettersJson, type EventPageJson, eventInfoJson, eventJson, traceJson } from "./wire.ts"

export interface OpsPageOptions extends FeedOptions {
  /**
   * The token actions need (16 to 256 letters, digits or `._~+/=-`; another is a defect, a
   * `TypeError`); a new one (32 characters from a cryptographic `Random`) when absent.
   */
  readonly token?: string | undefined
  /**
   * Whether every request must name a loopback host (`Host: 127.0.0.1:...`, `localhost`): true
   * when the server listens on loopback, so a rebound DNS name cannot reach the page.
   */
  readonly loopbackOnly: boolean
  /** Pages watching the live figures at once (default 32; more are answered 503). */
  readonly maxWatchers?: number | undefined
}

export interface OpsPage {
  readonly routes: ReadonlyArray<Route>
  /** The token actions need (give it to the operator as `<url>/#token=<token>`). */
  readonly token: string
}

/** What the page reads and acts through: the bus (requeue, drop) and its store (`Inspect`, traces). */
export type OpsPageServices = Bus | Store

/** The page's address with the token in its fragment (never sent to a server, so never in its logs). */
export const pageUrl = (baseUrl: string, token: string) => `${baseUrl}/#token=${encodeURIComponent(token)}`

const json = (status: number, value: unknown): HttpBodyReply => ({
  status,
  contentType: "application/json; charset=utf-8",
  body: JSON.stringify(value),
  headers: pageHeaders
})

const problem = (status: number, message: string) => json(status, { error: message })

/** " (did you mean x?)" when a known name is close to `name`. */
const hint = (name: string, known: ReadonlyArray<string>) => {
  const found = didYouMean(name, new Set(known))
  return found.length === 0 ? "" : ` (${found[0]})`
}

const refused = (r: Refusal): HttpBodyReply => ({
  ...problem(r.status, r.message),
  headers: r.status === 401 ? { ...pageHeaders, "www-authenticate": "Bearer" } : pageHeaders
})

const asset = (contentType: string, body: string): HttpBodyReply => ({ status: 200, contentType, body, headers: pageHeaders })

/** A whole number in `text` within [min, max], the default when absent, or a message. */
const whole = (name: string, text: string | null, fallback: number, min: number, max: number): number | string => {
  if (text === null || text === "") return fallback
  // Digits only: Number() would take 1e3, 0x10 and " 7 ".
  const n = /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : `${name} must be a whole number from ${min} to ${max} (got ${JSON.stringify(text)})`
}

/** The body of an action: `{ "group": "...", "eventId": "..." }`, or what is wrong with it. */
const actionBody = (body: string): { readonly group: string; readonly eventId: string } | string => {
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch {
    return "the body is not JSON: send { \"group\": ..., \"eventId\": ... }"
  }
  const o = typeof value === "object" && value !== null ? value as Record<string, unknown> : {}
  const { eventId, group } = o
  if (typeof group !== "string" || group.length === 0 || group.length > 1000) return "the body needs \"group\": the dead letter's group"
  if (typeof eventId !== "string" || eventId.length === 0 || eventId.length > 1000) return "the body needs \"eventId\": the dead letter's event id"
  return { group, eventId }
}

const serverSentEvents = (feed: Feed): Stream.Stream<string> =>
  Stream.concat(
    Stream.make("retry: 2000\n\n"),
    Stream.map(feed.changes, (o) => `event: overview\ndata: ${JSON.stringify(o)}\n\n`)
  )

/** The routes, over the bus and store of the context; the feed's poller lives in the current scope. */
export const opsPage = (options: OpsPageOptions): Effect.Effect<OpsPage, never, OpsPageServices | Scope.Scope> =>
  Effect.gen(function*() {
    const badToken = options.token === undefined ? undefined : tokenProblem(options.token)
    if (badToken !== undefined) return yield* Effect.die(new TypeError(`opsPage's token: ${badToken}`))
    const bus: BusShape = yield* Effect.service(Bus)
    const store: StoreShape = yield* Effect.service(Store)
    const inspect = Inspect.make(store)
    const feed = yield* makeFeed(inspect, options)
    const token = options.token ?? (yield* Effect.provideService(generateToken, Random.Random, cryptoRandom))
    const maxWatchers = options.maxWatchers ?? 32
    let watchers = 0
    const watched = Stream.unwrap(Effect.as(
      Effect.acquireRelease(Effect.sync(() => watchers++), () => Effect.sync(() => watchers--)),
      serverSentEvents(feed)
    ))

    /** Why `topic` names no topic (no events, no settings), with the closest name; undefined: it exists. */
    const unknownTopic = (topic: string) =>
      Effect.gen(function*() {
        if ((yield* inspect.headSeq(topic)) > 0) return undefined
        const names = (yield* inspect.topics).map((t) => t.name)
        if (names.includes(topic)) return undefined
        return `no topic ${topic}${hint(topic, names)}: a topic exists once it has events or a program defined it`
      })

    /** A route for reading: the host check, then `handle`; a store failure is 503 with its message. */
    const read = (path: string, handle: (request: HttpRequest) => Effect.Effect<HttpReply, unknown>): Route => ({
      method: "GET",
      path,
      handle: (request) => {
        const wrongHost = checkHost(request, options.loopbackOnly)
        if (wrongHost !== undefined) return Effect.succeed(refused(wrongHost))
        return handle(request).pipe(
          Effect.catch((e) => Effect.succeed(problem(503, `the database could not be read: ${e instanceof Error ? e.message : String(e)}`)))
        )
      }
    })

    /** A route for acting: host, cross-site and token checks, then `handle` with the parsed body. */
    const action = (path: string, handle: (group: string, eventId: string) => Effect.Effect<ActionJson, unknown>): Route => ({
      method: "POST",
      path,
      handle: (request) => {
        const refusal = checkHost(request, options.loopbackOnly) ?? checkAction(request, token)
        if (refusal !== undefined) return Effect.succeed(refused(refusal))
        const body = actionBody(request.body)
        if (typeof body === "string") return Effect.succeed(problem(400, body))
        return handle(body.group, body.eventId).pipe(
          Effect.map((answer) => json(answer.ok ? 200 : 404, answer)),
          Effect.catch((e) =>
            Effect.succeed(
              // No group of that name (a typo: its message names the closest one).
              e instanceof GroupError
                ? json(404, { ok: false, message: e.message } satisfies ActionJson)
                : problem(503, `the database could not be changed: ${e instanceof Error ? e.message : String(e)}`)
            ))
        )
      }
    })

    const routes: Array<Route> = [
      read("/", () => Effect.succeed(asset("text/html; charset=utf-8", pageHtml))),
      read("/app.js", () => Effect.succeed(asset("text/javascript; charset=utf-8", pageScript))),
      read("/app.css", () => Effect.succeed(asset("text/css; charset=utf-8", pageCss))),
      read("/favicon.ico", () => Effect.succeed({ status: 204, contentType: "image/x-icon", body: "", headers: pageHeaders })),
      read("/api/overview", () => Effect.map(feed.now, (o) => json(200, o))),
      read("/api/token", (request) => {
        const given = tokenOf(request)
        return Effect.succeed(
          given !== undefined && sameToken(token, given) ? json(200, { valid: true }) : refused({ status: 401, message: "no token, or not this server's" })
        )
      }),
      read("/api/dead-letters", (request) =>
        Effect.gen(function*() {
          const q = request.url.searchParams
          const limit = whole("limit", q.get("limit"), 100, 1, 1000)
          if (typeof limit === "string") return problem(400, limit)
          const offset = whole("offset", q.get("offset"), 0, 0, Number.MAX_SAFE_INTEGER)
          if (typeof offset === "string") return problem(400, offset)
          const group = q.get("group") || undefined
          const topic = q.get("topic") || undefined
          const positions = yield* inspect.positions
          if (group !== undefined && !positions.some((p) => p.cursor.group === group)) {
            return problem(404, `no group ${group}${hint(group, positions.map((p) => p.cursor.group))} consumes any topic`)
          }
          if (topic !== undefined) {
            const unknown = yield* unknownTopic(topic)
            if (unknown !== undefined) return problem(404, unknown)
          }
          const list = yield* inspect.deadLetters({ group, topic, limit, offset })
          const events = new Map((yield* inspect.eventsAt(list.map((d) => d.seq))).map((e) => [e.seq, e]))
          const total = positions
            .filter((p) => (group === undefined || p.cursor.group === group) && (topic === undefined || p.cursor.topic === topic))
            .reduce((n, p) => n + p.deadLetters, 0)
          const out: DeadLettersJson = { deadLetters: list.map((d) => deadLetterJson(d, events.get(d.seq))), total: list.length === 0 ? total : Math.max(total, offset + list.length), offset }
          return json(200, out)
        })),
      read("/api/events", (request) =>
        Effect.gen(function*() {
          const q = request.url.searchParams
          const topic = q.get("topic")
          if (topic === null || topic === "") return problem(400, "which topic? (?topic=...)")
          const limit = whole("limit", q.get("limit"), 50, 1, 500)
          if (typeof limit === "string") return problem(400, limit)
          const after = whole("after", q.get("after"), -1, 0, Number.MAX_SAFE_INTEGER)
          const seq = whole("seq", q.get("seq"), -1, 0, Number.MAX_SAFE_INTEGER)
          if (typeof after === "string") return problem(400, after)
          if (typeof seq === "string") return problem(400, seq)
          const time = q.get("time")
          let floor: number
          if (after >= 0) floor = after
          else if (seq >= 0) floor = Math.max(0, seq - 1)
          else if (time !== null && time !== "") {
            const ms = /^\d+$/.test(time) ? Number(time) : Date.parse(time)
            if (!Number.isFinite(ms)) return problem(400, `${JSON.stringify(time)} is not a time: use ISO 8601 (2026-12-07T10:00:00Z) or epoch milliseconds`)
            floor = yield* inspect.floorOf(topic, { ts: ms })
          } else floor = yield* inspect.floorForLast(topic, limit)
          const events = yield* inspect.read(topic, floor, limit)
          if (events.length === 0) {
            const unknown = yield* unknownTopic(topic)
            if (unknown !== undefined) return problem(404, unknown)
          }
          // A page that is not full reached the topic's end: no next page (yet).
          const page: EventPageJson = { topic, events: events.map(eventJson), next: events.length < limit ? null : events[events.length - 1]!.seq }
          return json(200, page)
        })),
      read("/api/event", (request) =>
        Effect.gen(function*() {
          const id = request.url.searchParams.get("id")
          if (id === null || id === "") return problem(400, "which event? (?id=...)")
          const info = yield* inspect.event(id)
          return info === undefined ? problem(404, "no event has that id (pruned, compacted, or never published)") : json(200, eventInfoJson(info))
        })),
      read("/api/trace", (request) =>
        Effect.gen(function*() {
          const q = request.url.searchParams
          const id = q.get("id")
          if (id === null || id === "") return problem(400, "which event? (?id=...)")
          const depth = whole("depth", q.get("depth"), defaultCausationBounds.depth, 0, 100)
          const breadth = whole("breadth", q.get("breadth"), defaultCausationBounds.breadth, 0, 1000)
          if (typeof depth === "string") return problem(400, depth)
          if (typeof breadth === "string") return problem(400, breadth)
          const root = yield* inspect.event(id)
          if (root === undefined) return problem(404, "no event has that id (pruned, compacted, or never published)")
          const reads = { event: inspect.event, eventsCausedBy: store.admin.eventsCausedBy }
          const tree = yield* causationTree(reads, { ...defaultCausationBounds, depth, breadth, maxEvents: 200 }, root)
          return json(200, traceJson(tree))
        })),
      read("/events", () =>
        Effect.sync((): HttpReply =>
          watchers >= maxWatchers
            ? problem(503, `${maxWatchers} pages watch this server already`)
            : { kind: "stream", status: 200, contentType: "text/event-stream; charset=utf-8", headers: pageHeaders, stream: watched }
        )),
      action("/api/requeue", (group, eventId) =>
        Effect.map(bus.requeue(group, [eventId]), (n): ActionJson =>
          n === 0
            ? { ok: false, message: `group ${group} has no dead letter for event ${eventId}` }
            : { ok: true, message: `requeued event ${eventId} in group ${group}: it is delivered again with fresh attempts` })),
      action("/api/drop", (group, eventId) =>
        Effect.map(bus.dropDeadLetter(group, eventId), (dropped): ActionJson =>
          dropped
            ? { ok: true, message: `dropped the dead letter of event ${eventId} in group ${group}` }
            : { ok: false, message: `group ${group} has no dead letter for event ${eventId}` }))
    ]
    return { routes, token }
  })
