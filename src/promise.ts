/**
 * The Promise API (the package's `sibus/promise` entry): sibus for code that does not use Effect.
 * `createRuntime` (src/facade/createRuntime.ts) and `createOutbox` (src/facade/createOutbox.ts),
 * both run by the one facade runner (src/facade/Runner.ts), and `runSibTests`.
 */
export { createRuntime, runSibTests } from "./facade/createRuntime.ts"
export type { CloseOnSignalsOptions, HandlerContext, HttpServeOptions, HttpServerHandle, LoadedProgram, ProgramOptions, PromiseHandler, Runtime, RuntimeOptions } from "./facade/createRuntime.ts"
export { HttpServeError } from "./observability/httpAddress.ts"
export type { OtlpOptions } from "./observability/tracing.ts"
export type { HttpServerInfo, ServeOptions } from "./observability/httpServer.ts"
export type { LiveOptions } from "./runtime/live.ts"
export type { LogEntry, LogFunction } from "./facade/logSink.ts"
export type { BusEvent, BusEventListener } from "./runtime/busEvents.ts"
export type { GroupDescription } from "./runtime/Bus.ts"
export type { GroupInfo } from "./runtime/Inspect.ts"
export type { GroupMember } from "./store/records.ts"
export { createOutbox } from "./facade/createOutbox.ts"
export type { PromiseOutbox, PromisePublisher, PromiseRelay } from "./facade/createOutbox.ts"
export type { StoreError, StoreOpenError } from "./store/storeErrors.ts"
export type { Store } from "./store/Store.ts"
export type { HostValue, Source } from "./program/load.ts"
export type { TestReport } from "./program/testRunner.ts"
export type { CompactionReport, PruneReport } from "./runtime/Maintenance.ts"
export type { OutboxMessage, OutboxOptions, OutboxStats } from "./outbox/Outbox.ts"
export type { RelayCounters, RelayOptions, RelayStats } from "./outbox/Relay.ts"
