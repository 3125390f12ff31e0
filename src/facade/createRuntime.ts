/**
 * `createRuntime({ db })`: the bus for code that does not use Effect. It opens the store and the
 * bus in a `ManagedRuntime`; its methods are the `Bus` operations as Promises (their types are
 * derived from `BusShape`, so they are documented there), run by the facade `Runner`: each resolves
 * with its result or rejects with its typed error instance, and `close()` stops the outbox relays
 * and programs started on it, lets the calls under way finish (a maintenance pass is cut short),
 * drains the groups and closes the database. Also `.sib` programs (`load`, `registerHost`),
 * the bus's metrics (`metrics`, `serveHttp`) and `runSibTests`.
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Exit from "effect/Exit"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AsyncLocalStorage } from "node:async_hooks"
import { constants as osConstants } from "node:os"
import type { Event } from "../store/records.ts"
import type { BusOptions, BusShape } from "../runtime/Bus.ts"
import { Bus, type OpenOptions } from "./Bus.ts"
import { BusMetrics, type Recorder } from "../observability/BusMetrics.ts"
import type { HttpServerInfo, ServeOptions } from "../observability/httpServer.ts"
import { HttpServeError, serveOptionsProblem, serveSpec } from "../observability/httpAddress.ts"
import { tokenProblem } from "../observability/web/auth.ts"
import type { OpsPageServices } from "../observability/web/opsRoutes.ts"
import { BusClosedError, BusOptionsError, SubscribeError } from "../runtime/busErrors.ts"
import { boolean, check, custom, invalid, problemText, shown, spec, string } from "../options/spec.ts"
import { diagnostic, SibError } from "../diagnostics/Diagnostic.ts"
import type { SubscribeOptions } from "../runtime/subscribeOptions.ts"
import type { TopicOptions } from "../runtime/Topic.ts"
import { liveProblem, type LiveOptions } from "../runtime/live.ts"
import { hostEntry, type HostValue, HostValueError } from "../lang/host.ts"
import type { Source } from "../program/load.ts"
import { sourceProblem } from "../program/sources.ts"
import type { Limits } from "../lang/budget.ts"
import type { TestReport } from "../program/testReport.ts"
import { layerFromEnv, layerOtlp, type OtlpOptions } from "../observability/tracing.ts"
import { type LogFunction, logTo } from "./logSink.ts"
export type { HandlerContext, PromiseHandler } from "./promiseHandler.ts"
import { type InHandler, type PromiseHandler, runPromiseHandler } from "./promiseHandler.ts"
import type { BusEventListener } from "../runtime/busEvents.ts"
import { addOutboxGauge, makeRunner, onRuntimeClose, type Promised, runtimeWork } from "./Runner.ts"

export interface RuntimeOptions extends BusOptions {
  /** A SQLite file path, `:memory:`, or a `postgres://` URL. */
  readonly db: string
  /** SQLite durability: `NORMAL` (default) or `FULL` (sync on every commit). */
  readonly synchronous?: "NORMAL" | "FULL" | undefined
  readonly busyTimeoutMs?: number | undefined
  /** SQLite: the size the WAL is brought back to once long readers let go (default 64 MiB). */
  readonly walLimitBytes?: number | undefined
  /** SQLite: the most memory its page cache holds (default 4 MiB). */
  readonly pageCacheBytes?: number | undefined
  /** Postgres: the pool's size (default 10). */
  readonly maxConnections?: number | undefined
  /** SQLite: opens only an existing sibus database (a missing file is refused, not created). */
  readonly existing?: boolean | undefined
  /**
   * Opens an existing sibus database for reading only: reads, inspection and `live()` work, every
   * write is refused, and a consumer group is refused at `subscribe` (it writes its cursors).
   */
  readonly readOnly?: boolean | undefined
  /**
   * Where the runtime's log lines go (a group restarting, a lease taken over, a retention pass):
   * the console by default; a function receives each line with its level instead.
   */
  readonly logger?: LogFunction | undefined
  /** The bus's metrics (`rt.metrics()`, `rt.serveHttp()`): on by default; `false` records nothing. */
  readonly metrics?: OpenOptions["metrics"]
  /**
   * Traces (`publish <topic>` and `process <topic>` spans) exported over OTLP/HTTP: `"env"` reads
   * the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, ...; nothing when unset), or the
   * exporter's options. Default: no tracer (events still carry a caller's `traceparent` on).
   */
  readonly tracing?: "env" | OtlpOptions | undefined
}

