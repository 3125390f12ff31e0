/**
 * `BusMetrics`: one bus's metrics, recorded where they happen and read at scrape time. It owns a
 * `MetricRegistry` of its own (so two buses in one process never share or overwrite a series)
 * holding every series of the families in `metrics.ts`; `text` writes them in Prometheus format.
 *
 * - **Hot path.** The writer and the consumer groups update plain numbers in series objects made
 *   once per (topic, group); each series is registered in the registry with a `get` hook that the
 *   exporter calls. An event costs a few additions, no allocation and no Effect.
 * - **At scrape time.** Lag (events and seconds) per (topic, group) of the groups running in this
 *   bus is read from the store, and registered sources (an outbox's pending rows) are asked.
 * - **Bounded labels.** A label value is a topic, a group, `ok`/`error` or a table name; at most
 *   `maxLabelValues` topics and as many groups get their own series, the rest share `_other`.
 *
 * The bus records only when this service is in the context where it is built (`Bus.open` provides
 * it; `metrics: false` provides a disabled one, which records nothing).
 *
 * One bus per registry: a registry given to a bus (`metrics: { registry }`) is claimed while that
 * bus's layer is open, and another bus's refused with `BusOptionsError` (each would replace the
 * other's series, and show its own counts as if it were alone). When the bus closes the registry is
 * free again; it keeps the closed bus's last figures until the next bus on it takes their place.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type { StoreError } from "../store/storeErrors.ts"
import { BusOptionsError } from "../runtime/busErrors.ts"
import { Store, type StoreShape } from "../store/Store.ts"
import { foldUnits } from "../runtime/foldedAdmin.ts"
import { parseUnit } from "../runtime/group/units.ts"
import { firstEventAfter, oldestUndone } from "../runtime/oldestUndone.ts"
import { type Family, families, metricOf } from "./metrics.ts"

/** Distinct topics (and, separately, groups) with series of their own; others are labelled `_other`. */
export const maxLabelValues = 1000
export const otherLabel = "_other"

export interface MetricsOptions {
  /**
   * Registry to record into (default: a new one for this bus). One bus per registry: another bus
   * on it is refused while this one is open (the next one after it replaces its series).
   */
  readonly registry?: Metric.MetricRegistry | undefined
}

/** The registries given to buses that are open (see the top of this file). */
const claimed = new WeakSet<Metric.MetricRegistry>()
/** The recorder that last recorded into each registry given to a bus (open or closed since). */
const lastRecorder = new WeakMap<Metric.MetricRegistry, Recorder>()

/** The refusal of a bus on `registry` while another open bus records into it, or undefined when it is free. */
export const registryInUse = (registry: Metric.MetricRegistry | undefined): BusOptionsError | undefined =>
  registry === undefined || !claimed.has(registry) ? undefined : new BusOptionsError({
    detail: "metrics.registry is in use by another open bus: one bus per registry (each would show its own counts as if it were alone); " +
      "close that bus first, or give this one a registry of its own (or none: each bus then has one)"
  })

class Counter {
  n = 0
  readonly state = () => ({ count: this.n, incremental: true })
}

class Gauge {
  v = 0
  readonly state = () => ({ value: this.v })
}

class Histogram {
  private readonly bounds: Float64Array
  private readonly counts: Uint32Array
  private count = 0
  private sum = 0
  private min = Number.MAX_VALUE
  private max = -Number.MAX_VALUE
  constructor(boundaries: ReadonlyArray<number>) {
    this.bounds = Float64Array.from(boundaries)
    this.counts = new Uint32Array(boundaries.length + 1)
  }
  observe(v: number): void {
    const b = this.bounds
    let i = 0
    while (i < b.length && v > b[i]!) i++
    this.counts[i]!++
    this.count++
    this.sum += v
    if (v < this.min) this.min = v
    if (v > this.max) this.max = v
  }
  readonly state = () => {
    const buckets: Array<[number, number]> = []
    let cumulative = 0
    for (let i = 0; i < this.bounds.length; i++) buckets.push([this.bounds[i]!, cumulative += this.counts[i]!])
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
  }
}

/** The series of one (topic, group) that a consumer group updates on every run. */
export class GroupTopicSeries {
  readonly delivered = new Counter()
  readonly inflight = new Gauge()
  readonly acked = new Counter()
  readonly nacked = new Counter()
  readonly deadLettered = new Counter()
  readonly redelivered = new Counter()
  readonly poll: Histogram
  readonly handler: Histogram
  constructor() {
    this.poll = new Histogram(families.pollDuration.boundaries)
    this.handler = new Histogram(families.handlerDuration.boundaries)
  }
}

