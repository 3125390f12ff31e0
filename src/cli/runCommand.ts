/**
 * `sib run`: loads the programs (all or nothing), starts every topic, group and timer, and runs
 * until SIGINT/SIGTERM. Stopping drains in-flight handlers (within `--drain-timeout`) and commits
 * cursors; the process then exits 0. SIGHUP (and, with `--watch`, a change to a loaded file)
 * reloads: a broken program leaves the running one in place and reports every error; a good one
 * replaces it after the running version has drained, so in-flight handlers finish on the old code
 * and the new groups resume from the committed cursors (none moves back or skips).
 * `--http [host:]port` serves the bus's metrics (`GET /metrics`, Prometheus text) and the ops page
 * (`/`: topics, groups, dead letters with requeue and drop, events and their causation trees) while
 * it runs, on a loopback address unless `--http-allow-remote`; the bound address is printed on
 * stderr, the page's with the token its actions need (`#token=...`, generated, or `--http-token` /
 * `SIB_HTTP_TOKEN`).
 * With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) set, publishes and handler runs are
 * spans exported over OTLP/HTTP (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json` for JSON); the last spans
 * are flushed when it stops.
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { Command, Flag } from "effect/cli"
import { watch, type FSWatcher } from "node:fs"
import { basename, dirname } from "node:path"
import { loadProgram } from "../program/load.ts"
import type { Program } from "../program/Program.ts"
import { startProgram, type TimerState } from "../program/start.ts"
import { SibError } from "../diagnostics/Diagnostic.ts"
import { safeLines, safeText } from "../diagnostics/terminal.ts"
import { parseDuration } from "../options/spec.ts"
import { Bus, type BusShape } from "../runtime/Bus.ts"
import * as Inspect from "../runtime/Inspect.ts"
import { Store } from "../store/Store.ts"
import { BusMetrics } from "../observability/BusMetrics.ts"
import { type HttpAddress, isLoopback, metricsRoutes, parseHttpAddress, serveHttp } from "../observability/httpServer.ts"
import { tokenProblem } from "../observability/web/auth.ts"
import { opsPage, pageUrl } from "../observability/web/opsRoutes.ts"
import { Tracing } from "../observability/tracing.ts"
import { filesArgument, loadOrReport } from "./programCommands.ts"
import { busLayer, err, failWith, root, shownDb, useColor, withStoreFailures } from "./shared.ts"
import { liveLine, startStatus, type StatusMode } from "./status.ts"

export { parseDuration }

interface Version {
  readonly program: Program
  /** Where each of its timers stands (firing here, or standing by for another process). */
  readonly timers: () => ReadonlyArray<TimerState>
  readonly stop: Effect.Effect<void>
}

/** Starts one version of the program in its own scope; `stop` drains its groups and ends its timers. */
const startVersion = (program: Program, bus: BusShape, drainTimeoutMs: number, initialPublishes: boolean) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const started = yield* Effect.exit(
      startProgram(program, bus, { initialPublishes, subscribeDefaults: { drainTimeoutMs } }).pipe(Scope.provide(scope))
    )
    if (Exit.isFailure(started)) {
      yield* Scope.close(scope, Exit.void)
      return yield* Effect.failCause(started.cause)
    }
    const running = started.value
    return { program, timers: running.timers, stop: Effect.andThen(running.stop, Scope.close(scope, Exit.void)) } satisfies Version
  })

const describe = (p: Program) =>
  safeText(`${p.topics.length} topic(s), ${p.subscriptions.length} group(s) (${p.subscriptions.map((s) => s.group).join(", ") || "none"}), ${p.timers.length} timer(s)`)

