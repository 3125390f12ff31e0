#!/usr/bin/env node
// The `sib` command. In a checkout it runs the TypeScript sources (Node strips the types); an
// installed package (under node_modules, where Node does not strip types) runs the compiled dist/.
import { existsSync, realpathSync } from "node:fs"
import module from "node:module"
import { fileURLToPath } from "node:url"

// Compiled code of the CLI's modules is cached on disk (Node >= 22.1): later starts skip most parsing.
module.enableCompileCache?.()

const root = new URL("../", import.meta.url)
const installed = realpathSync(fileURLToPath(import.meta.url)).split(/[\\/]/).includes("node_modules")
const sources = new URL("src/cli/main.ts", root)
const compiled = new URL("dist/cli/main.js", root)
const useSources = !installed && process.features.typescript && existsSync(sources)
if (!useSources && !existsSync(compiled)) {
  process.stderr.write("sib: dist/ is missing: run `npm run build` in the package (npm install does it)\n")
  process.exit(2)
}
await import((useSources ? sources : compiled).href)
