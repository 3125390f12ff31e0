/**
 * Every metric sibus exports, in one table: its Prometheus name (prefixed `sib_`, base units:
 * seconds, events), kind, help text, labels and, for histograms, bucket boundaries. `metricOf`
 * builds the Effect `Metric` of one series (a family with its label values); `BusMetrics.ts`
 * records them and `PrometheusMetrics.format` writes them. What each label may hold (and why its
 * values are bounded) is said here too; nothing else defines a metric.
 */
import * as Metric from "effect/Metric"

/**
 * The labels a series may carry. Each value is bounded: `topic` and `group` by the topics and
 * groups that exist (capped per bus, see `BusMetrics.maxLabelValues`), `result` is `ok` or
 * `error`, `table` is an outbox's table name. No label ever holds an event id, a key or a payload.
 */
export type Label = "topic" | "group" | "result" | "table"

export interface Family {
  readonly name: string
  readonly kind: "counter" | "gauge" | "histogram"
  readonly help: string
  readonly labels: ReadonlyArray<Label>
  readonly boundaries?: ReadonlyArray<number> | undefined
}

/** Durations from 100 µs to 10 s (store reads and commits). */
const storeSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]
/** Durations from 100 µs to 60 s (handlers). */
const handlerSeconds = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

const family = <const F extends Family>(f: F): F => f
const topicGroup = ["topic", "group"] as const

export const families = {
  published: family({ name: "sib_events_published_total", kind: "counter", labels: ["topic"], help: "Events committed to the store by this process (publishes, handler publishes, relayed outbox rows), by topic." }),
  delivered: family({ name: "sib_events_delivered_total", kind: "counter", labels: topicGroup, help: "Handler runs started (every attempt, redeliveries included)." }),
  inflight: family({ name: "sib_events_inflight", kind: "gauge", labels: topicGroup, help: "Handler runs in progress now." }),
  acked: family({ name: "sib_events_acked_total", kind: "counter", labels: topicGroup, help: "Handler runs that succeeded (the event is done for the group)." }),
  nacked: family({ name: "sib_events_nacked_total", kind: "counter", labels: topicGroup, help: "Failed attempts: the handler failed, nacked, or overran ackTimeoutMs." }),
  deadLettered: family({ name: "sib_events_dead_lettered_total", kind: "counter", labels: topicGroup, help: "Events given up on after maxAttempts (dead letters written)." }),
  redelivered: family({ name: "sib_events_redelivered_total", kind: "counter", labels: topicGroup, help: "Handler runs of an event that had run before (attempt 2 and later)." }),
  pollDuration: family({ name: "sib_subscribe_poll_duration_seconds", kind: "histogram", labels: topicGroup, boundaries: storeSeconds, help: "Time a group's fetcher spent reading one page of a topic from the store." }),
  handlerDuration: family({ name: "sib_delivery_handler_duration_seconds", kind: "histogram", labels: topicGroup, boundaries: handlerSeconds, help: "Time from a handler run's start to its end (success or failure)." }),
  lag: family({ name: "sib_consumer_lag", kind: "gauge", labels: topicGroup, help: "Events of the topic after the group's stored cursor (read from the store at scrape time)." }),
  lagSeconds: family({ name: "sib_consumer_lag_seconds", kind: "gauge", labels: topicGroup, help: "Age of the oldest event after the group's stored cursor, 0 when caught up (at scrape time)." }),
  outboxPending: family({ name: "sib_outbox_pending", kind: "gauge", labels: ["table"], help: "Outbox rows not yet relayed to the bus (read at scrape time)." }),
  outboxFailed: family({ name: "sib_outbox_failed", kind: "gauge", labels: ["table"], help: "Outbox rows refused maxAttempts times and marked failed: not relayed until retried (read at scrape time)." }),
  programLoads: family({ name: "sib_program_loads_total", kind: "counter", labels: ["result"], help: "Loads of .sib programs (start and reloads), by result: ok or error." }),
  commitDuration: family({ name: "sib_store_commit_duration_seconds", kind: "histogram", labels: [], boundaries: storeSeconds, help: "Time of one group commit of the writer (publishes, acks, progress, dead letters) in the store." }),
  commitBatch: family({ name: "sib_store_commit_batch_size", kind: "histogram", labels: [], boundaries: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], help: "Writes merged into one group commit." })
} as const satisfies Record<string, Family>

export type FamilyName = keyof typeof families

/** The Effect `Metric` of one series of `f`: the family with these label values. */
export const metricOf = (f: Family, attributes: Readonly<Record<string, string>>): Metric.Metric<number, unknown> => {
  const options = { description: f.help, attributes }
  switch (f.kind) {
    case "counter":
      return Metric.counter(f.name, { ...options, incremental: true })
    case "gauge":
      return Metric.gauge(f.name, options)
    case "histogram":
      return Metric.histogram(f.name, { ...options, boundaries: f.boundaries ?? [] })
  }
}