/** A server started by `rt.serveHttp`: where it listens, and how to stop it (`close()` of the runtime stops it too). */
export interface HttpServerHandle extends HttpServerInfo {
  readonly close: () => Promise<void>
  /** With `page: true`: the ops page's address with its token (`http://127.0.0.1:9464/#token=...`), for the operator. */
  readonly pageUrl?: string | undefined
}

/** `rt.serveHttp`'s options: where to listen, and whether to serve the ops page beside the metrics. */
export interface HttpServeOptions extends ServeOptions {
  /** Serve the ops page at `/` (topics, groups, dead letters with requeue and drop, events, traces). */
  readonly page?: boolean | undefined
  /** The token the page's actions need (16 to 256 characters); a new random one when absent (see `pageUrl`). */
  readonly token?: string | undefined
}

/** A `.sib` program running on a runtime. */
export interface LoadedProgram {
  readonly files: ReadonlyArray<string>
  readonly topics: ReadonlyArray<string>
  readonly groups: ReadonlyArray<string>
  /** Stops its timers and drains its groups (closing the runtime does this too). */
  readonly stop: () => Promise<void>
}

export interface ProgramOptions {
  /** Host functions and objects for this program, besides those given to `registerHost`. */
  readonly host?: Readonly<Record<string, HostValue>> | undefined
  readonly limits?: Partial<Limits> | undefined
}

/** What `closeOnSignals` listens for and does. */
export interface CloseOnSignalsOptions {
  /** The signals that close the runtime (default SIGINT and SIGTERM). */
  readonly signals?: ReadonlyArray<NodeJS.Signals> | undefined
  /** Runs (and is awaited) on the first signal, before `close()`: stop your servers and timers here. */
  readonly onSignal?: ((signal: NodeJS.Signals) => unknown) | undefined
  /** Exit the process once closed (default true); false leaves it to end when nothing else keeps it alive. */
  readonly exit?: boolean | undefined
}

/** The bus operations a Promise runtime has, each as in `BusShape` but resolving a Promise. */
type BusCalls = Pick<
  BusShape,
  | "sid" | "publish" | "publishAll" | "ack" | "nack" | "getCursor" | "setCursor" | "deadLetters" | "requeue" | "dropDeadLetter"
  | "read" | "latestByKey" | "compact" | "prune" | "groupStats" | "deliveries" | "deleteGroup" | "purgeTopic" | "deleteTopic"
  | "describeGroup"
>

/** How each bus call behaves when `close()` comes while it runs, and what a refusal names. */
const calls: { readonly [K in Exclude<keyof BusCalls, "sid" | "groupStats">]: readonly [operation: string, onClose: "finish" | "interrupt"] } = {
  publish: ["publish", "finish"],
  publishAll: ["publish", "finish"],
  describeGroup: ["use the runtime", "finish"],
  ack: ["use the runtime", "finish"],
  nack: ["use the runtime", "finish"],
  getCursor: ["use the runtime", "finish"],
  setCursor: ["use the runtime", "finish"],
  deadLetters: ["use the runtime", "finish"],
  requeue: ["use the runtime", "finish"],
  dropDeadLetter: ["use the runtime", "finish"],
  read: ["use the runtime", "finish"],
  latestByKey: ["read", "finish"],
  // A maintenance pass is cut short (each of its steps is its own transaction) and rejects with BusClosedError.
  compact: ["compact", "interrupt"],
  prune: ["prune", "interrupt"],
  deliveries: ["use the runtime", "finish"],
  deleteGroup: ["use the runtime", "finish"],
  purgeTopic: ["use the runtime", "finish"],
  deleteTopic: ["use the runtime", "finish"]
}

