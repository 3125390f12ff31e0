/**
 * What the history scenarios share (`crashes.test.ts`, `rebalance.test.ts`): reading a topic
 * whole, pausing a process at a moment it holds no SQLite write lock, and the end of every
 * scenario: wait for group "g" to drain "in", stop the members, and check the history of every
 * process against the store (`history.ts`).
 */
import { readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import SqliteDatabase from "better-sqlite3"
import { expect } from "vitest"
import { createRuntime } from "../../src/promise.ts"
import type { Event } from "../../src/store/records.ts"
import { type Child, sleep } from "../helpers/child.ts"
import { check, readHistory } from "./history.ts"

/** The children's environment: one compile cache for every spawned fixture. */
export const childEnv = { NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache") }

export const readAll = async (rt: Awaited<ReturnType<typeof createRuntime>>, topic: string): Promise<Array<Event>> => {
  const all: Array<Event> = []
  for (let after = 0;;) {
    const page = await rt.read(topic, after, 5000)
    if (page.length === 0) return all
    all.push(...page)
    after = page[page.length - 1]!.seq
  }
}

/** Whether a SQLite file's write lock is free: one of a few tries of BEGIN IMMEDIATE gets it at once. */
const writeLockFree = async (file: string): Promise<boolean> => {
  const probe = new SqliteDatabase(file)
  probe.pragma("busy_timeout = 0")
  try {
    for (let i = 0; i < 20; i++) {
      try {
        probe.exec("BEGIN IMMEDIATE")
        probe.exec("ROLLBACK")
        return true
      } catch {
        await sleep(5)
      }
    }
    return false
  } finally {
    probe.close()
  }
}

/** Whether a process is stopped (state T in /proc), so it holds what it held at the signal. */
const stopped = (pid: number) => readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /s, "").startsWith("T")

/**
 * SIGSTOPs `child` at a moment it does not hold SQLite's write lock, and returns the number of
 * tries. A process paused inside a write transaction holds every writer of the file until it
 * resumes (SQLite's locks cannot be taken from a live process), so no standby could take over:
 * that case is SQLite's limit (the README says so), not the fencing this scenario checks. On
 * Postgres any moment does: the server ends a paused writer's transaction after 5 s.
 */
export const pauseOutsideWrites = async (child: Child, dialect: string, db: string): Promise<number> => {
  for (let tries = 1; ; tries++) {
    child.process.kill("SIGSTOP")
    while (!stopped(child.process.pid!)) await sleep(1)
    if (dialect !== "sqlite" || tries === 50 || (await writeLockFree(db))) return tries
    child.process.kill("SIGCONT")
    await sleep(10 + Math.random() * 40)
  }
}

/**
 * Waits for group "g" to reach the head of "in", stops the members, and checks the history of
 * `logs` against the store.
 */
export const drainAndCheckAt = async (db: string, reproduce: string, logs: string, members: ReadonlyArray<Child>, crashed: ReadonlyArray<number>) => {
  const rt = await createRuntime({ db })
  const head = (await readAll(rt, "in")).at(-1)?.seq ?? 0
  const deadline = Date.now() + 120_000
  while (((await rt.getCursor("in", "g")) ?? 0) < head) {
    if (Date.now() > deadline) throw new Error(`the group did not drain (${reproduce})`)
    await sleep(100)
  }
  for (const m of members) m.process.kill("SIGTERM")
  for (const m of members) {
    const exit = await m.exited
    // A member still starting (its signal handlers not yet installed) dies of the signal: it ran nothing.
    const ranNothing = !readHistory(logs).some((r) => r.k === "run" && r.pid === m.process.pid)
    if (!(exit.signal === "SIGTERM" && ranNothing)) expect(exit.code, `${reproduce}\n${exit.stderr}`).toBe(0)
  }

  const events = await readAll(rt, "in")
  const followUps = (await readAll(rt, "out")).map((e) => ({ id: e.id, group: "g", causedBy: e.causedBy ?? [] }))
  const dead = new Set((await rt.deadLetters({ group: "g" })).map((d) => d.eventId))
  const floor = (await rt.getCursor("in", "g")) ?? 0
  await rt.close()

  const history = [...readHistory(logs), ...crashed.map((pid) => ({ k: "crash" as const, pid }))]
  const verdict = check(history, {
    events: events.map((e) => ({ id: e.id, seq: e.seq, key: e.key })),
    floors: new Map([["g", floor]]),
    followUps,
    groupsWithFollowUps: ["g"],
    deadLettered: new Map([["g", dead]])
  })
  return { verdict, history, dead }
}

