/** A Node.js older than package.json's engines allow (22.12), for the tests of what such a Node gets. */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { delimiter, join } from "node:path"

/** A node binary older than 22.12 on the PATH or at /usr/bin/node (or /usr/local/bin/node), with its version. */
export const olderNode = (): { readonly path: string; readonly version: string } | undefined => {
  const candidates = [...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "node")), "/usr/bin/node", "/usr/local/bin/node"]
  for (const path of new Set(candidates)) {
    if (!existsSync(path)) continue
    const version = spawnSync(path, ["--version"], { encoding: "utf8" }).stdout?.trim() ?? ""
    const [major, minor] = version.slice(1).split(".").map(Number)
    if (major !== undefined && minor !== undefined && (major < 22 || (major === 22 && minor < 12))) return { path, version }
  }
  return undefined
}