export interface Runtime extends Promised<BusCalls> {
  /** Exposes a function or object, by name, to the `.sib` programs loaded after this call. */
  readonly registerHost: (name: string, value: HostValue) => void
  /**
   * Loads `.sib` files and starts them here: topics, groups, initial publishes, timers. All or
   * nothing: a program with any error rejects with `SibError` (every diagnostic; `error.render()`
   * shows them with source lines) and starts nothing; so do options it does not know. A source is
   * a file path, or `{ file, text }` (the text given, `file` naming it in messages).
   */
  readonly load: (files: string | ReadonlyArray<string | Source>, options?: ProgramOptions) => Promise<LoadedProgram>
  readonly defineTopic: (name: string, options?: TopicOptions) => Promise<void>
  /**
   * Calls `listener` with what happens to this process's groups: `deadLettered` (group, topic, seq,
   * eventId, key, attempts, error), `groupError` (a failing group, restarting in `restartInMs`),
   * `leaseLost` (another process took the group over). Returns the removal. A throwing listener is
   * ignored.
   */
  readonly onEvent: (listener: BusEventListener) => () => void
  /**
   * The bus's metrics in Prometheus text format (the `sib_*` families; lag is read from the
   * database first). Empty with `metrics: false`.
   */
  readonly metrics: () => Promise<string>
  /**
   * Serves `GET /metrics` over HTTP on `host:port` (default 127.0.0.1:9464; port 0 picks a free
   * one, read it from `port` or `url`). A host other than loopback is refused unless `allowRemote`.
   * With `page: true` it also serves the ops page at `/`; its actions need `token` (or the one
   * generated, in the handle's `pageUrl`). Rejects with `HttpServeError` when it cannot listen, and
   * for an unknown option, a value that does not fit or an unusable token (before it listens).
   */
  readonly serveHttp: (options?: HttpServeOptions) => Promise<HttpServerHandle>
  /**
   * The events published to `topics` from now on, by any process or replica on the database, as
   * an async iterable (`for await (const event of rt.live("orders"))`): no cursor, no ack. A slow
   * loop is sent at most `bufferSize` events ahead (default 1,000) and continues from the store; the
   * iteration ends when the runtime closes (leave it with `break`).
   */
  readonly live: (topics: string | ReadonlyArray<string>, options?: LiveOptions) => AsyncIterable<Event>
  /** Starts a durable consumer group; resolves with a function that unsubscribes (and drains). */
  readonly subscribe: (
    topic: string | ReadonlyArray<string>,
    group: string,
    handler: PromiseHandler,
    options?: SubscribeOptions
  ) => Promise<() => Promise<void>>
  /**
   * Closes the runtime (idempotent): new calls reject with `BusClosedError`; outbox relays started
   * on it and loaded programs stop, calls under way finish (a `compact` or `prune` is cut short and
   * rejects with `BusClosedError`), the groups drain and the database closes. From inside a handler
   * it does not wait (the drain waits for that handler).
   */
  readonly close: () => Promise<void>
  /**
   * Closes the runtime on SIGINT (Ctrl-C) or SIGTERM (`kill`, a container or service stop): an
   * open runtime keeps the process alive, and listening replaces Node's default of exiting at once.
   * The first signal runs `onSignal`, then `close()` (handlers finish, cursors commit, the database
   * closes), then exits with `process.exitCode` (0 unless set; 1, the error on stderr, when either
   * failed). A second signal exits at once, 128 + its number (130, 143). Returns a function that
   * removes the listeners.
   */
  readonly closeOnSignals: (options?: CloseOnSignalsOptions) => () => void
  readonly [Symbol.asyncDispose]: () => Promise<void>
  /** Registers work `close()` stops first (an outbox relay's `stop`); returns the removal. */
  readonly [onRuntimeClose]: (stop: () => Promise<void>) => () => void
  /** Registers an outbox's pending count for `sib_outbox_pending{table}` (a relay's); returns the removal. */
  readonly [addOutboxGauge]: (table: string, counts: Effect.Effect<{ readonly pending: number; readonly failed: number }, unknown>) => () => void
  /** Work started on this runtime (a relay), with its logger; a `BusClosedError` once it closes. */
  readonly [runtimeWork]: <A, E>(effect: Effect.Effect<A, E>) => Effect.Effect<A, E> | BusClosedError
}

const otlpFields = ["url", "encoding", "serviceName", "headers", "exportIntervalMs", "exportTimeoutMs"]

