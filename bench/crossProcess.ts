/**
 * Cross-process latency, shared by the live fan-out and pg-boss rows (bench/wakeup.ts measures
 * sibus groups the same way): a child process prints `ready`, then `<i> <wall-clock ms>` for each
 * event it sees; this process publishes one event at a time at random gaps of 5-25 ms and records
 * when each publish returned. Latency = arrival - publish return, in ms (both clocks are the
 * machine's); an event the child never saw is NaN.
 */
import { spawn } from "node:child_process"
import { createInterface } from "node:readline"

export const now = () => performance.timeOrigin + performance.now()

/** In the child: tells the parent that whatever is published from now on will be seen. */
export const ready = () => void process.stdout.write("ready\n")

/** In the child: reports the arrival of event `i`. */
export const arrived = (i: number) => void process.stdout.write(`${i} ${now()}\n`)

/** In the child: runs `stop`, then exits, once the parent closes stdin. */
export const stopWithParent = (stop: () => Promise<unknown>) => {
  process.stdin.on("end", () => void stop().finally(() => process.exit(0)))
  process.stdin.resume()
}

/**
 * Latencies (ms) of `samples` publishes made with `publish(i)` in this process and seen by the
 * child `node <args...>`; waits up to `graceMs` after the last publish for late arrivals.
 */
export const crossProcessLatency = async (
  args: ReadonlyArray<string>,
  publish: (i: number) => Promise<unknown>,
  samples: number,
  graceMs = 5000
): Promise<Array<number>> => {
  const proc = spawn(process.execPath, args, { stdio: ["pipe", "pipe", "inherit"] })
  const exited = new Promise((resolve) => proc.on("exit", resolve))
  const lines = createInterface({ input: proc.stdout! })
  const arrivals = new Map<number, number>()
  const isReady = new Promise<void>((resolve, reject) => {
    lines.on("line", (line) => {
      if (line === "ready") return resolve()
      const [i, t] = line.split(" ")
      arrivals.set(Number(i), Number(t))
    })
    void exited.then((code) => reject(new Error(`the latency child (${args.join(" ")}) exited with ${code} before it was ready`)))
  })
  await isReady
  const published = new Map<number, number>()
  for (let i = 0; i < samples; i++) {
    await publish(i)
    published.set(i, now())
    // Gaps at random between 5 and 25 ms, so publishes fall anywhere in a poll interval.
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20))
  }
  const deadline = Date.now() + graceMs
  while (arrivals.size < samples && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
  proc.stdin!.end()
  await exited
  return [...published].map(([i, t]) => (arrivals.get(i) ?? Number.NaN) - t)
}
