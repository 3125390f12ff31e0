/**
 * pg-boss on the same server, the Postgres queue the Postgres section measures sibus against
 * (issue 12): `send` from concurrent awaiting senders, batch `insert`, `work` draining a backlog with
 * a no-op handler, and send-to-handler latency across two processes. Each measurement installs
 * pg-boss in a schema of its own (its `schema` option) and drops it after. Its background work
 * (supervision, scheduling, the instance registry, OpenTelemetry) is off, as sibus's maintenance is.
 */
import { PgBoss, type ConstructorOptions, type WorkOptions } from "pg-boss"
import pg from "pg"
import { payload } from "./common.ts"
import { arrived, crossProcessLatency, ready, stopWithParent } from "./crossProcess.ts"

/**
 * How the `work` row drains a backlog, tuned for throughput: batches of 1,000, fetched again at
 * once while they come back full (otherwise the poll, at its 0.5 s minimum, caps the drain at about
 * 2k jobs/s), by two workers (1, 3 and 4, and batches of 500 or 2,000, were no faster here).
 */
export const drainOptions: WorkOptions = {
  batchSize: 1000,
  pollingIntervalSeconds: 0.5,
  burstWhenBatchFull: true,
  localConcurrency: 2
}

/** How the latency child works: polled as often as pg-boss allows, woken by NOTIFY when asked. */
const latencyOptions: WorkOptions = { batchSize: 100, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 }

let schemas = 0

const options = (url: string, schema: string): ConstructorOptions => ({
  connectionString: url,
  schema,
  supervise: false,
  schedule: false,
  registerInstance: false,
  openTelemetry: { enabled: false }
})

const open = async (config: ConstructorOptions) => {
  const boss = new PgBoss(config)
  boss.on("error", (e) => console.error(`pg-boss: ${e.message}`))
  await boss.start()
  return boss
}

/** Runs `f` on a started pg-boss in a new schema, then stops it and drops the schema. */
const withBoss = async <A>(url: string, f: (boss: PgBoss, schema: string) => Promise<A>): Promise<A> => {
  const schema = `pgboss_bench_${process.pid}_${++schemas}`
  const boss = await open(options(url, schema))
  try {
    return await f(boss, schema)
  } finally {
    await boss.stop({ graceful: false })
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    await client.query(`drop schema if exists "${schema}" cascade`)
    await client.end()
  }
}

/** Inserts `n` jobs in `insert` calls of `batch`; jobs/s. */
const insertJobs = async (boss: PgBoss, n: number, batch: number) => {
  const t0 = performance.now()
  for (let i = 0; i < n; i += batch) {
    const jobs = []
    for (let j = i; j < Math.min(n, i + batch); j++) jobs.push({ data: payload(j) })
    await boss.insert("bench", jobs)
  }
  return n / ((performance.now() - t0) / 1000)
}

/** `senders` concurrent senders, each awaiting its `send`, for about `seconds`; jobs/s. */
export const bossSend = (url: string, seconds: number, senders: number) =>
  withBoss(url, async (boss) => {
    await boss.createQueue("bench")
    let sent = 0
    const t0 = performance.now()
    const end = t0 + seconds * 1000
    await Promise.all(Array.from({ length: senders }, async (_, p) => {
      for (let i = p; performance.now() < end; i += senders) {
        await boss.send("bench", payload(i))
        sent++
      }
    }))
    // Every send started before the end is counted, and the time it took to return.
    return sent / ((performance.now() - t0) / 1000)
  })

/** `insert` of `n` jobs in batches of `batch`; jobs/s. */
export const bossInsert = (url: string, n: number, batch: number) =>
  withBoss(url, async (boss) => {
    await boss.createQueue("bench")
    return insertJobs(boss, n, batch)
  })

/** A backlog of `n` jobs inserted first, then drained by `work` with a no-op handler; jobs/s. */
export const bossWork = (url: string, n: number, work: WorkOptions = drainOptions) =>
  withBoss(url, async (boss) => {
    await boss.createQueue("bench")
    await insertJobs(boss, n, 1000)
    let handled = 0
    let done!: () => void
    const finished = new Promise<void>((resolve) => (done = resolve))
    const t0 = performance.now()
    await boss.work("bench", work, async (jobs) => {
      handled += jobs.length
      if (handled >= n) done()
    })
    await finished
    const rate = n / ((performance.now() - t0) / 1000)
    await boss.offWork("bench", { wait: true })
    return rate
  })

/**
 * Send-to-handler latencies (ms) of `samples` sends, the worker in a child process: with `notify`,
 * pg-boss's LISTEN/NOTIFY (`useListenNotify` and a `notify` queue); without, its poll alone.
 */
export const bossLatency = (url: string, samples: number, notify: boolean) =>
  withBoss(url, async (boss, schema) => {
    await boss.createQueue("wake", { notify })
    return crossProcessLatency(
      [import.meta.filename, "--child", url, schema, String(notify)],
      (i) => boss.send("wake", { i }),
      samples
    )
  })

/** Run as the child: `node bench/pgboss.ts --child <url> <schema> <notify>`. */
const child = async (url: string, schema: string, notify: boolean) => {
  const boss = await open({ ...options(url, schema), useListenNotify: notify })
  stopWithParent(() => boss.stop({ graceful: false }))
  await boss.work<{ i: number }>("wake", latencyOptions, async (jobs) => {
    for (const job of jobs) arrived(job.data.i)
  })
  // The worker's first fetch and the LISTEN connection are under way: give them time to settle.
  await new Promise((resolve) => setTimeout(resolve, 500))
  ready()
}

if (process.argv[2] === "--child") await child(process.argv[3]!, process.argv[4]!, process.argv[5] === "true")
