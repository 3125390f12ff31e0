/**
 * The Promise API (the package's `sibus/promise` entry): sibus for code that does not use Effect.
 * `createRuntime` (src/facade/createRuntime.ts) and `createOutbox` (src/facade/createOutbox.ts),
 * both run by the one facade runner (src/facade/Runner.ts), and `runSibTests` with
 * `renderTestReport`. Every error class a call here rejects with is exported as a value, so that
 * `instanceof` tells them apart; so are the types of the values the calls take and give.
 */
export { createRuntime, runSibTests } from "./facade/createRuntime.ts"
export type { CloseOnSignalsOptions, HandlerContext, HttpServeOptions, HttpServerHandle, LoadedProgram, ProgramOptions, PromiseHandler, Runtime, RuntimeOptions } from "./facade/createRuntime.ts"
export { AckError, BusClosedError, BusOptionsError, GroupError, MaintenanceError, PublishError, SubscribeError, TopicError } from "./runtime/busErrors.ts"
export { StoreError, StoreOpenError } from "./store/storeErrors.ts"
export { HttpServeError } from "./observability/httpAddress.ts"
export { SibError } from "./diagnostics/Diagnostic.ts"
export type { Diagnostic, DiagnosticKind } from "./diagnostics/Diagnostic.ts"
export type { Span } from "./diagnostics/Span.ts"
export { OutboxAddError, OutboxDbError, OutboxOptionsError } from "./outbox/outboxErrors.ts"
export type { OtlpOptions } from "./observability/tracing.ts"
export type { HttpServerInfo, ServeOptions } from "./observability/httpServer.ts"
export type { MetricsOptions } from "./observability/BusMetrics.ts"
export type { LiveOptions } from "./runtime/live.ts"
export type { LogEntry, LogFunction } from "./facade/logSink.ts"
export type { BusEvent, BusEventListener } from "./runtime/busEvents.ts"
export type { AdminOptions, BusOptions, DeadLetterQuery, GroupDescription, TopicRemoval } from "./runtime/Bus.ts"
export type { GroupStats } from "./runtime/ConsumerGroup.ts"
export type { GroupInfo } from "./runtime/Inspect.ts"
export type { MaintenanceOptions } from "./runtime/Maintenance.ts"
export type { StartFrom, SubscribeOptions } from "./runtime/subscribeOptions.ts"
export type { PendingEvent, PublishItem, PublishOptions } from "./runtime/publish.ts"
export type { Backoff } from "./runtime/retryDelay.ts"
export type { Retention, TopicOptions } from "./runtime/Topic.ts"
export type { Cursor, DeadLetter, Delivery, Event, GroupMember, Json } from "./store/records.ts"
export { createOutbox } from "./facade/createOutbox.ts"
export type { PromiseOutbox, PromisePublisher, PromiseRelay } from "./facade/createOutbox.ts"
export type { Store } from "./store/Store.ts"
export type { HostFunction, HostValue, Source } from "./program/load.ts"
export type { Limits } from "./lang/budget.ts"
// The report's renderer lives in the test runner's module: importing this entry loads it, with the
// program modules it imports (the reader, expander and compiler still load at the first load).
export { renderTestReport } from "./program/testReport.ts"
export type { TestReport, TestResult } from "./program/testReport.ts"
export type { CompactionReport, PruneReport } from "./runtime/Maintenance.ts"
export type { OutboxMessage, OutboxOptions, OutboxStats } from "./outbox/Outbox.ts"
export type { RelayCounters, RelayOptions, RelayStats } from "./outbox/Relay.ts"
