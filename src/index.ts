/**
 * sibus: a durable, actor-style event runtime embedded in a Node.js process.
 *
 * The Effect API: the `Bus` service and its layers (`Bus.sqlite({ filename })`, or `Bus.layer()`
 * over any `Store`), typed errors, and the records it stores. The Promise facade is
 * `createRuntime` (also at `sibus/promise`).
 */
export { Bus } from "./runtime/Bus.ts"
export type { BusOptions, BusShape, DeadLetterQuery, EffectHandler, Subscription } from "./runtime/Bus.ts"
export type { DeliveryContext, GroupStats, Handler } from "./runtime/ConsumerGroup.ts"
export { AckError, BusClosedError, GroupError, PublishError, SubscribeError, TopicError } from "./runtime/errors.ts"
export type { GroupConfig, StartFrom, SubscribeOptions } from "./runtime/options.ts"
export { parseStartFrom, subscribeOptionNames } from "./runtime/options.ts"
export type { PublishItem, PublishOptions } from "./runtime/publish.ts"
export { defaultBackoff, retryDelay } from "./runtime/RetryPolicy.ts"
export type { Backoff } from "./runtime/RetryPolicy.ts"
export type { Retention, Topic, TopicOptions } from "./runtime/Topic.ts"
export { StoreError, StoreOpenError } from "./store/errors.ts"
export type { Cursor, DeadLetter, Delivery, Event, Json } from "./store/records.ts"
export * as Sqlite from "./store/sqlite/SqliteStore.ts"
export { Store } from "./store/Store.ts"
export type { StoreShape } from "./store/Store.ts"
export { createRuntime } from "./promise.ts"
export type { HandlerContext, PromiseHandler, Runtime, RuntimeOptions } from "./promise.ts"