/** What is wrong with `createRuntime`'s own options (the bus's and the store's are checked by `Bus.open`). */
const runtimeOptionsProblem = (options: RuntimeOptions): string | undefined => {
  if (typeof options !== "object" || options === null) return `createRuntime takes an options object { db, ... }, got ${shown(options)}`
  const { db, logger, tracing } = options
  if (typeof db !== "string" || db.length === 0) return `db must be a SQLite file path, ":memory:" or a postgres:// URL, got ${shown(db)}`
  if (logger !== undefined && typeof logger !== "function") return `logger must be a function (entry) => void, got ${shown(logger)}`
  if (tracing === undefined || tracing === "env") return undefined
  const expected = `tracing must be "env" or { url, encoding?, serviceName?, headers?, exportIntervalMs?, exportTimeoutMs? }, got ${shown(tracing)}`
  if (typeof tracing !== "object" || tracing === null || Array.isArray(tracing)) return expected
  const unknown = Object.keys(tracing).filter((k) => !otlpFields.includes(k))
  if (unknown.length > 0) return `unknown tracing option ${JSON.stringify(unknown[0])}; valid options: ${otlpFields.join(", ")}`
  if (typeof tracing.url !== "string" || !/^https?:\/\/./.test(tracing.url)) return `tracing.url must be an http(s) URL of the traces endpoint, got ${shown(tracing.url)}`
  if (tracing.encoding !== undefined && tracing.encoding !== "json" && tracing.encoding !== "protobuf") return `tracing.encoding must be "json" or "protobuf", got ${shown(tracing.encoding)}`
  if (tracing.serviceName !== undefined && typeof tracing.serviceName !== "string") return `tracing.serviceName must be a string, got ${shown(tracing.serviceName)}`
  const headers: unknown = tracing.headers
  if (headers !== undefined && (typeof headers !== "object" || headers === null || Object.values(headers).some((v) => typeof v !== "string"))) {
    return `tracing.headers must be an object of string values, got ${shown(headers)}`
  }
  for (const name of ["exportIntervalMs", "exportTimeoutMs"] as const) {
    const ms = tracing[name]
    if (ms !== undefined && !(typeof ms === "number" && Number.isSafeInteger(ms) && ms >= 1)) return `tracing.${name} must be a positive integer, got ${shown(ms)}`
  }
  return undefined
}

/**
 * Opens a runtime. Rejects with `BusOptionsError` when an option is unusable (before anything
 * opens), with `StoreOpenError` when the database cannot be opened or migrated.
 */
