/**
 * How `sib` starts in a checkout: bin/sib.js runs the bundle dist/cli/sib.js, rebuilding it first
 * when it is older than a source, so the tests (and a developer editing src/) never run stale code.
 * (The start-up times are measured by `npm run bench -- --only startup`.)
 */
import { statSync, utimesSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { makeTmpDir } from "../helpers/tmp.ts"
import { sib } from "../helpers/sib.ts"

const bundle = join(import.meta.dirname, "..", "..", "dist", "cli", "sib.js")

describe("sib start-up in a checkout", () => {
  it("rebuilds a bundle older than the sources before running it", async () => {
    const dir = makeTmpDir()
    expect((await sib(["--version"], { cwd: dir })).code).toBe(0)
    const old = new Date("2001-01-01T00:00:00Z")
    utimesSync(bundle, old, old)
    const r = await sib(["--version"], { cwd: dir })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^sib v\d+\.\d+\.\d+/)
    expect(statSync(bundle).mtimeMs).toBeGreaterThan(old.getTime())
  })
})
