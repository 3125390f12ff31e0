/**
 * Child process of the replicas section: one member of group "work" on topic "jobs" (partitioned
 * by the parent), whose handler waits `workMs` per event (I/O-bound, like a tool call), with
 * `maxInFlight` handlers at once in this process. With a log file, appends "<seq> <partition>
 * <wall ms>" per handled event (the rebalance row reads it). Prints "ready" once subscribed;
 * closes on SIGTERM.
 * Usage: node bench/replica-member.ts <location> <workMs> <maxInFlight> <leaseMs> [log]
 */
import { appendFileSync } from "node:fs"
import { createRuntime } from "../src/promise.ts"

const [location, workMs, maxInFlight, leaseMs, log] = process.argv.slice(2) as [string, string, string, string, string | undefined]
const rt = await createRuntime({ db: location, pollIntervalMs: 50 })
rt.closeOnSignals()
const wait = Number(workMs)
await rt.subscribe("jobs", "work", async (event) => {
  if (log !== undefined) appendFileSync(log, `${event.seq} ${event.partition ?? -1} ${Date.now()}\n`)
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
}, { from: "earliest", maxInFlight: Number(maxInFlight), leaseMs: Number(leaseMs), batchSize: 200 })
console.log("ready")
if (process.env["SIB_BENCH_DEBUG"] === "1") {
  process.on("exit", () => {
    const u = process.resourceUsage()
    console.error(`member ${process.pid}: cpu ${((u.userCPUTime + u.systemCPUTime) / 1e6).toFixed(2)} s`)
  })
}