/**
 * What a consumer group records. `series(topic)` is looked up once per run; the group keeps it on
 * the run. A disabled recorder hands out `undefined`, and the group skips its updates.
 */
export interface GroupMetrics {
  readonly series: (topic: string) => GroupTopicSeries | undefined
  /** The group stopped in this bus: its lag is no longer read (its counters stay). */
  readonly release: () => void
}

export const noGroupMetrics: GroupMetrics = { series: () => undefined, release: () => {} }

/** A reading made at scrape time (an outbox's pending rows); failures leave the last value. */
export type GaugeSource = Effect.Effect<number, unknown>

/** An outbox's rows waiting and failed, read at scrape time in one query. */
export type OutboxSource = Effect.Effect<{ readonly pending: number; readonly failed: number }, unknown>

export class Recorder {
  readonly enabled: boolean
  readonly registry: Metric.MetricRegistry
  private readonly context: Context.Context<never>
  private readonly store: StoreShape | undefined
  private readonly topicCounters = new Map<string, Counter>()
  private readonly groupSeries = new Map<string, GroupTopicSeries>()
  private readonly labelled = { topic: new Set<string>(), group: new Set<string>() }
  /** Groups running in this bus (how many sessions of each), with their topics: their lag is read. */
  private readonly running = new Map<string, { topics: ReadonlyArray<string>; count: number }>()
  private readonly lagGauges = new Map<string, { lag: Gauge; seconds: Gauge }>()
  private readonly sources = new Map<string, { source: GaugeSource | OutboxSource; gauge: Gauge; failed: Gauge | undefined }>()
  private readonly loads: { ok: Counter; error: Counter }
  private readonly commitSeconds: Histogram
  private readonly commitBatch: Histogram
  /** Every series this recorder put in the registry (removed by `unregister`). */
  private readonly registrations: Array<Metric.Registration> = []

  constructor(store: StoreShape | undefined, options: MetricsOptions & { readonly enabled?: boolean } = {}) {
    this.enabled = options.enabled ?? true
    this.store = store
    this.registry = options.registry ?? new Map()
    this.context = Context.make(Metric.MetricRegistry, this.registry)
    this.loads = { ok: new Counter(), error: new Counter() }
    this.commitSeconds = new Histogram(families.commitDuration.boundaries)
    this.commitBatch = new Histogram(families.commitBatch.boundaries)
    if (!this.enabled) return
    this.register(families.programLoads, { result: "ok" }, this.loads.ok.state)
    this.register(families.programLoads, { result: "error" }, this.loads.error.state)
    this.register(families.commitDuration, {}, this.commitSeconds.state)
    this.register(families.commitBatch, {}, this.commitBatch.state)
  }

  private register(f: Family, attributes: Readonly<Record<string, string>>, get: () => unknown): void {
    this.registrations.push(Metric.registerUnsafe(metricOf(f, attributes), this.context, { get, update: () => {}, modify: () => {} }))
  }

  /** Takes this recorder's series out of the registry (a closed bus's, when the next bus takes the registry). */
  unregister(): void {
    for (const r of this.registrations.splice(0)) r.remove()
  }

  /** The label value for `value`: itself while fewer than `maxLabelValues` have their own series, else `_other`. */
  label(kind: "topic" | "group", value: string): string {
    const seen = this.labelled[kind]
    if (seen.has(value)) return value
    if (seen.size >= maxLabelValues) return otherLabel
    seen.add(value)
    return value
  }

  /** `n` events of `topic` were committed. */
  published(topic: string, n = 1): void {
    if (!this.enabled) return
    let c = this.topicCounters.get(topic)
    if (c === undefined) {
      const label = this.label("topic", topic)
      c = this.topicCounters.get(label)
      if (c === undefined) {
        c = new Counter()
        this.register(families.published, { topic: label }, c.state)
        this.topicCounters.set(label, c)
      }
      this.topicCounters.set(topic, c)
    }
    c.n += n
  }

  /** One group commit of the writer: how long it took and how many writes it merged. */
  committed(seconds: number, writes: number): void {
    if (!this.enabled) return
    this.commitSeconds.observe(seconds)
    this.commitBatch.observe(writes)
  }

  programLoaded(ok: boolean): void {
    if (this.enabled) (ok ? this.loads.ok : this.loads.error).n++
  }

