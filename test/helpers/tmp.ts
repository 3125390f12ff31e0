/** Temporary directories and database files for tests, removed when the test's scope closes. */
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** How the names of the directories `makeTmpDir` makes begin. */
export const tmpPrefix = "sibus-test-"

/** A new temporary directory; the caller removes it (or uses `tmpDir`). */
export const makeTmpDir = (): string => mkdtempSync(join(tmpdir(), tmpPrefix))

/** A fresh directory for the current scope. */
export const tmpDir = Effect.acquireRelease(
  Effect.sync(makeTmpDir),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A path for a new SQLite file in a fresh directory. */
export const tmpDb = Effect.map(tmpDir, (dir) => join(dir, "bus.db"))
