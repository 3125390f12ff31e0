/**
 * A live subscription's log lines reach the runtime's `logger` like every other runtime line: a
 * read that failed (its connection terminated) and is tried again is a warning there, not a line
 * in Effect's default format on stdout.
 */
import { afterAll, describe, expect, it } from "vitest"
import pg from "pg"
import { createRuntime } from "../../src/index.ts"
import { postgresFactory, postgresUrl } from "../helpers/stores.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(postgresUrl === undefined)("Postgres: live() logs through the runtime's logger", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")
  const locations: Array<string> = []
  afterAll(async () => {
    for (const l of locations) await factory.drop(l)
  })

  it("a live read whose connection was terminated is retried, with a warning to the logger", async () => {
    const location = factory.shared()
    locations.push(location)
    const schema = new URL(location).searchParams.get("schema")!
    const lines: Array<string> = []
    const rt = await createRuntime({ db: location, logger: ({ level, message }) => lines.push(`${level}: ${message}`) })
    const admin = new pg.Client({ connectionString: postgresUrl })
    await admin.connect()
    const written = process.stdout.write.bind(process.stdout)
    const stdout: Array<string> = []
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: Array<unknown>) => {
      stdout.push(String(chunk))
      return (written as (...a: Array<unknown>) => boolean)(chunk, ...rest)
    }) as typeof process.stdout.write
    try {
      const seen: Array<number> = []
      let started!: () => void
      const start = new Promise<void>((resolve) => (started = resolve))
      const iterating = (async () => {
        for await (const e of rt.live("t", { onStart: () => started() })) {
          seen.push((e.payload as { i: number }).i)
          if (seen.length === 30) return
        }
      })()
      await start
      // A read certainly in flight when its connection goes: the table is locked, so the live
      // subscription's next look (its backstop runs every second) waits on the lock; the waiting
      // connections are terminated, then the lock is let go.
      await admin.query("begin")
      await admin.query(`lock table "${schema}".events in access exclusive mode`)
      let blocked = 0
      for (let waited = 0; blocked === 0 && waited < 5000; waited += 20) {
        await sleep(20)
        const r = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))`)
        blocked = r.rowCount ?? 0
      }
      await admin.query("rollback")
      expect(blocked, "a live read waited on the locked table").toBeGreaterThan(0)
      // Then terminations in the middle of a publish stream: the listener's and the pool's.
      for (let i = 0; i < 30; i++) {
        await rt.publish("t", { i })
        if (i % 5 === 2) {
          // Every connection of this schema's pool and listener, but this one.
          await admin.query(
            `select pg_terminate_backend(pid) from pg_stat_activity where pid <> pg_backend_pid() and datname = current_database() and application_name = '' and query ilike $1`,
            [`%${schema}%`]
          )
        }
        await sleep(30)
      }
      await Promise.race([iterating, sleep(15_000)])
      expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i))
      expect(stdout.filter((l) => /live subscription/.test(l)), "nothing of the runtime's on stdout").toEqual([])
    } finally {
      process.stdout.write = written
      await rt.close().catch(() => undefined)
      await admin.end()
    }
    // The terminations made live reads fail: their warnings went to the logger.
    const warnings = lines.filter((l) => /live subscription/.test(l))
    expect(warnings.length, `log lines: ${JSON.stringify(lines)}`).toBeGreaterThan(0)
    for (const l of warnings) expect(l).toMatch(/^warn: live subscription to t: .*trying again/)
  }, 30_000)
})
