/**
 * sibus: a durable, actor-style event runtime embedded in a Node.js process.
 *
 * The Effect API: the `Bus` service and its layers (`Bus.open(location)`, `Bus.sqlite({ filename })`,
 * or `Bus.layer()` over any `Store`; `openStore(location)` opens a store alone), typed errors, and
 * the records it stores; the bus's metrics (`BusMetrics`, served by `MetricsHttp.layer` or
 * `serveHttp`) and the ops page (`opsPage`'s routes, served by `serveHttp` beside `metricsRoutes`
 * and any of the application's own); traces exported over OTLP (`Tracing.layerOtlp`,
 * `Tracing.layerFromEnv`). The Promise facade is `createRuntime` (also at `sibus/promise`).
 *
 * The `.sib` language: `loadProgram` reads, expands and compiles files into a `Program` (or fails
 * with `SibError`, every diagnostic located); `startProgram` runs it on a bus; `runTests` runs its
 * `deftest`s on fresh in-memory buses under a test clock.
 *
 * `Testing` (`settle`, `advance`) drives a bus under Effect's `TestClock` in an application's tests.
 */
export { Bus } from "./facade/Bus.ts"
export * as Testing from "./testing.ts"
export type { OpenOptions } from "./facade/Bus.ts"
export type { AdminOptions, BusOptions, BusShape, DeadLetterQuery, EffectHandler, GroupDescription, Subscription, TopicRemoval } from "./runtime/Bus.ts"
export type { SingletonOptions } from "./runtime/singleton.ts"
export type { LiveOptions } from "./runtime/live.ts"
export type { EventInfo, EventProgress, GroupInfo, InspectShape, TopicInfo } from "./runtime/Inspect.ts"
export { Inspect } from "./runtime/Inspect.ts"
export type { DeliveryContext, GroupStats, Handler } from "./runtime/ConsumerGroup.ts"
export { AckError, BusClosedError, BusOptionsError, GroupError, MaintenanceError, PublishError, SubscribeError, TopicError } from "./runtime/busErrors.ts"
export type { CompactionReport, Holder, MaintenanceOptions, PruneReport } from "./runtime/Maintenance.ts"
export type { GroupConfig, StartFrom, SubscribeOptions } from "./runtime/subscribeOptions.ts"
export { parseStartFrom, subscribeOptionNames } from "./runtime/subscribeOptions.ts"
export type { PendingEvent, PublishItem, PublishOptions } from "./runtime/publish.ts"
export { defaultBackoff, retryDelay } from "./runtime/retryDelay.ts"
export type { Backoff } from "./runtime/retryDelay.ts"
export type { Retention, Topic, TopicOptions } from "./runtime/Topic.ts"
export { StoreError, StoreOpenError } from "./store/storeErrors.ts"
export type { Cursor, DeadLetter, Delivery, Event, GroupMember, Json } from "./store/records.ts"
export * as Sqlite from "./store/sqlite/SqliteStore.ts"
export { openStore } from "./store/open.ts"
export type { StoreOptions } from "./store/open.ts"
export { Store } from "./store/Store.ts"
export type { AdminStore, DeliveryQuery, GroupDeletion, MaintenanceStore, RuntimeStore, StoreCapabilities, StoreShape } from "./store/Store.ts"
export { BusMetrics, maxLabelValues } from "./observability/BusMetrics.ts"
export type { GaugeSource, MetricsOptions, Recorder } from "./observability/BusMetrics.ts"
export { families as metricFamilies } from "./observability/metrics.ts"
export type { Family as MetricFamily } from "./observability/metrics.ts"
export { HttpServeError, isLoopback, MetricsHttp, metricsRoutes, parseHttpAddress, serveHttp } from "./observability/httpServer.ts"
export type { HttpAddress, HttpReply, HttpRequest, HttpServerInfo, Route, ServeOptions } from "./observability/httpServer.ts"
export { opsPage, pageUrl } from "./observability/web/opsRoutes.ts"
export type { OpsPage, OpsPageOptions, OpsPageServices } from "./observability/web/opsRoutes.ts"
export { Tracing } from "./observability/tracing.ts"
export type { OtlpOptions } from "./observability/tracing.ts"
export { Outbox } from "./outbox/Outbox.ts"
export type { OutboxMessage, OutboxOptions, OutboxShape, OutboxStats } from "./outbox/Outbox.ts"
export { OutboxRelay } from "./outbox/Relay.ts"
export type { RelayCounters, RelayOptions, RelayShape, RelayStats, RelayTarget } from "./outbox/Relay.ts"
export { OutboxAddError, OutboxDbError, OutboxOptionsError } from "./outbox/outboxErrors.ts"
export { createOutbox } from "./promise.ts"
export type { PromiseOutbox, PromisePublisher, PromiseRelay } from "./promise.ts"
export { createRuntime } from "./promise.ts"
export type { CloseOnSignalsOptions, HandlerContext, HttpServeOptions, HttpServerHandle, PromiseHandler, Runtime, RuntimeOptions } from "./promise.ts"
export type { LogEntry, LogFunction } from "./promise.ts"
export type { BusEvent, BusEventListener } from "./promise.ts"
export { hostObject, loadProgram } from "./program/load.ts"
export type { HostFunction, HostValue, LoadOptions, Source } from "./program/load.ts"
export type { Program } from "./program/Program.ts"
export { languageReference } from "./program/languageReference.ts"
export { defaultLimits } from "./lang/budget.ts"
export type { Limits } from "./lang/budget.ts"
export { startProgram } from "./program/start.ts"
export type { RunningProgram } from "./program/start.ts"
export { runTests } from "./program/testRunner.ts"
export { renderTestReport } from "./program/testReport.ts"
export type { TestReport, TestResult } from "./program/testReport.ts"
export { SibError, SibRuntimeError } from "./diagnostics/Diagnostic.ts"
export type { Diagnostic, DiagnosticKind } from "./diagnostics/Diagnostic.ts"
export { diagnosticJson, renderDiagnostics } from "./diagnostics/render.ts"
export type { Span } from "./diagnostics/Span.ts"
export { runSibTests } from "./promise.ts"
export type { LoadedProgram, ProgramOptions } from "./promise.ts"