export const createRuntime = async (options: RuntimeOptions): Promise<Runtime> => {
  const problem = runtimeOptionsProblem(options)
  if (problem !== undefined) throw new BusOptionsError({ detail: problem })
  const { db, tracing, logger, ...rest } = options
  // The tracer is built before the bus and released after it (its last spans are flushed then).
  const traced = tracing === undefined ? Bus.open(db, rest) : Bus.open(db, rest).pipe(Layer.provideMerge(tracing === "env" ? layerFromEnv() : layerOtlp(tracing)))
  const rt = ManagedRuntime.make(logger === undefined ? traced : traced.pipe(Layer.provideMerge(logTo(logger))))
  let bus: BusShape
  let metrics: Recorder
  /** The runtime's services (its logger among them), for what runs outside `run`: live streams. */
  let services: Context.Context<never>
  try {
    metrics = await rt.runPromise(Effect.service(BusMetrics))
    bus = await rt.runPromise(Effect.service(Bus))
    services = await rt.context()
  } catch (e) {
    await rt.dispose()
    throw e
  }
  // From inside a handler, a call runs in the handler's fiber context: it sees the handler's open
  // transaction (a publish is refused at once, a read runs inside it) instead of waiting for it.
  const runner = makeRunner({
    runExit: <A, E>(effect: Effect.Effect<A, E, never>): Promise<Exit.Exit<A, E>> => {
      const handlerContext = inHandler.getStore()?.context
      // (The runtime's layer is built already: its own errors cannot occur here.)
      return handlerContext === undefined ? rt.runPromiseExit(effect) as Promise<Exit.Exit<A, E>> : Effect.runPromiseExitWith(handlerContext)(effect)
    },
    dispose: () => rt.dispose(),
    closedError: (operation) => new BusClosedError({ operation })
  })
  const run = runner.run

  /** Which group's handler (if any) the current async code runs in, and that handler's fiber context. */
  const inHandler: InHandler = new AsyncLocalStorage()

  // A handler's ctx methods run in the handler's own fiber context, so they keep working while
  // close() drains the groups (the ManagedRuntime itself is already shutting down then).
  const wrap = (group: string, handler: PromiseHandler) => runPromiseHandler(inHandler, group, handler)

  const host = new Map<string, HostValue>()
  const load = async (files: string | ReadonlyArray<string | Source>, loadOptions: ProgramOptions = {}): Promise<LoadedProgram> => {
    const sources = checkedSources(files, "load")
    const optionsError = programOptionsProblem("load", loadOptions)
    if (optionsError !== undefined) throw optionsError
    const [{ loadProgram }, { startProgram }] = await programModules()
    const program = await run(
      loadProgram(sources, { host: { ...Object.fromEntries(host), ...loadOptions.host }, limits: loadOptions.limits }).pipe(
        Effect.onExit((exit) => Effect.sync(() => metrics.programLoaded(Exit.isSuccess(exit))))
      ),
      "load"
    )
    const scope = await run(Scope.make(), "load")
    let running
    try {
      running = await run(Scope.provide(startProgram(program, bus, { limits: loadOptions.limits }), scope), "load")
    } catch (e) {
      await rt.runPromise(Scope.close(scope, Exit.void))
      throw e
    }
    let stopping: Promise<void> | undefined
    let forget = (): void => {}
    const stop = () => {
      forget()
      stopping ??= Effect.runPromise(Effect.andThen(running.stop, Scope.close(scope, Exit.void)))
      return stopping
    }
    forget = runner.onClose(stop, "programs")
    return { files: program.files, topics: program.topics.map((t) => t.name), groups: program.subscriptions.map((s) => s.group), stop }
  }

  const startHttp = async (options: HttpServeOptions = {}): Promise<HttpServerHandle> => {
    const optionsError = serveOptionsProblem(options, httpServeSpec)
    if (optionsError !== undefined) throw optionsError
    const { page, token, ...serveOptions } = options ?? {}
    const problem = token === undefined ? undefined : tokenProblem(token)
    if (problem !== undefined) throw new HttpServeError({ message: `serveHttp's token: ${problem}` })
    const [{ isLoopback, metricsRoutes, serveHttp }, { opsPage, pageUrl }] = await Promise.all([
      import("../observability/httpServer.ts"),
      import("../observability/web/opsRoutes.ts")
    ])
    const scope = await run(Scope.make(), "serve http")
    let info: Omit<HttpServerHandle, "close">
    try {
      // The page reads through the runtime's store and acts through its bus.
      const services = await rt.runPromise(Effect.context<OpsPageServices>())
      const served = Effect.gen(function*() {
        const ops = page === true ? yield* opsPage({ token, loopbackOnly: isLoopback(serveOptions.host ?? "127.0.0.1") }) : undefined
        const server = yield* serveHttp([...metricsRoutes(metrics), ...(ops?.routes ?? [])], serveOptions)
        return ops === undefined ? server : { ...server, pageUrl: pageUrl(server.url, ops.token) }
      })
      info = await run(Scope.provide(Effect.provideContext(served, services), scope), "serve http")
    } catch (e) {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      throw e
    }
    let stopping: Promise<void> | undefined
    let forget = (): void => {}
    const stop = () => {
      forget()
      stopping ??= Effect.runPromise(Scope.close(scope, Exit.void))
      return stopping
    }
    forget = runner.onClose(stop, "relays")
    return { ...info, close: stop }
  }

  // From inside a handler: the drain waits for that handler, so do not wait for the drain.
  const close = () => {
    const closed = runner.close()
    return inHandler.getStore() !== undefined ? Promise.resolve() : closed
  }
  const busCalls = Object.fromEntries(Object.entries(calls).map(([name, [operation, onClose]]) => [
    name,
    (...args: Array<unknown>) => run((bus[name as keyof typeof calls] as (...a: Array<unknown>) => Effect.Effect<unknown, unknown>)(...args), operation, onClose)
  ])) as unknown as Omit<Promised<BusCalls>, "sid" | "groupStats">
  return {
    registerHost: (name, value) => {
      if (typeof name !== "string" || !/^[A-Za-z_*+!?<>=/-][\w*+!?<>=/.-]*$/.test(name)) {
        throw new TypeError(`registerHost: ${JSON.stringify(name)} is not a name .sib code can use (letters, digits and - _ ! ? * + < > = / .)`)
      }
      if (typeof value !== "function" && (typeof value !== "object" || value === null)) {
        throw new TypeError(`registerHost: ${name} must be a function or an object, got ${value === null ? "null" : typeof value}`)
      }
      try {
        hostEntry(name, value)
      } catch (e) {
        if (e instanceof HostValueError) throw new TypeError(`registerHost: ${e.message}`)
        throw e
      }
      host.set(name, value)
    },
    load,
    ...busCalls,
    sid: bus.sid,
    groupStats: (group) => {
      if (runner.closing()) throw new BusClosedError({ operation: "use the runtime" })
      return bus.groupStats(group)
    },
    onEvent: (listener) => {
      if (typeof listener !== "function") throw new TypeError(`onEvent takes a function (event) => void, got ${listener === null ? "null" : typeof listener}`)
      if (runner.closing()) throw new BusClosedError({ operation: "use the runtime" })
      return bus.onEvent(listener)
    },
    defineTopic: (name, topicOptions) => run(Effect.asVoid(bus.defineTopic(name, topicOptions)), "use the runtime"),
    metrics: () => run(metrics.text, "use the runtime"),
    serveHttp: startHttp,
    live: (topics, liveOptions) => {
      if (runner.closing()) throw new BusClosedError({ operation: "use the runtime" })
      const problem = liveProblem(topics, liveOptions)
      if (problem !== undefined) throw problem
      // With the runtime's services: its log lines (a failed read, retried) go to `logger` too.
      return Stream.toAsyncIterableWith(bus.live(topics, liveOptions), services)
    },
    subscribe: async (topic, group, handler, subscribeOptions) => {
      if (typeof handler !== "function") {
        return Promise.reject(new SubscribeError({ group: String(group), detail: `the handler must be a function (event, ctx) => ..., got ${handler === null ? "null" : typeof handler}` }))
      }
      const sub = await run(bus.subscribe(topic, group, wrap(group, handler), subscribeOptions), "subscribe")
      return () => {
        if (runner.closing()) return runner.close()
        // From inside one of this group's handlers: stop without waiting for the drain.
        if (inHandler.getStore()?.group === group) {
          rt.runFork(sub.unsubscribe)
          return Promise.resolve()
        }
        return runner.runAlways(sub.unsubscribe, "unsubscribe")
      }
    },
    close,
    closeOnSignals: (signalOptions) => closeOnSignals(close, signalOptions),
    [Symbol.asyncDispose]: close,
    [onRuntimeClose]: (stop) => runner.onClose(stop, "relays"),
    [addOutboxGauge]: (table, counts) => metrics.addOutboxSource(table, counts),
    [runtimeWork]: (effect) =>
      runner.closing() ? new BusClosedError({ operation: "start a relay on the runtime" }) : logger === undefined ? effect : Effect.provide(effect, logTo(logger))
  }
}