export const run = Command.make(
  "run",
  {
    files: filesArgument,
    drainTimeout: Flag.String("drain-timeout").pipe(
      Flag.withDescription("how long stopping waits for in-flight handlers (e.g. 10s, 500ms)"),
      Flag.withDefault("10s")
    ),
    watch: Flag.Boolean("watch").pipe(Flag.withDescription("reload when a loaded file changes (for development)"), Flag.withDefault(false)),
    status: Flag.Literals("status", ["auto", "live", "lines", "off"]).pipe(
      Flag.withDescription("progress on stderr: live (one updating line), lines (a line every 2 s), off; auto: live on a terminal, else lines"),
      Flag.withDefault("auto")
    ),
    http: Flag.String("http").pipe(
      Flag.withDescription("serve GET /metrics (Prometheus text) and the ops page (/) on [host:]port while running; a port alone listens on 127.0.0.1; port 0 picks a free one"),
      Flag.optional
    ),
    httpAllowRemote: Flag.Boolean("http-allow-remote").pipe(
      Flag.withDescription("let --http listen on an address other than loopback (reachable from the network)"),
      Flag.withDefault(false)
    ),
    httpToken: Flag.String("http-token").pipe(
      Flag.withDescription("the token the ops page's actions (requeue, drop) need (env SIB_HTTP_TOKEN; default: a new one, printed with the page's address)"),
      Flag.withFallbackConfig(Config.String("SIB_HTTP_TOKEN")),
      Flag.optional
    )
  },
  Effect.fn(function*({ drainTimeout, files, http, httpAllowRemote, httpToken, status, watch: watching }) {
    const { db } = yield* root
    const drainTimeoutMs = parseDuration(drainTimeout)
    if (drainTimeoutMs === undefined) return yield* failWith(`--drain-timeout ${drainTimeout} is not a duration (use e.g. 10s or 500ms)`)
    let httpAddress: HttpAddress | undefined
    if (Option.isSome(http)) {
      const parsed = parseHttpAddress(http.value)
      if (typeof parsed === "string") return yield* failWith(`--http ${parsed}`)
      if (!isLoopback(parsed.host) && !httpAllowRemote) {
        return yield* failWith(`--http ${http.value}: ${parsed.host} is not a loopback address, so the metrics and the ops page (with event payloads) would be reachable from the network; add --http-allow-remote to mean it`)
      }
      httpAddress = parsed
    } else if (httpAllowRemote) return yield* failWith("--http-allow-remote needs --http [host:]port")
    const token = Option.getOrUndefined(httpToken)
    if (token !== undefined && httpAddress !== undefined) {
      const problem = tokenProblem(token)
      if (problem !== undefined) return yield* failWith(`--http-token (or SIB_HTTP_TOKEN): ${problem}`)
    }
    // A missing file or a broken program opens no database and starts nothing.
    const first = yield* loadOrReport(files)
    // Scoped inside the bus's layer: the program (its timers, then its groups) stops before the
    // bus closes; with the scope outside, the bus refused the timers' publishes while they stopped.
    yield* Effect.gen(function*() {
      const bus = yield* Effect.service(Bus)
      const metrics = yield* Effect.service(BusMetrics)
      metrics.programLoaded(true)
      let current: Version = yield* startVersion(first, bus, drainTimeoutMs, true)
      yield* Effect.addFinalizer(() => Effect.suspend(() => current.stop))
      yield* err(`sib: running ${safeText(files.join(" "))} on ${safeText(shownDb(db))}: ${describe(first)}; Ctrl-C stops`)
      if (httpAddress !== undefined) {
        const page = yield* opsPage({ token, loopbackOnly: isLoopback(httpAddress.host) })
        const server = yield* serveHttp([...metricsRoutes(metrics), ...page.routes], { ...httpAddress, allowRemote: httpAllowRemote }).pipe(
          Effect.catchTag("HttpServeError", (e) => failWith(`--http: ${e.message}`))
        )
        yield* err(`sib: serving metrics at ${server.url}/metrics`)
        yield* err(token === undefined
          ? `sib: ops page at ${pageUrl(server.url, page.token)} (the link holds the token that requeue and drop need)`
          : `sib: ops page at ${server.url}/ (add #token=<your --http-token> to requeue and drop)`)
      }
      liveLine.signalEndsNormally = true
      liveLine.stopNotice = `sib: stopping: draining in-flight handlers (up to ${drainTimeout}); a second signal exits at once`

      const reloads = yield* Queue.unbounded<string>()
      const reload = (reason: string) =>
        Effect.gen(function*() {
          yield* err(`sib: reloading (${safeText(reason)})`)
          const loaded = yield* Effect.exit(loadProgram(files))
          metrics.programLoaded(Exit.isSuccess(loaded))
          if (Exit.isFailure(loaded)) {
            const error = Cause.squash(loaded.cause)
            yield* err(error instanceof SibError ? error.render({ color: useColor(process.stderr) }) : safeLines(String(error)))
            yield* err("sib: reload failed; the running program is unchanged")
            return
          }
          const previous = current
          yield* previous.stop
          const next = yield* Effect.exit(startVersion(loaded.value, bus, drainTimeoutMs, false))
          if (Exit.isSuccess(next)) {
            current = next.value
            yield* err(`sib: reloaded: ${describe(current.program)}`)
          } else {
            yield* err(`sib: the new program did not start (${safeLines(String(next.cause))}); restarting the previous one`)
            current = yield* startVersion(previous.program, bus, drainTimeoutMs, false).pipe(Effect.orDie)
          }
        })
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(reloads), reload)))

      const onHangup = () => Queue.offerUnsafe(reloads, "SIGHUP")
      process.on("SIGHUP", onHangup)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.removeListener("SIGHUP", onHangup)))

      if (watching) yield* watchFiles(() => current.program.files, (file) => Queue.offerUnsafe(reloads, `${file} changed`))
      const mode: StatusMode | "off" = status === "auto" ? (process.stderr.isTTY === true ? "live" : "lines") : status
      if (mode !== "off") yield* startStatus(bus, Inspect.make(yield* Store), () => current, mode)
      return yield* Effect.never
    }).pipe(Effect.scoped, withStoreFailures(db), Effect.provide(busLayer(db, "create")), Effect.provide(Tracing.layerFromEnv(process.env, "sib run")))
  })
).pipe(
  Command.withDescription("Run .sib programs until interrupted: topics, groups and timers; SIGHUP reloads"),
  Command.withExamples([
    { command: "sib run dsl-examples/main.sib", description: "run the example program on ./sib.db" },
    { command: "sib --db /var/lib/agent/events.db run app.sib --watch", description: "reload on every save" },
    { command: "sib run app.sib --http 9464", description: "serve Prometheus metrics at http://127.0.0.1:9464/metrics and the ops page at http://127.0.0.1:9464/" }
  ])
)

