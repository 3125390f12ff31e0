/**
 * The Promise API as a complete program: a TypeScript cousin of the .sib program `npm start` runs
 * (dsl-examples/). A few simulated agent processes publish heartbeats to ./sib.db, a durable group
 * tracks their state, another alerts on stale ones. Ctrl-C (or SIGTERM) drains, closes and exits
 * (rt.closeOnSignals); running it again continues from the stored cursors.
 * Run: node docs/examples/quickstart.ts [db-file]   (SIB_DEMO_MS=<ms> stops it after that long)
 */
import { createRuntime } from "../../src/index.ts"

const rt = await createRuntime({ db: process.argv[2] ?? "./sib.db" })
await rt.defineTopic("heartbeat.received", { retention: { maxAgeMs: 3 * 24 * 3600 * 1000 } })

const lastSeen = new Map<string, number>()
let handled = 0
await rt.subscribe("heartbeat.received", "tracker", async (event) => {
  const { name } = event.payload as { name: string }
  lastSeen.set(name, event.ts)
  handled++
}, { from: "earliest" })

await rt.subscribe("process.stale", "alerts", async (event) => {
  console.error(`ALERT ${JSON.stringify(event.payload)}`)
}, { from: "latest" })

const agents = ["stt", "tts", "planner"]
let published = 0
let stopping = false // a tick under way when a signal comes publishes no more
const beat = setInterval(async () => {
  for (const name of agents) {
    if (stopping) return
    if (name === "planner" && Math.random() < 0.5) continue // a flaky agent
    await rt.publish("heartbeat.received", { pid: 1000 + agents.indexOf(name), name }, { key: name })
    published++
  }
  for (const [name, at] of lastSeen) {
    if (stopping) return
    if (Date.now() - at > 1500) await rt.publish("process.stale", { name, lastSeenMs: Date.now() - at }, { key: name })
  }
}, 250)

const status = setInterval(() => {
  const s = rt.groupStats("tracker")
  process.stderr.write(`published ${published}  handled ${handled}  cursor ${s?.floors["heartbeat.received"] ?? "-"}  in flight ${s?.buffered ?? 0}\n`)
}, 1000)

// The first signal stops the timers, then closes the runtime: the groups drain and commit, the
// database closes, and with nothing left to keep it alive the process ends (exit code 0). A
// second Ctrl-C exits at once.
const demo = process.env.SIB_DEMO_MS ? setTimeout(() => process.kill(process.pid, "SIGTERM"), Number(process.env.SIB_DEMO_MS)) : undefined
rt.closeOnSignals({
  onSignal: () => {
    stopping = true
    clearInterval(beat)
    clearInterval(status)
    clearTimeout(demo)
  },
  exit: false
})
process.once("beforeExit", () => process.stderr.write(`stopped cleanly: ${handled} heartbeats handled this run\n`))
