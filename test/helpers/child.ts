/** Spawning test processes (node runs the TypeScript fixtures directly). */
import { type ChildProcess, spawn } from "node:child_process"
import { join } from "node:path"

export const fixture = (name: string) => join(import.meta.dirname, "..", "fixtures", name)

export interface Child {
  readonly process: ChildProcess
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

/** Children still running: killed when the test process exits. */
const running = new Set<ChildProcess>()
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL")
})

export const spawnNode = (script: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Child => {
  const child = spawn(process.execPath, ["--import", fixture("orphan-guard.ts"), script, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  running.add(child)
  child.on("exit", () => running.delete(child))
  let stderr = ""
  child.stderr!.on("data", (d) => (stderr += String(d)))
  child.stdout!.on("data", () => {})
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stderr }))
  )
  return { process: child, exited }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