/**
 * Watches the program's files (re-armed after every change, since editors often replace a file;
 * a file that is gone is watched for through its folder, so a deleted and re-created file is
 * picked up), calling `changed` once per burst of changes (100 ms quiet).
 */
const watchFiles = (files: () => ReadonlyArray<string>, changed: (file: string) => void) =>
  Effect.gen(function*() {
    const events = yield* Queue.unbounded<string>()
    let watchers: Array<FSWatcher> = []
    const arm = () => {
      for (const w of watchers) w.close()
      watchers = files().flatMap((file) => {
        try {
          return [watch(file, () => Queue.offerUnsafe(events, file))]
        } catch {
          // Gone (deleted, or between an editor's delete and write): its folder says when it is back.
          try {
            const name = basename(file)
            return [watch(dirname(file), (_event, changedName) => {
              if (changedName === name) Queue.offerUnsafe(events, file)
            })]
          } catch {
            return []
          }
        }
      })
    }
    arm()
    yield* Effect.addFinalizer(() => Effect.sync(() => watchers.forEach((w) => w.close())))
    const loop = Effect.gen(function*() {
      const file = yield* Queue.take(events)
      // Let the burst settle (an editor's save is several events), then re-arm and report once.
      yield* Effect.sleep(100)
      yield* Queue.clear(events)
      arm()
      changed(file)
      // The reload reads the files again; give it time before watching for the next change.
      yield* Effect.sleep(200)
      arm()
    })
    yield* Effect.forkScoped(Effect.forever(loop))
  })