/** `rt.serveHttp`'s options: `serveHttp`'s, and the ops page's (the token's own rules are `tokenProblem`'s). */
const httpServeSpec = spec("serveHttp", {
  ...serveSpec.fields,
  page: boolean({ doc: "Serve the ops page at / beside the metrics." }),
  token: string({ doc: "The token the page's actions need." })
})

/** The options of `load` and `runSibTests` (the values of `limits` are the program loader's to check). */
const programSpec = spec("program", {
  host: custom("Record<string, HostValue>", { doc: "Host functions and objects for this program." }, (v, path) =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? v : invalid(path, "an object of host functions and objects by name", v)),
  limits: custom("Partial<Limits>", { doc: "The program's limits." }, (v) => v)
})

/**
 * What is wrong with the options of `load` or `runSibTests` (named by `fn`): a `SibError`, as a bad
 * `limits` value is (the loader reports it), located at `<options>`.
 */
const programOptionsProblem = (fn: "load" | "runSibTests", options: unknown): SibError | undefined => {
  const checked = check(programSpec, options)
  if (checked.ok) return undefined
  const at = { file: "<options>", line: 1, column: 1, endLine: 1, endColumn: 1, offset: 0, endOffset: 0 }
  return new SibError({ diagnostics: [diagnostic("Compile", "compile/options", `${fn}: ${problemText(checked.problem)}`, at)] })
}

