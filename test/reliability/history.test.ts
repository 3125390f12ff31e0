/**
 * The history checker itself: a history a correct system could produce (generated from a model:
 * batches published or failed, groups running each stored event once in seq order, a follow-up per
 * run) has no anomaly; each kind of fault written into it is found, and only that kind.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { type AnomalyKind, check, type HistoryRecord, type StoreState } from "./history.ts"

interface Model {
  readonly history: Array<HistoryRecord>
  readonly state: { events: Array<{ id: string; seq: number; key: string }>; floors: Map<string, number>; followUps: Array<{ id: string; group: string; causedBy: Array<string> }>; groupsWithFollowUps: Array<string> }
}

/** A correct run: `batches` publishes (sizes, and whether each failed), one group running everything. */
const correctRun = (batches: ReadonlyArray<{ size: number; fails: boolean }>, keys: number): Model => {
  const history: Array<HistoryRecord> = [{ k: "start", pid: 1, role: "publisher" }, { k: "start", pid: 2, role: "consumer" }]
  const events: Array<{ id: string; seq: number; key: string }> = []
  let n = 0
  batches.forEach(({ size, fails }, b) => {
    const ids = Array.from({ length: size }, () => `e${++n}`)
    history.push({ k: "attempt", pid: 1, batch: `b${b}`, ids })
    if (fails) {
      history.push({ k: "failed", pid: 1, batch: `b${b}`, error: "refused" })
      return
    }
    for (const id of ids) events.push({ id, seq: events.length + 1, key: `k${Number(id.slice(1)) % keys}` })
    history.push({ k: "resolved", pid: 1, batch: `b${b}` })
  })
  const followUps = events.map((e) => ({ id: `f-${e.id}`, group: "g", causedBy: [e.id] }))
  for (const e of events) history.push({ k: "run", pid: 2, group: "g", id: e.id, seq: e.seq, key: e.key, attempt: 1 })
  return { history, state: { events, floors: new Map([["g", events.length]]), followUps, groupsWithFollowUps: ["g"] } }
}

const kinds = (state: StoreState, history: ReadonlyArray<HistoryRecord>) => [...new Set(check(history, state).anomalies.map((a) => a.kind))].sort()

const batches = fc.array(fc.record({ size: fc.integer({ min: 1, max: 5 }), fails: fc.boolean() }), { minLength: 3, maxLength: 30 })
  .filter((bs) => bs.filter((b) => !b.fails).length >= 2 && bs.some((b) => b.fails && b.size >= 1))

