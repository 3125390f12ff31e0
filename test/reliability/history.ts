/**
 * Histories of reliability scenarios and the one checker that classifies them (issue 13).
 *
 * Every process of a scenario appends what it did to a log of its own, one JSON record per line
 * (`appendRecord`): a publish attempted (with the ids of its batch), resolved or failed; a delivery
 * (which group, process and attempt); a crash or start (written by the scenario's driver). After
 * the run, the store says what exists: every event of the topics, each group's floor, and the
 * follow-ups (events caused by another). `check` compares the two and returns every anomaly:
 *
 * - lost write: a resolved publish whose event is not stored;
 * - phantom: a stored event that no one attempted to publish;
 * - torn batch: some but not all events of one publish attempt stored (a batch is all or nothing);
 * - failed but visible: a publish that failed (with an error, not a crash) whose event is stored;
 * - duplicate: an id stored twice;
 * - skipped: an event at or under a group's floor that the group never ran;
 * - out of order: within one process's tenure of a group, a key's events first run out of seq order;
 * - follow-up missing or duplicated: a handled input without exactly one follow-up.
 *
 * Redeliveries (an event run more than once by a group) are counted, not anomalies: the scenario
 * asserts its own bound (events in flight at a crash or hand-off).
 */
import { appendFileSync, existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"

export type HistoryRecord =
  | { readonly k: "attempt"; readonly pid: number; readonly batch: string; readonly ids: ReadonlyArray<string> }
  | { readonly k: "resolved"; readonly pid: number; readonly batch: string }
  | { readonly k: "failed"; readonly pid: number; readonly batch: string; readonly error: string }
  | {
    readonly k: "run"; readonly pid: number; readonly group: string; readonly id: string; readonly seq: number; readonly key: string | null
    readonly attempt: number
    /** The event's partition, on a partitioned topic. */
    readonly partition?: number | null
  }
  | { readonly k: "crash"; readonly pid: number }
  | { readonly k: "start"; readonly pid: number; readonly role: string }

/** Appends one record to `file` (one line: atomic for the small records a scenario writes). */
export const appendRecord = (file: string, record: HistoryRecord) => appendFileSync(file, `${JSON.stringify(record)}\n`)

/** Every record of every `*.jsonl` log in `dir`, each file in its order. */
export const readHistory = (dir: string): Array<HistoryRecord> =>
  existsSync(dir)
    ? readdirSync(dir).filter((f) => f.endsWith(".jsonl")).flatMap((f) =>
      readFileSync(join(dir, f), "utf8").split("\n").filter((l) => l.length > 0).flatMap((l) => {
        try {
          return [JSON.parse(l) as HistoryRecord]
        } catch {
          // A line cut by kill -9 mid-write: the record was never complete.
          return []
        }
      })
    )
    : []

/** What the store holds after the run. */
export interface StoreState {
  /** Every event of the scenario's input topics, in seq order. */
  readonly events: ReadonlyArray<{ readonly id: string; readonly seq: number; readonly key?: string | undefined }>
  /** Each group's floor on the input topic (every event at or under it is done). */
  readonly floors: ReadonlyMap<string, number>
  /** Follow-ups: events a group's handler published, caused by an input event (none when handlers publish none). */
  readonly followUps: ReadonlyArray<{ readonly id: string; readonly group: string; readonly causedBy: ReadonlyArray<string> }>
  /** Groups whose handlers publish one follow-up per run that succeeds. */
  readonly groupsWithFollowUps: ReadonlyArray<string>
  /** Events a group dead-lettered (done without a successful run). */
  readonly deadLettered?: ReadonlyMap<string, ReadonlySet<string>>
}

export type AnomalyKind = "lost" | "phantom" | "torn batch" | "failed but visible" | "duplicate" | "skipped" | "out of order" | "follow-up missing" | "follow-up duplicated"

export interface Anomaly {
  readonly kind: AnomalyKind
  readonly detail: string
}

export interface Verdict {
  readonly anomalies: ReadonlyArray<Anomaly>
  /** Events checked: stored input events. */
  readonly events: number
  /** Runs of an event by a group beyond its first, over all groups. */
  readonly redeliveries: number
  readonly crashes: number
}

/** Classifies a history against the store's final state. */
export const check = (history: ReadonlyArray<HistoryRecord>, state: StoreState): Verdict => {
  const anomalies: Array<Anomaly> = []
  const add = (kind: AnomalyKind, detail: string) => anomalies.push({ kind, detail })

  const stored = new Map<string, number>()
  for (const e of state.events) {
    if (stored.has(e.id)) add("duplicate", `${e.id} stored at seqs ${stored.get(e.id)} and ${e.seq}`)
    stored.set(e.id, e.seq)
  }

  // Publishes: every batch's events are all stored or none; resolved ones all; failed ones none.
  const attempts = new Map<string, ReadonlyArray<string>>()
  const attempted = new Set<string>()
  for (const r of history) {
    if (r.k !== "attempt") continue
    attempts.set(r.batch, r.ids)
    for (const id of r.ids) attempted.add(id)
  }
  const outcome = new Map<string, "resolved" | "failed">()
  for (const r of history) if (r.k === "resolved" || r.k === "failed") outcome.set(r.batch, r.k)
  for (const [batch, ids] of attempts) {
    const present = ids.filter((id) => stored.has(id))
    if (present.length > 0 && present.length < ids.length) add("torn batch", `batch ${batch}: ${present.length} of ${ids.length} events stored`)
    if (outcome.get(batch) === "resolved" && present.length < ids.length) {
      add("lost", `batch ${batch} resolved but ${ids.filter((id) => !stored.has(id)).join(", ")} not stored`)
    }
    if (outcome.get(batch) === "failed" && present.length > 0) add("failed but visible", `batch ${batch} failed but ${present.join(", ")} stored`)
  }
  for (const e of state.events) if (!attempted.has(e.id)) add("phantom", `${e.id} (seq ${e.seq}) stored but never published`)

  // Deliveries, per group.
  const runs = history.filter((r): r is Extract<HistoryRecord, { k: "run" }> => r.k === "run")
  const groups = new Set([...state.floors.keys(), ...runs.map((r) => r.group)])
  let redeliveries = 0
  for (const group of groups) {
    const mine = runs.filter((r) => r.group === group)
    const ran = new Map<string, number>()
    for (const r of mine) ran.set(r.id, (ran.get(r.id) ?? 0) + 1)
    for (const n of ran.values()) redeliveries += n - 1
    const floor = state.floors.get(group) ?? 0
    const dead = state.deadLettered?.get(group) ?? new Set<string>()
    for (const e of state.events) {
      if (e.seq <= floor && !ran.has(e.id) && !dead.has(e.id)) add("skipped", `group ${group} passed ${e.id} (seq ${e.seq}, floor ${floor}) without running it`)
    }
    // Within one process's tenure, a key's events first run in seq order.
    const byPid = new Map<number, Map<string, number>>()
    const firstRun = new Set<string>()
    for (const r of mine) {
      const tenure = `${r.pid}/${r.id}`
      if (firstRun.has(tenure)) continue
      firstRun.add(tenure)
      if (r.key === null) continue
      const keys = byPid.get(r.pid) ?? new Map<string, number>()
      byPid.set(r.pid, keys)
      const last = keys.get(r.key)
      if (last !== undefined && r.seq < last) add("out of order", `group ${group}, pid ${r.pid}, key ${r.key}: seq ${r.seq} ran after ${last}`)
      keys.set(r.key, Math.max(last ?? 0, r.seq))
    }
  }

  // Follow-ups: one per input a group finished (at or under its floor, not dead-lettered).
  for (const group of state.groupsWithFollowUps) {
    const floor = state.floors.get(group) ?? 0
    const dead = state.deadLettered?.get(group) ?? new Set<string>()
    const count = new Map<string, number>()
    for (const f of state.followUps) {
      if (f.group === group) for (const cause of f.causedBy) count.set(cause, (count.get(cause) ?? 0) + 1)
    }
    for (const e of state.events) {
      if (e.seq > floor || dead.has(e.id)) continue
      const n = count.get(e.id) ?? 0
      if (n === 0) add("follow-up missing", `group ${group}: ${e.id} (seq ${e.seq}) done without its follow-up`)
      if (n > 1) add("follow-up duplicated", `group ${group}: ${e.id} (seq ${e.seq}) has ${n} follow-ups`)
    }
  }

  return { anomalies, events: state.events.length, redeliveries, crashes: history.filter((r) => r.k === "crash").length }
}
