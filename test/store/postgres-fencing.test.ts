/**
 * A handler's commit that is under way when its session ends (its lease taken over) is decided by
 * the commit itself, atomically: the ack, the handler's rows and its follow-ups all, or none. The
 * session's rollback used to reach the same connection between the commit's statements: the rest
 * of the commit ran outside any transaction, so a follow-up was stored without its ack or the
 * handler's rows (and again by the next owner). Deterministic: the test holds the schema's writers'
 * lock while the handler's commit waits for it, moves the lease to another owner, then lets go.
 */
import { afterAll, describe, expect, it } from "vitest"
import pg from "pg"
import { createRuntime } from "../../src/index.ts"
import { postgresFactory, postgresUrl } from "../helpers/stores.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(postgresUrl === undefined)("Postgres: a commit under way when the lease is taken over", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")
  const locations: Array<string> = []
  afterAll(async () => {
    for (const l of locations) await factory.drop(l)
  })

  it("is all or nothing: no follow-up without its ack and the handler's rows", async () => {
    const location = factory.shared()
    locations.push(location)
    const schema = new URL(location).searchParams.get("schema")!
    const admin = new pg.Client({ connectionString: postgresUrl })
    await admin.connect()
    const rt = await createRuntime({ db: location, logger: () => {} })
    try {
      await admin.query(`create table "${schema}".fx (src text)`)
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      let reachedGate = false
      await rt.subscribe("d", "gd", async (e, ctx) => {
        const trx = await ctx.transaction()
        await trx.insertInto("fx").values({ src: e.id }).execute()
        await ctx.publish("d.out", { src: e.id })
        reachedGate = true
        await gate
      }, { from: "earliest", leaseMs: 3000, maxAttempts: 5 })
      await rt.publish("d", { n: 1 })
      for (let i = 0; i < 200 && !reachedGate; i++) await sleep(25)
      expect(reachedGate).toBe(true)

      // Hold the writers' lock: the handler's commit waits for it once the handler returns.
      const holder = new pg.Client({ connectionString: postgresUrl })
      await holder.connect()
      await holder.query("begin")
      await holder.query(`select pg_advisory_xact_lock(hashtext('sibus:' || $1))`, [schema])
      release()
      await sleep(500)
      // Another owner takes the group's lease meanwhile.
      const moved = await admin.query(`update "${schema}".consumer_groups set owner_sid = 'another-owner', owner_pid = 1 where grp = 'gd'`)
      expect(moved.rowCount).toBe(1)
      await sleep(3500)
      await holder.query("commit")
      await holder.end()
      await sleep(3000)

      const outs = (await admin.query(`select caused_by from "${schema}".events where topic = 'd.out'`)).rows
      const rows = (await admin.query(`select src from "${schema}".fx`)).rows
      const cursor = (await admin.query(`select floor from "${schema}".cursors where grp = 'gd' and topic = 'd'`)).rows[0] as { floor: number | string } | undefined
      const acked = cursor !== undefined && Number(cursor.floor) >= 1
      // All or nothing: acked with one follow-up and one row, or neither written.
      expect({ outs: outs.length, rows: rows.length }).toEqual(acked ? { outs: 1, rows: 1 } : { outs: 0, rows: 0 })
    } finally {
      await rt.close()
      await admin.end()
    }
  }, 30_000)
})
