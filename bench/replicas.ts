/**
 * The replicas section (issue 13): one group's work shared by several member processes.
 * - `scaling`: a topic of 8 partitions; N members (1, 2, 4) join and settle (every partition
 *   leased, each member holding its share), then 20k events over 1,000 keys are published at once
 *   and timed until the group's slowest partition has passed the last one. Each member runs at
 *   most 8 handlers at once, each waiting 5 ms: one member's ceiling is about 1,600 events/s.
 * - `rebalance`: two members under a steady stream; one is killed with SIGKILL, and the time until
 *   the survivor handles an event of one of the victim's partitions is the hand-off time; events
 *   the victim handled (logged) and the survivor handled again are its redeliveries.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { createRuntime } from "../src/promise.ts"
import { Effect, Layer, ManagedRuntime } from "effect"
import { Inspect } from "../src/runtime/Inspect.ts"
import { openStore } from "../src/store/open.ts"
import { payload, tmpRoot } from "./common.ts"

const partitions = 8
const member = (location: string, workMs: number, leaseMs: number, log?: string): { child: ChildProcess; ready: Promise<void> } => {
  const child = spawn(process.execPath, [join(import.meta.dirname, "replica-member.ts"), location, String(workMs), "8", String(leaseMs), ...(log === undefined ? [] : [log])], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => String(d).includes("ready") && resolve())
    child.on("exit", (code) => reject(new Error(`a member exited (${code}) before it was ready`)))
  })
  // (A member stopped before it was ready, at the end of a run, is no failure of the run.)
  ready.catch(() => undefined)
  return { child, ready }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Resolves once `child` has exited (by a code or a signal), also when it already has. */
const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.on("exit", () => resolve())
  })

type Runtime = Awaited<ReturnType<typeof createRuntime>>

/** Reading the database as `sib groups` does, for the whole of a run. */
const inspector = (location: string) => {
  const runtime = ManagedRuntime.make(Inspect.layer.pipe(Layer.provide(openStore(location))))
  return {
    groups: () => runtime.runPromise(Effect.flatMap(Effect.service(Inspect), (inspect) => inspect.groups)),
    close: () => runtime.dispose()
  }
}

/** Waits until every partition is leased and `n` members hold a share each. */
const settled = async (location: string, n: number) => {
  const inspect = inspector(location)
  try {
    await settle(inspect, location, n)
  } finally {
    await inspect.close()
  }
}

const settle = async (inspect: ReturnType<typeof inspector>, location: string, n: number) => {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const groups = (await inspect.groups()).filter((g) => g.cursor.group === "work" && g.partition !== undefined)
    const owners = new Map<string, number>()
    for (const g of groups) if (g.owner !== undefined) owners.set(g.owner.sid, (owners.get(g.owner.sid) ?? 0) + 1)
    if (groups.length === partitions && [...owners.values()].reduce((a, b) => a + b, 0) === partitions && owners.size === n) return
    await sleep(50)
  }
  throw new Error(`${n} members did not settle on ${location}`)
}

/** Events/s of `members` processes draining 20k events of 5 ms each. */
export const scaling = async (location: string, members: number, events: number): Promise<number> => {
  const rt = await createRuntime({ db: location })
  await rt.defineTopic("jobs", { partitions })
  const children = Array.from({ length: members }, () => member(location, 5, 3000))
  try {
    await Promise.all(children.map((c) => c.ready))
    await settled(location, members)
    const t0 = performance.now()
    for (let i = 0; i < events; i += 1000) {
      await rt.publishAll(Array.from({ length: Math.min(1000, events - i) }, (_, j) => ({ topic: "jobs", payload: payload(i + j), key: `k${(i + j) % 1000}` })))
    }
    const head = await lastSeq(rt)
    // (Polled every 100 ms: the check reads every cursor, and the parent shares the cores.)
    while (((await rt.getCursor("jobs", "work")) ?? 0) < head) await sleep(100)
    return events / ((performance.now() - t0) / 1000)
  } finally {
    for (const c of children) c.child.kill("SIGTERM")
    await Promise.all(children.map((c) => exited(c.child)))
    await rt.close()
  }
}

const lastSeq = async (rt: Runtime): Promise<number> => {
  let after = 0
  for (;;) {
    const page = await rt.read("jobs", after, 5000)
    if (page.length === 0) return after
    after = page[page.length - 1]!.seq
  }
}

/** Hand-off times (ms) of `kills` SIGKILLs of one of two members, and events redelivered per hand-off. */
export const rebalance = async (location: string, kills: number): Promise<{ readonly handoffMs: ReadonlyArray<number>; readonly redelivered: ReadonlyArray<number> }> => {
  const rt = await createRuntime({ db: location })
  await rt.defineTopic("jobs", { partitions })
  const logs: Array<string> = []
  let n = 0
  const spawnLogged = () => {
    const log = join(tmpRoot, `replica-${process.pid}-${n++}.log`)
    logs.push(log)
    return { ...member(location, 2, 1000, log), log }
  }
  const read = (log: string) =>
    existsSync(log)
      ? readFileSync(log, "utf8").trim().split("\n").filter((l) => l.length > 0).map((l) => l.split(" ").map(Number) as [number, number, number])
      : []
  let members = [spawnLogged(), spawnLogged()]
  let stop = false
  let i = 0
  const publishing = (async () => {
    while (!stop) {
      await rt.publishAll(Array.from({ length: 10 }, () => ({ topic: "jobs", payload: payload(i), key: `k${i++ % 1000}` })))
      await sleep(10)
    }
  })()
  const handoffMs: Array<number> = []
  const redelivered: Array<number> = []
  try {
    for (let k = 0; k < kills; k++) {
      if (process.env["SIB_BENCH_DEBUG"] === "1") console.error(`kill ${k}: waiting for members`)
      await Promise.all(members.map((m) => m.ready))
      if (process.env["SIB_BENCH_DEBUG"] === "1") console.error(`kill ${k}: settling`)
      await settled(location, 2)
      await sleep(500)
      const [victim, survivor] = members as [typeof members[number], typeof members[number]]
      const theirs = new Set(read(victim.log).map(([, p]) => p))
      const mineBefore = new Set(read(survivor.log).map(([, p]) => p))
      const moving = [...theirs].filter((p) => !mineBefore.has(p))
      const killedAt = Date.now()
      victim.child.kill("SIGKILL")
      const victimSeqs = new Set(read(victim.log).map(([seq]) => seq))
      const deadline = Date.now() + 30_000
      for (;;) {
        const taken = read(survivor.log).find(([, p, at]) => at >= killedAt && moving.includes(p))
        if (taken !== undefined) {
          handoffMs.push(taken[2] - killedAt)
          break
        }
        if (Date.now() > deadline) throw new Error("the survivor never took the killed member's partitions")
        await sleep(5)
      }
      await sleep(1000)
      redelivered.push(read(survivor.log).filter(([seq, , at]) => at >= killedAt && victimSeqs.has(seq)).length)
      members = [survivor, spawnLogged()]
    }
  } finally {
    stop = true
    await publishing
    for (const m of members) m.child.kill("SIGTERM")
    await Promise.all(members.map((m) => exited(m.child)))
    await rt.close()
    for (const log of logs) rmSync(log, { force: true })
  }
  return { handoffMs, redelivered }
}
