/**
 * An application's own Postgres role: with rights on sibus's tables (not to create schemas or
 * tables) it opens a schema another role migrated, publishes and reads; without them, it is told
 * permission is denied (not that the schema is not a sibus database).
 */
import { afterAll, describe, expect, it } from "vitest"
import pg from "pg"
import { createRuntime, StoreOpenError } from "../../src/index.ts"
import { sib } from "../helpers/sib.ts"
import { postgresFactory, postgresUrl } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

describe.skipIf(postgresUrl === undefined)("Postgres: an application role", () => {
  const factory = postgresFactory(postgresUrl ?? "postgres://unused")
  const role = `sib_test_role_${process.pid}_${Date.now() % 100_000}`
  const bare = `${role}_bare`
  const locations: Array<string> = []
  const admin = () => {
    const c = new pg.Client({ connectionString: postgresUrl })
    return c.connect().then(() => c)
  }
  afterAll(async () => {
    for (const l of locations) await factory.drop(l)
    const c = await admin()
    for (const r of [role, bare]) {
      await c.query(`drop owned by ${r}`).catch(() => undefined)
      await c.query(`drop role if exists ${r}`).catch(() => undefined)
    }
    await c.end()
  })

  const as = (location: string, user: string) => {
    const u = new URL(location)
    u.username = user
    u.password = ""
    return u.toString()
  }

  it("with rights on the tables only, opens a migrated schema; without them, is told permission is denied", async () => {
    const location = factory.shared()
    locations.push(location)
    const schema = new URL(location).searchParams.get("schema")!
    const owner = await createRuntime({ db: location })
    await owner.publish("t", { n: 1 })
    await owner.close()
    const c = await admin()
    await c.query(`create role ${role} login; create role ${bare} login`)
    await c.query(`grant usage on schema "${schema}" to ${role}, ${bare}`)
    await c.query(`grant select, insert, update, delete on all tables in schema "${schema}" to ${role}`)
    await c.query(`grant usage, select, update on all sequences in schema "${schema}" to ${role}`)
    await c.end()

    const app = await createRuntime({ db: as(location, role) })
    await app.publish("t", { n: 2 })
    expect((await app.read("t", 0, 10)).map((e) => e.payload)).toEqual([{ n: 1 }, { n: 2 }])
    await app.close()

    const refused = await createRuntime({ db: as(location, bare) }).then(() => undefined, (e: unknown) => e)
    expect(refused).toBeInstanceOf(StoreOpenError)
    expect(String((refused as Error).message)).toMatch(/permission denied/)
    expect(String((refused as Error).message)).not.toMatch(/not a sibus database/)
    // A reading command opens it read-only: the same reason.
    const topics = await sib(["topics", "--db", as(location, bare)], { cwd: makeTmpDir() })
    expect(topics.code).not.toBe(0)
    expect(topics.stderr).toMatch(/permission denied/)
    expect(topics.stderr).not.toMatch(/not a sibus database/)
  }, 30_000)
})