  /** The recorder of a group starting in this bus (call `release` when it stops). */
  group(group: string, topics: ReadonlyArray<string>): GroupMetrics {
    if (!this.enabled) return noGroupMetrics
    const g = this.label("group", group)
    // Keyed by the group's own name (its cursors are read by it), labelled by `g`.
    const running = this.running.get(group)
    if (running === undefined) this.running.set(group, { topics, count: 1 })
    else running.count++
    const byTopic = new Map<string, GroupTopicSeries>()
    // Most groups read one topic: the last answer is kept.
    let lastTopic: string | undefined
    let last: GroupTopicSeries | undefined
    const series = (topic: string) => {
      if (topic === lastTopic) return last
      let s = byTopic.get(topic)
      if (s === undefined) byTopic.set(topic, s = this.seriesOf(topic, g))
      lastTopic = topic
      last = s
      return s
    }
    for (const topic of topics) series(topic)
    let released = false
    return {
      series,
      release: () => {
        if (released) return
        released = true
        const r = this.running.get(group)
        if (r !== undefined && --r.count === 0) this.running.delete(group)
      }
    }
  }

  private seriesOf(topic: string, group: string): GroupTopicSeries {
    const key = `${group}\u0000${topic}`
    let s = this.groupSeries.get(key)
    if (s !== undefined) return s
    const t = this.label("topic", topic)
    const labelledKey = `${group}\u0000${t}`
    s = this.groupSeries.get(labelledKey)
    if (s === undefined) {
      s = new GroupTopicSeries()
      const attributes = { topic: t, group }
      this.register(families.delivered, attributes, s.delivered.state)
      this.register(families.inflight, attributes, s.inflight.state)
      this.register(families.acked, attributes, s.acked.state)
      this.register(families.nacked, attributes, s.nacked.state)
      this.register(families.deadLettered, attributes, s.deadLettered.state)
      this.register(families.redelivered, attributes, s.redelivered.state)
      this.register(families.pollDuration, attributes, s.poll.state)
      this.register(families.handlerDuration, attributes, s.handler.state)
      this.groupSeries.set(labelledKey, s)
    }
    this.groupSeries.set(key, s)
    return s
  }

  /**
   * A gauge read at scrape time (`sib_outbox_pending{table}`): `source` is run on every scrape;
   * returns its removal. A second source for the same table replaces the first.
   */
  addPendingSource(table: string, source: GaugeSource): () => void {
    return this.addSource(table, source, false)
  }

  /**
   * An outbox's two gauges, read at scrape time in one query: `sib_outbox_pending{table}` and
   * `sib_outbox_failed{table}` (rows refused maxAttempts times, never sent until retried: a
   * dashboard must see them). Returns their removal.
   */
  addOutboxSource(table: string, source: OutboxSource): () => void {
    return this.addSource(table, source, true)
  }

  private addSource(table: string, source: GaugeSource | OutboxSource, withFailed: boolean): () => void {
    if (!this.enabled) return () => {}
    let entry = this.sources.get(table)
    if (entry === undefined) {
      entry = { source, gauge: new Gauge(), failed: undefined }
      this.register(families.outboxPending, { table }, entry.gauge.state)
      this.sources.set(table, entry)
    } else entry.source = source
    if (withFailed && entry.failed === undefined) {
      entry.failed = new Gauge()
      this.register(families.outboxFailed, { table }, entry.failed.state)
    }
    const mine = entry
    return () => {
      if (this.sources.get(table) === mine && mine.source === source) {
        this.sources.delete(table)
        Metric.removeUnsafe(metricOf(families.outboxPending, { table }), this.context)
        if (mine.failed !== undefined) Metric.removeUnsafe(metricOf(families.outboxFailed, { table }), this.context)
      }
    }
  }

