/**
 * The Promise facade, and what `npm start` runs until the `sib` CLI exists: a few simulated agent
 * processes publish heartbeats to ./sib.db, a durable group tracks their state, another alerts on
 * stale ones. Ctrl-C drains and exits; running it again continues from the stored cursors.
 * Run: node docs/examples/quickstart.ts [db-file]   (SIB_DEMO_MS=<ms> stops it after that long)
 */
import { createRuntime } from "../../src/index.ts"

const rt = await createRuntime({ db: process.argv[2] ?? "./sib.db" })
await rt.defineTopic("heartbeat.received", { retention: { maxAgeMs: 3 * 24 * 3600 * 1000 } })

const lastSeen = new Map<string, number>()
let handled = 0
const stopState = await rt.subscribe("heartbeat.received", "process.state", async (event) => {
  const { name } = event.payload as { name: string }
  lastSeen.set(name, event.ts)
  handled++
}, { from: "earliest" })

const stopAlerts = await rt.subscribe("process.stale", "alerts", async (event) => {
  console.error(`ALERT ${JSON.stringify(event.payload)}`)
}, { from: "latest" })

const agents = ["stt", "tts", "planner"]
let published = 0
const beat = setInterval(async () => {
  for (const name of agents) {
    if (name === "planner" && Math.random() < 0.5) continue // a flaky agent
    await rt.publish("heartbeat.received", { pid: 1000 + agents.indexOf(name), name }, { key: name })
    published++
  }
  for (const [name, at] of lastSeen) {
    if (Date.now() - at > 1500) await rt.publish("process.stale", { name, lastSeenMs: Date.now() - at }, { key: name })
  }
}, 250)

const status = setInterval(() => {
  const s = rt.groupStats("process.state")
  process.stderr.write(`published ${published}  handled ${handled}  cursor ${s?.floors["heartbeat.received"] ?? "-"}  in flight ${s?.buffered ?? 0}\n`)
}, 1000)

let stopping = false
const stop = async () => {
  if (stopping) process.exit(1)
  stopping = true
  clearInterval(beat)
  clearInterval(status)
  await stopState()
  await stopAlerts()
  await rt.close()
  process.stderr.write(`stopped cleanly: ${handled} heartbeats handled this run\n`)
  process.exit(0)
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
if (process.env.SIB_DEMO_MS) setTimeout(stop, Number(process.env.SIB_DEMO_MS))