/** `rt.closeOnSignals`: listens for the signals; the first one closes (then exits), a second exits at once. */
const closeOnSignalsOptions: ReadonlyArray<string> = ["signals", "onSignal", "exit"]

const closeOnSignals = (close: () => Promise<void>, options: CloseOnSignalsOptions = {}): (() => void) => {
  // A misspelt option (onsignal) would be ignored, the application's shutdown work skipped.
  const unknown = typeof options === "object" && options !== null ? Object.keys(options).find((k) => !closeOnSignalsOptions.includes(k)) : undefined
  if (unknown !== undefined) throw new TypeError(`closeOnSignals: unknown option ${JSON.stringify(unknown)}; valid options: ${closeOnSignalsOptions.join(", ")}`)
  if (options.exit !== undefined && typeof options.exit !== "boolean") throw new TypeError(`closeOnSignals: exit must be true or false, got ${shown(options.exit)}`)
  const signals = options.signals ?? ["SIGINT", "SIGTERM"]
  if (!Array.isArray(signals) || signals.some((s) => typeof s !== "string" || !(s in osConstants.signals))) {
    throw new TypeError(`closeOnSignals: signals must be an array of signal names such as "SIGINT", got ${JSON.stringify(signals)}`)
  }
  if (options.onSignal !== undefined && typeof options.onSignal !== "function") {
    throw new TypeError(`closeOnSignals: onSignal must be a function, got ${typeof options.onSignal}`)
  }
  const failed = (what: string, e: unknown) => {
    process.stderr.write(`sibus: ${what} failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exitCode = 1
  }
  let closing = false
  const listener = (signal: NodeJS.Signals) => {
    if (closing) process.exit(128 + (osConstants.signals[signal] ?? 0))
    closing = true
    void (async () => {
      try {
        await options.onSignal?.(signal)
      } catch (e) {
        failed(`onSignal (${signal})`, e)
      }
      try {
        await close()
      } catch (e) {
        failed(`closing the runtime on ${signal}`, e)
      }
      if (options.exit !== false) process.exit()
    })()
  }
  for (const signal of signals) process.on(signal, listener)
  return () => {
    for (const signal of signals) process.off(signal, listener)
  }
}

/**
 * Runs the `deftest`s of `.sib` files, each on a fresh in-memory bus under a test clock; the report
 * lists every test with its located failures. Rejects with `SibError` when the files do not load
 * (or `options` has a name it does not know).
 */
export const runSibTests = (files: string | ReadonlyArray<string | Source>, options: ProgramOptions = {}): Promise<TestReport> => {
  let sources: ReadonlyArray<string | Source>
  try {
    sources = checkedSources(files, "runSibTests")
  } catch (e) {
    return Promise.reject(e)
  }
  const optionsError = programOptionsProblem("runSibTests", options)
  if (optionsError !== undefined) return Promise.reject(optionsError)
  return programModules().then(([{ loadProgram }, , { runTests }]) =>
    Effect.runPromise(Effect.flatMap(loadProgram(sources, options), (program) => runTests(program, { limits: options.limits })))
  )
}

/**
 * The language's modules (the reader, expander, compiler and the program runner), loaded by the
 * first `load` or `runSibTests`: a process that runs no `.sib` program never loads them.
 */
const programModules = () =>
  Promise.all([import("../program/load.ts"), import("../program/start.ts"), import("../program/testRunner.ts")])

/** The sources argument of load and runSibTests: a path, or an array of paths and { file, text } (a TypeError otherwise). */
const checkedSources = (files: unknown, fn: string): ReadonlyArray<string | Source> => {
  const list = typeof files === "string" ? [files] : files
  if (!Array.isArray(list)) throw new TypeError(`${fn}: give a file path, or an array of paths and { file, text } sources; got ${files === null ? "null" : typeof files}`)
  list.forEach((source, i) => {
    const problem = sourceProblem(source)
    if (problem !== undefined) throw new TypeError(`${fn}: source ${i}: ${problem}`)
  })
  return list as ReadonlyArray<string | Source>
}

export type { HostValue, Source, TestReport }
