/**
 * How `sib` shows the `--db` location it works on: a Postgres URL always with its user and with its
 * password (in the user part or a `password` parameter) as `***`, the same way on every path (the
 * start-up line of `sib run`, a database that cannot be opened, one that fails mid-command). The
 * real `sib` binary; the Postgres case runs on `SIB_TEST_POSTGRES_URL`'s server (skipped without it).
 */
import { afterEach, describe, expect, it } from "vitest"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { killStarted, sib, startSib } from "../helpers/sib.ts"
import { postgresFactory, postgresUrl } from "../helpers/stores.ts"
import { makeTmpDir } from "../helpers/tmp.ts"

afterEach(killStarted)

const secret = "s3cret"

describe("the database location sib shows", () => {
  it.each([
    // A location the store refuses before connecting (its URL checks): no server needed.
    ["postgres://root:s3cret@127.0.0.1:5432/db?schema=BAD", "postgres://root:***@127.0.0.1:5432/db?schema=BAD"],
    ["postgres://root:s3cret@127.0.0.1:5432/db?password=s3cret&schema=BAD", "postgres://root:***@127.0.0.1:5432/db?password=***&schema=BAD"],
    // A server that cannot be reached.
    ["postgres://root:s3cret@127.0.0.1:1/db", "postgres://root:***@127.0.0.1:1/db"]
  ])("%s cannot be opened: shown as %s by every command", async (db, shown) => {
    const dir = makeTmpDir()
    writeFileSync(join(dir, "r.sib"), "(define-topic \"t\")\n")
    for (const args of [["topics"], ["publish", "t", "1"], ["run", "r.sib", "--status", "off"], ["dlq", "drop", "x", "--group", "g"]]) {
      const r = await sib([...args, "--db", db], { cwd: dir })
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2)
      expect(r.stderr, args.join(" ")).toContain(`sib: cannot open database ${shown}: `)
      expect(r.stderr, args.join(" ")).not.toContain(secret)
    }
  }, 60_000)

  it("sib run's start-up line hides the password as the error lines do", async (ctx) => {
    ctx.skip(postgresUrl === undefined, "SIB_TEST_POSTGRES_URL is not set")
    const factory = postgresFactory(postgresUrl!)
    const location = factory.shared()
    try {
      // A password in the URL (a server trusting local connections ignores it).
      const withPassword = new URL(location)
      if (withPassword.password === "") withPassword.password = secret
      const password = decodeURIComponent(withPassword.password)
      const shown = new URL(withPassword.toString())
      shown.password = "***"
      const dir = makeTmpDir()
      writeFileSync(join(dir, "r.sib"), "(define-topic \"t\")\n")
      const run = startSib(["run", "r.sib", "--status", "off", "--db", withPassword.toString()], { cwd: dir })
      await run.waitFor(/sib: running r\.sib on /)
      run.interrupt("SIGTERM")
      expect(await run.exited).toBe(0)
      expect(run.stderr()).toContain(`sib: running r.sib on ${shown.toString()}: 1 topic(s)`)
      expect(run.stderr()).not.toContain(password)
    } finally {
      await factory.drop(location)
    }
  }, 30_000)
})
