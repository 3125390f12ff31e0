/**
 * Processes that open a new database at the same moment: each sets up WAL and runs the
 * migrations, and all of them must succeed (the store migrates under the write lock and retries an
 * open that met a lock the busy timeout does not cover). Real processes released at the same
 * wall-clock instant.
 */
import { execFile } from "node:child_process"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import SqliteDatabase from "better-sqlite3"
import { makeTmpDir } from "../helpers/tmp.ts"

const fixture = join(import.meta.dirname, "..", "fixtures", "open-store.ts")
const run = (args: ReadonlyArray<string>) =>
  new Promise<string>((resolve) => execFile(process.execPath, [fixture, ...args], (_e, out, err) => resolve(`${out}${err}`.trim())))

describe("opening a new database from several processes at once", () => {
  it("every process opens the store and publishes; each event is stored once", async () => {
    const dir = makeTmpDir()
    for (let round = 0; round < 3; round++) {
      const bus = join(dir, `bus-${round}.db`)
      const at = String(Date.now() + 1500)
      const outs = await Promise.all([1, 2, 3, 4].map(() => run([bus, at])))
      expect(outs).toEqual(["ok", "ok", "ok", "ok"])
      const db = new SqliteDatabase(bus, { readonly: true })
      expect((db.prepare("select count(*) as n from events").get() as { n: number }).n).toBe(4)
      db.close()
    }
  }, 60_000)
})
