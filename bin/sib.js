#!/usr/bin/env node
// The `sib` command. It runs dist/cli/sib.js: the CLI and everything it imports bundled into one
// minified file by scripts/build-cli.js (`npm run build`, which `npm pack` and `npm publish` run
// through `prepack`), since loading effect/cli and the rest as ~450 separate modules took several
// times Node's own start-up (see docs/architecture.md, "The CLI").
// - An installed package runs the bundle it was packed with (scripts/ is not packed).
// - A checkout (scripts/build-cli.js present) first builds the bundle, in a child process, when it
//   is missing (a fresh clone after `npm install`) or a file under src/, the build script or the
//   installed dependencies is newer than it: an edit is never run stale, and the first start after
//   one takes a second or two longer. Stack traces name
//   the bundle's minified functions; `node --enable-source-maps bin/sib.js ...` maps them to src/.

// First, before anything that can fail on an older Node (on Node 20, better-sqlite3 crashes the
// process with a bare "Segmentation fault" when it opens a database): the Node version, as
// package.json's engines states it. Plain property reads only, so that any Node gets this far.
const [major, minor] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `sib: Node.js 22.12 or newer is required, this is ${process.version} (${process.execPath}); install Node 24 LTS (https://nodejs.org, or \`nvm install 24\`) and run sib with it\n`
  )
  process.exit(1)
}

// Built-ins through getBuiltinModule: `import` of node:fs would also load its `promises` (a dozen modules).
const { existsSync, readdirSync, statSync } = process.getBuiltinModule("node:fs")
const { join } = process.getBuiltinModule("node:path")
const { fileURLToPath } = process.getBuiltinModule("node:url")
const module = process.getBuiltinModule("node:module")

// Compiled code is cached on disk (Node >= 22.1): later starts skip parsing the bundle.
module.enableCompileCache?.()

const root = new URL("../", import.meta.url)
const bundle = new URL("dist/cli/sib.js", root)
const buildScript = new URL("scripts/build-cli.js", root)

const mtimeMs = (url) => (existsSync(url) ? statSync(url).mtimeMs : 0)

/** The latest modification among the bundle's inputs (about 100 stats: under a millisecond). */
const newestInput = () => {
  let newest = Math.max(mtimeMs(buildScript), mtimeMs(new URL("node_modules/.package-lock.json", root)))
  for (const entry of readdirSync(new URL("src/", root), { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

if (existsSync(buildScript)) {
  // The build dates the bundle from before it read the sources, so `>=` errs towards rebuilding.
  if (!existsSync(bundle) || newestInput() >= mtimeMs(bundle)) {
    // Loaded only here: child_process alone costs a tenth of Node's start-up.
    const { execFileSync } = process.getBuiltinModule("node:child_process")
    try {
      execFileSync(process.execPath, [fileURLToPath(buildScript)], { stdio: ["ignore", "ignore", "inherit"] })
    } catch {
      process.stderr.write("sib: building dist/cli/sib.js from src/ failed (see above); `npm install` installs the build tools\n")
      process.exit(1)
    }
  }
} else if (!existsSync(bundle)) {
  process.stderr.write("sib: dist/cli/sib.js is missing: run `npm run build` in the package (npm install does it)\n")
  process.exit(2)
}
// SQLite URI filenames (read by better-sqlite3 when it loads): a reading command opens a database in
// a read-only folder as `file:...?immutable=1` when SQLite cannot create its WAL index there.
process.env.SQLITE_USE_URI ??= "1"

await import(bundle.href)