describe("history checker", () => {
  it("finds nothing in a correct run", () => {
    fc.assert(fc.property(batches, fc.integer({ min: 1, max: 4 }), (bs, keys) => {
      const { history, state } = correctRun(bs, keys)
      expect(check(history, state).anomalies).toEqual([])
    }))
  })

  /** Each fault, written into a correct run, and the one kind it must be reported as. */
  const faults: ReadonlyArray<readonly [AnomalyKind, (m: Model) => void]> = [
    ["lost", (m) => {
      const e = m.state.events.pop()!
      m.state.floors.set("g", m.state.events.length)
      m.state.followUps = m.state.followUps.filter((f) => f.causedBy[0] !== e.id)
      // Its batch keeps its other events: the rest of the batch is gone too, or the tear shows.
      const attempt = m.history.find((r) => r.k === "attempt" && r.ids.includes(e.id)) as Extract<HistoryRecord, { k: "attempt" }>
      attempt.ids.length === 1 || m.history.splice(m.history.indexOf(attempt), 1, { ...attempt, ids: [e.id] }, { k: "attempt", pid: 1, batch: `${attempt.batch}-rest`, ids: attempt.ids.filter((id) => id !== e.id) })
      m.history.push({ k: "resolved", pid: 1, batch: `${attempt.batch}-rest` })
    }],
    ["phantom", (m) => {
      m.state.events.push({ id: "ghost", seq: m.state.events.length + 1, key: "k0" })
      m.state.floors.set("g", m.state.events.length)
      m.state.followUps.push({ id: "f-ghost", group: "g", causedBy: ["ghost"] })
      m.history.push({ k: "run", pid: 2, group: "g", id: "ghost", seq: m.state.events.length, key: "k0", attempt: 1 })
    }],
    ["failed but visible", (m) => {
      const failed = m.history.find((r) => r.k === "failed")!
      const attempt = m.history.find((r) => r.k === "attempt" && r.batch === failed.batch) as Extract<HistoryRecord, { k: "attempt" }>
      for (const id of attempt.ids) {
        m.state.events.push({ id, seq: m.state.events.length + 1, key: "k0" })
        m.state.followUps.push({ id: `f-${id}`, group: "g", causedBy: [id] })
        m.history.push({ k: "run", pid: 2, group: "g", id, seq: m.state.events.length, key: "k0", attempt: 1 })
      }
      m.state.floors.set("g", m.state.events.length)
    }],
    ["skipped", (m) => {
      const i = m.history.findIndex((r) => r.k === "run")
      m.history.splice(i, 1)
    }],
    ["out of order", (m) => {
      // Two runs of one key, swapped.
      const runs = m.history.filter((r): r is Extract<HistoryRecord, { k: "run" }> => r.k === "run")
      const first = runs[0]!
      const later = runs.find((r) => r.key === first.key && r !== first)
      if (later === undefined) {
        m.history.push({ ...first, seq: first.seq, id: first.id })
        const extra = { id: "late", seq: m.state.events.length + 1, key: first.key! }
        m.state.events.push(extra)
        m.history.push({ k: "attempt", pid: 1, batch: "late", ids: ["late"] }, { k: "resolved", pid: 1, batch: "late" })
        m.state.followUps.push({ id: "f-late", group: "g", causedBy: ["late"] })
        m.state.floors.set("g", m.state.events.length)
        const a = m.history.indexOf(first)
        m.history.splice(a, 0, { k: "run", pid: 2, group: "g", id: "late", seq: extra.seq, key: first.key, attempt: 1 })
        return
      }
      const a = m.history.indexOf(first)
      const b = m.history.indexOf(later)
      m.history[a] = later
      m.history[b] = first
    }],
    ["follow-up missing", (m) => {
      m.state.followUps.shift()
    }],
    ["follow-up duplicated", (m) => {
      m.state.followUps.push({ ...m.state.followUps[0]!, id: "again" })
    }],
    ["torn batch", (m) => {
      const attempt = m.history.find((r) => r.k === "attempt" && !m.history.some((o) => o.k === "failed" && o.batch === r.batch)) as Extract<HistoryRecord, { k: "attempt" }>
      m.history.splice(m.history.indexOf(attempt), 1, { ...attempt, ids: [...attempt.ids, "never-stored"] })
      m.history.splice(m.history.findIndex((r) => r.k === "resolved" && r.batch === attempt.batch), 1)
    }],
    ["duplicate", (m) => {
      const e = m.state.events[0]!
      m.state.events.push({ ...e, seq: m.state.events.length + 1 })
    }]
  ]

  for (const [kind, fault] of faults) {
    it(`finds ${kind}, and only that`, () => {
      fc.assert(fc.property(batches, fc.integer({ min: 1, max: 3 }), (bs, keys) => {
        const model = correctRun(bs, keys)
        fault(model)
        expect(kinds(model.state, model.history)).toEqual([kind])
      }))
    })
  }

  it("counts redeliveries without calling them anomalies", () => {
    const { history, state } = correctRun([{ size: 3, fails: false }, { size: 1, fails: true }], 2)
    const run = history.find((r) => r.k === "run")!
    history.push({ k: "crash", pid: 2 }, { ...run, pid: 3 } as HistoryRecord)
    const verdict = check(history, state)
    expect(verdict.anomalies).toEqual([])
    expect(verdict.redeliveries).toBe(1)
    expect(verdict.crashes).toBe(1)
  })
})
