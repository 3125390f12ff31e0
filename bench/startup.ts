/**
 * Start-up of the `sib` command as scripts run it: each command a whole process (`node bin/sib.js
 * ...`, output through pipes), timed from spawn to exit, in rounds that also time `node -e 0`, the
 * yardstick (Node's own start-up on this machine, in the same conditions). Warm-up runs come first
 * and are not counted: they rebuild a stale bundle in a checkout and fill Node's compile cache, as
 * any earlier use of `sib` would have.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { median, tmpRoot } from "./common.ts"

const sibBin = join(import.meta.dirname, "..", "bin", "sib.js")

/** Wall milliseconds of one process run to completion; throws if it fails. */
const timeProcess = (args: ReadonlyArray<string>, cwd: string): number => {
  const started = performance.now()
  const r = spawnSync(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] })
  const ms = performance.now() - started
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr.toString()}`)
  return ms
}

export interface Startup {
  /** Median wall milliseconds of `node -e 0`. */
  readonly nodeMs: number
  /** Per command: its median wall milliseconds, and the median of its per-round ratio to `node -e 0`. */
  readonly commands: ReadonlyArray<{ readonly name: string; readonly ms: number; readonly ratio: number }>
}

/** `rounds` rounds of `node -e 0` then each command, on a database holding one topic; `bin` is the `sib` entry timed. */
export const startup = (rounds: number, bin = sibBin): Startup => {
  const cwd = join(tmpRoot, `startup-${process.pid}`)
  mkdirSync(cwd, { recursive: true })
  const commands = [
    { name: "sib --help", args: ["--help"] },
    { name: "sib topics", args: ["topics", "--db", "bench.db"] },
    { name: "sib publish", args: ["publish", "bench.startup", '{"n":1}', "--db", "bench.db"] }
  ]
  // The database `topics` reads (and `publish` appends to), then the warm-up runs.
  timeProcess([bin, ...commands[2]!.args], cwd)
  for (const c of commands) for (let i = 0; i < 2; i++) timeProcess([bin, ...c.args], cwd)
  timeProcess(["-e", "0"], cwd)
  const node: Array<number> = []
  const times = commands.map(() => [] as Array<number>)
  const ratios = commands.map(() => [] as Array<number>)
  for (let r = 0; r < rounds; r++) {
    const base = timeProcess(["-e", "0"], cwd)
    node.push(base)
    commands.forEach((c, i) => {
      const ms = timeProcess([bin, ...c.args], cwd)
      times[i]!.push(ms)
      ratios[i]!.push(ms / base)
    })
  }
  return { nodeMs: median(node), commands: commands.map((c, i) => ({ name: c.name, ms: median(times[i]!), ratio: median(ratios[i]!) })) }
}
