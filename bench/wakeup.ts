/**
 * Cross-process wake-up: a publish in this process, the handler in another one on the same
 * database file. The child subscribes and prints, per event, the wall-clock time its handler ran;
 * this process publishes one event at a time at random gaps and records when each commit returned.
 * Latency = handler time - commit time, in milliseconds (both clocks are the machine's).
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { createRuntime } from "../src/index.ts"

const now = () => performance.timeOrigin + performance.now()

/** Run as the child: `node bench/wakeup.ts --child <db>`. */
const child = async (db: string) => {
  const rt = await createRuntime({ db, maintenance: false })
  await rt.subscribe("wake", "wake-group", (e) => {
    process.stdout.write(`${(e.payload as { i: number }).i} ${now()}\n`)
  }, { from: "latest" })
  process.stdout.write("ready\n")
  process.stdin.on("end", () => void rt.close().then(() => process.exit(0)))
  process.stdin.resume()
}

/** Latencies (ms) of `samples` publishes seen by a subscriber in a child process. */
export const wakeup = async (db: string, samples: number): Promise<Array<number>> => {
  const proc = spawn(process.execPath, [import.meta.filename, "--child", db], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = createInterface({ input: proc.stdout! })
  const arrivals = new Map<number, number>()
  let ready!: () => void
  const isReady = new Promise<void>((resolve) => (ready = resolve))
  lines.on("line", (line) => {
    if (line === "ready") return ready()
    const [i, t] = line.split(" ")
    arrivals.set(Number(i), Number(t))
  })
  await isReady
  const rt = await createRuntime({ db, maintenance: false })
  const published = new Map<number, number>()
  for (let i = 0; i < samples; i++) {
    await rt.publish("wake", { i })
    published.set(i, now())
    // Gaps at random between 5 and 25 ms, so publishes fall anywhere in the poll interval.
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20))
  }
  const deadline = Date.now() + 5000
  while (arrivals.size < samples && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  await rt.close()
  proc.stdin!.end()
  await new Promise((resolve) => proc.on("exit", resolve))
  return [...published].map(([i, t]) => (arrivals.get(i) ?? Number.NaN) - t)
}

if (process.argv[2] === "--child") await child(process.argv[3]!)
