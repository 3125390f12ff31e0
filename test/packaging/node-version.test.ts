/**
 * `sib` (bin/sib.js, which `npm start` runs too) on a Node older than package.json's engines says
 * which Node to install and exits 1, before it loads anything that could crash (better-sqlite3 is
 * a bare "Segmentation fault" on Node 20) or rebuilds the bundle. Run with an older Node found on
 * the PATH or at /usr/bin/node; skipped, saying why, when the machine has none.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { makeTmpDir } from "../helpers/tmp.ts"
import { olderNode } from "./olderNode.ts"

const root = join(import.meta.dirname, "..", "..")
const engines = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string } }).engines.node

const old = olderNode()
if (old === undefined) console.warn("test/packaging/node-version.test.ts: skipped: no Node older than 22.12 on this machine (PATH, /usr/bin/node)")

describe("sib on a Node older than engines allows", () => {
  const dir = makeTmpDir()
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("engines still says >= 22.12 (the check in bin/sib.js says the same)", () => {
    expect(engines).toBe(">=22.12")
  })

  for (const args of [["topics"], ["run", join(root, "dsl-examples", "main.sib")], ["--version"]]) {
    it(`sib ${args[0]} says which Node to install and exits 1`, (ctx) => {
      ctx.skip(old === undefined, "no Node older than 22.12 on this machine")
      const result = spawnSync(old!.path, [join(root, "bin", "sib.js"), ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, SIB_DB: join(dir, "sib.db") }, timeout: 20_000 })
      expect(result.signal, result.stderr).toBe(null)
      expect(result.status, result.stderr).toBe(1)
      expect(result.stdout).toBe("")
      // One line: what is required, what ran (version and binary), what to install.
      expect(result.stderr).toMatch(/^sib: Node\.js 22\.12 or newer is required, this is v\d+\.\d+\.\d+ \([^\n]*node[^\n]*\); install Node 24 LTS \(https:\/\/nodejs\.org, or `nvm install 24`\) and run sib with it\n$/)
      expect(result.stderr).toContain(old!.version)
      expect(existsSync(join(dir, "sib.db")), "a database was created").toBe(false)
    })
  }
})
