/**
 * The session's phase: every transition checks the phase it leaves, and what the phase allows
 * (accepting runs, the in-flight limit, pipelined acks, lease on append, the fetch gate) follows
 * from the phase alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { SessionPhase } from "../../../src/runtime/group/phase.ts"

const allowed = (p: SessionPhase) => ({
  phase: p.current._tag, accepting: p.accepting, limit: p.limit, isolating: p.isolating, stopping: p.stopping,
  pipelining: p.pipelining, leasesOnAppend: p.leasesOnAppend, fetching: p.fetchGate.isOpen()
})

describe("SessionPhase", () => {
  it("claim, recover, isolate, run, drain, done: what each phase allows", () => {
    const p = new SessionPhase(8)
    assert.deepStrictEqual(allowed(p), {
      phase: "Claiming", accepting: false, limit: 8, isolating: false, stopping: false, pipelining: true, leasesOnAppend: false, fetching: false
    })
    p.claimed(true)
    assert.deepStrictEqual(p.current, { _tag: "Recovering", crashed: true })
    assert.deepStrictEqual([p.accepting, p.limit, p.fetchGate.isOpen()], [true, 8, false])
    p.isolate(3)
    assert.deepStrictEqual(allowed(p), {
      phase: "Isolating", accepting: true, limit: 1, isolating: true, stopping: false, pipelining: false, leasesOnAppend: false, fetching: false
    })
    p.run()
    assert.deepStrictEqual(allowed(p), {
      phase: "Running", accepting: true, limit: 8, isolating: false, stopping: false, pipelining: true, leasesOnAppend: true, fetching: true
    })
    p.drain()
    assert.deepStrictEqual(allowed(p), {
      phase: "Draining", accepting: false, limit: 8, isolating: false, stopping: true, pipelining: true, leasesOnAppend: false, fetching: true
    })
    p.done()
    assert.deepStrictEqual([p.current._tag, p.accepting, p.stopping], ["Done", false, true])
  })

  it("the other ways through: no suspects, a stop while isolating, a stop while standing by", () => {
    const direct = new SessionPhase(2)
    direct.claimed(false)
    direct.run()
    assert.strictEqual(direct.current._tag, "Running")
    const isolated = new SessionPhase(2)
    isolated.claimed(true)
    isolated.isolate(1)
    isolated.drain()
    assert.deepStrictEqual([isolated.current._tag, isolated.fetchGate.isOpen()], ["Draining", false])
    const standingBy = new SessionPhase(2)
    standingBy.done()
    assert.strictEqual(standingBy.current._tag, "Done")
  })

  it("a transition from a phase it does not leave throws and changes nothing", () => {
    const p = new SessionPhase(4)
    assert.throws(() => p.run(), /cannot go from Claiming to Running/)
    assert.throws(() => p.drain(), /cannot go from Claiming to Draining/)
    p.claimed(false)
    assert.throws(() => p.claimed(false), /cannot go from Recovering to Recovering/)
    assert.throws(() => p.done(), /cannot go from Recovering to Done/)
    p.run()
    assert.throws(() => p.isolate(1), /cannot go from Running to Isolating/)
    assert.throws(() => p.run(), /cannot go from Running to Running/)
    assert.strictEqual(p.current._tag, "Running")
    p.drain()
    assert.throws(() => p.run(), /cannot go from Draining to Running/)
    p.done()
    assert.throws(() => p.done(), /cannot go from Done to Done/)
  })
})
