/** Running the real `sib` binary as a subprocess, as its users do. */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { join } from "node:path"

export const sibBin = join(import.meta.dirname, "..", "..", "bin", "sib.js")

export interface SibResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const baseEnv = (env: Record<string, string | undefined>) => {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries({ ...process.env, NO_COLOR: "1", ...env })) if (v !== undefined && k !== "SIB_DB") out[k] = v
  if (env["SIB_DB"] !== undefined) out["SIB_DB"] = env["SIB_DB"]
  return out
}

/** Runs `sib args...` to completion. */
export const sib = (
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly input?: string; readonly env?: Record<string, string | undefined> }
): Promise<SibResult> =>
  new Promise((resolve) => {
    const child = execFile(process.execPath, [sibBin, ...args], { cwd: options.cwd, env: baseEnv(options.env ?? {}), timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    })
    if (options.input !== undefined) child.stdin!.end(options.input)
    else child.stdin!.end()
  })

const started = new Set<ChildProcess>()

/** Kills every `sib` a test started and left running (a failed test must not leave processes). */
export const killStarted = () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, "SIGKILL")
      } catch {
        child.kill("SIGKILL")
      }
    }
  }
  started.clear()
}

/** A long-running `sib` (run, tail --follow): its output so far, and a way to wait for its exit. */
export interface RunningSib {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
  /** Sends the signal to the whole process group, as a terminal's Ctrl-C does. */
  readonly interrupt: (signal?: NodeJS.Signals) => void
  /** Resolves when stderr (or stdout) matches. */
  readonly waitFor: (pattern: RegExp, stream?: "stdout" | "stderr", ms?: number) => Promise<void>
}

export const startSib = (
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Record<string, string | undefined>; readonly command?: ReadonlyArray<string> }
): RunningSib => {
  const [file, ...prefix] = options.command ?? [process.execPath, sibBin]
  // Its own process group, so that `interrupt` reaches it (and npm's child) as Ctrl-C on a terminal does.
  const child = spawn(file!, [...prefix, ...args], { cwd: options.cwd, env: baseEnv(options.env ?? {}), stdio: ["ignore", "pipe", "pipe"], detached: true })
  started.add(child)
  let stdout = ""
  let stderr = ""
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const waitFor = async (pattern: RegExp, stream: "stdout" | "stderr" = "stderr", ms = 15_000) => {
    const deadline = Date.now() + ms
    while (!pattern.test(stream === "stdout" ? stdout : stderr)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} on ${stream}; stderr so far:\n${stderr}\nstdout:\n${stdout}`)
      if (child.exitCode !== null) throw new Error(`sib exited (${child.exitCode}) before ${pattern}; stderr:\n${stderr}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  const interrupt = (signal: NodeJS.Signals = "SIGINT") => process.kill(-child.pid!, signal)
  return { child, stdout: () => stdout, stderr: () => stderr, exited, waitFor, interrupt }
}