  /** Reads the lag of the groups running here and the registered sources (a failed read keeps the last value). */
  readonly refresh: Effect.Effect<void> = Effect.suspend(() => {
    const store = this.store
    const lags = store === undefined ? [] : [...this.running].flatMap(([group, r]) => r.topics.map((topic) => ({ group, topic })))
    const self = this
    return Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      // Pairs past the label limit share the `_other` series: their lag adds up (events), and its
      // age is the oldest's (seconds). A series with a failed read keeps its last value.
      const totals = new Map<{ lag: Gauge; seconds: Gauge }, { events: number; seconds: number; failed: boolean }>()
      for (const { group, topic } of lags) {
        const gauges = self.lagGauge(topic, self.label("group", group))
        const total = totals.get(gauges) ?? { events: 0, seconds: 0, failed: false }
        totals.set(gauges, total)
        const read = yield* Effect.result(lagOf(store!, group, topic, now))
        if (read._tag === "Failure") {
          total.failed = true
          continue
        }
        total.events += read.success.events
        total.seconds = Math.max(total.seconds, read.success.seconds)
      }
      for (const [gauges, total] of totals) {
        if (total.failed) continue
        gauges.lag.v = total.events
        gauges.seconds.v = total.seconds
      }
      for (const entry of self.sources.values()) {
        const read = yield* Effect.result(entry.source as Effect.Effect<number | { pending: number; failed: number }, unknown>)
        if (read._tag === "Failure") continue
        if (typeof read.success === "number") entry.gauge.v = read.success
        else {
          entry.gauge.v = read.success.pending
          if (entry.failed !== undefined) entry.failed.v = read.success.failed
        }
      }
    })
  })

  private lagGauge(topic: string, group: string) {
    const t = this.label("topic", topic)
    const key = `${group}\u0000${t}`
    let g = this.lagGauges.get(key)
    if (g === undefined) {
      g = { lag: new Gauge(), seconds: new Gauge() }
      this.register(families.lag, { topic: t, group }, g.lag.state)
      this.register(families.lagSeconds, { topic: t, group }, g.seconds.state)
      this.lagGauges.set(key, g)
    }
    return g
  }

  /** Every series in Prometheus text format (lag and sources read first). */
  readonly text: Effect.Effect<string> = Effect.suspend(() =>
    this.enabled
      ? Effect.flatMap(this.refresh, () => Effect.map(prometheusFormat, (format) => format(this.context)))
      : Effect.succeed("")
  )
}

/**
 * Effect's Prometheus text format, loaded at the first scrape: its module brings Effect's HTTP
 * server and Schema (~25 MB of a process's memory), which a process nobody scrapes never needs.
 */
const prometheusFormat = Effect.promise(() => import("effect/observability/PrometheusMetrics")).pipe(
  Effect.map((m) => m.formatUnsafe)
)

/**
 * A group's lag on a topic from its stored cursors: events after them, and the age of the oldest
 * not done (a partitioned group's: summed over its partitions, and its oldest).
 */
const lagOf = (store: StoreShape, group: string, topic: string, now: number): Effect.Effect<{ readonly events: number; readonly seconds: number }, StoreError> =>
  Effect.gen(function*() {
    const head = yield* store.runtime.headSeq(topic)
    let events = 0
    let seconds = 0
    for (const name of yield* foldUnits(store).namesOf(group)) {
      const cursor = yield* store.runtime.getCursor(name, topic)
      if (cursor === undefined || head <= cursor.floor) continue
      const { partition } = parseUnit(name)
      events += yield* store.admin.countEvents(topic, cursor.floor, head, partition)
      const oldest = yield* oldestUndone(firstEventAfter(store, topic, partition), cursor)
      if (oldest !== undefined) seconds = Math.max(seconds, Math.max(0, now - oldest.ts) / 1000)
    }
    return { events, seconds }
  })

/** The disabled recorder: records nothing, `text` is empty. */
export const disabled = new Recorder(undefined, { enabled: false })

/** One bus's metrics (see the top of this file). */
export class BusMetrics extends Context.Service<BusMetrics, Recorder>()("sibus/BusMetrics") {
  /**
   * A recorder for the bus built over it, reading lag from the provided `Store`. A `registry` given
   * is claimed while the layer is open (`BusOptionsError` when another open bus has it); the series
   * a closed bus left in it are removed first.
   */
  static readonly layer = (options: MetricsOptions = {}): Layer.Layer<BusMetrics, BusOptionsError, Store> =>
    Layer.effect(
      BusMetrics,
      Effect.flatMap(Effect.service(Store), (store) => {
        const registry = options.registry
        if (registry === undefined) return Effect.succeed(new Recorder(store, options))
        return Effect.acquireRelease(
          Effect.suspend(() => {
            const refused = registryInUse(registry)
            if (refused !== undefined) return Effect.fail(refused)
            claimed.add(registry)
            lastRecorder.get(registry)?.unregister()
            const recorder = new Recorder(store, options)
            lastRecorder.set(registry, recorder)
            return Effect.succeed(recorder)
          }),
          () => Effect.sync(() => void claimed.delete(registry))
        )
      })
    )

  /** A recorder that records nothing (`metrics: false`). */
  static readonly disabled: Layer.Layer<BusMetrics> = Layer.succeed(BusMetrics, disabled)
}
