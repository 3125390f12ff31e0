/**
 * Bundles the `sib` command into one ES module, dist/cli/sib.js: src/cli/main.ts and everything it
 * imports (effect included), tree-shaken and minified, with better-sqlite3 left external. Loading
 * the ~450 separate modules took several times Node's own start-up; one file with the compile cache
 * loads in a fraction of that. `npm run build` (and so `npm pack` and `npm publish`, through
 * `prepack`) runs it after tsc; bin/sib.js runs it in a checkout when the bundle is missing or a
 * source is newer than it. (Not `prepare`: npm warns about every dependency's `prepare` when an
 * application installs the package, although a packed package has nothing left to build.) Plain JavaScript, so that it runs on every Node the package supports.
 *
 * Beyond bundling, the bundle loads what most commands never use only when it is first used
 * (better-sqlite3, three Node built-ins, effect/cli's text segmenter), and takes Node built-ins
 * from `process.getBuiltinModule` rather than `import`: see each plugin below.
 */
import { mkdirSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { rolldown } from "rolldown"

const root = new URL("../", import.meta.url)
/** The bundle. It must stay two directories below the package root: main.ts reads `../../package.json` from its own URL. */
export const bundleUrl = new URL("dist/cli/sib.js", root)

/** Built-ins that effect's Node services import but only a few commands call (child processes, temp names, prompts). */
const lazyBuiltins = ["node:child_process", "node:crypto", "node:readline"]

const identifier = /^[A-Za-z_$][\w$]*$/

/** Each function a lazy built-in exports, as a wrapper that loads the built-in when called (or constructed). */
const lazyBuiltin = (name) =>
  [
    `const load = () => process.getBuiltinModule(${JSON.stringify(name)})`,
    ...Object.entries(process.getBuiltinModule(name))
      .filter(([key, value]) => typeof value === "function" && identifier.test(key))
      .map(([key]) => `export function ${key}(...args) { return new.target ? new (load().${key})(...args) : load().${key}.apply(this, args) }`)
  ].join("\n")

/**
 * Any other built-in, read from `process.getBuiltinModule`, one export at a time. `import` of a
 * built-in evaluates every export (for `node:fs`, its lazy `promises`, which loads a dozen more
 * internal modules); here the exports the bundle does not use are tree-shaken away unread.
 */
const builtin = (name) =>
  [
    `const m = process.getBuiltinModule(${JSON.stringify(name)})`,
    "export default m",
    ...Object.keys(process.getBuiltinModule(name))
      .filter((key) => identifier.test(key) && key !== "default")
      .map((key) => `export const ${key} = /* @__PURE__ */ (() => m.${key})()`)
  ].join("\n")

/** better-sqlite3's default export (the Database class), required on the first `new`: `sib --help` never opens a database. */
const lazySqlite = [
  `import { createRequire } from "node:module"`,
  `export default function Database(...args) { return new (createRequire(import.meta.url)("better-sqlite3"))(...args) }`
].join("\n")

const builtinsAndSqlite = {
  name: "sib-builtins-and-sqlite",
  resolveId(id) {
    if (id === "better-sqlite3" || id.startsWith("node:")) return `\0sib:${id}`
    return null
  },
  load(id) {
    if (!id.startsWith("\0sib:")) return null
    const name = id.slice("\0sib:".length)
    return name === "better-sqlite3" ? lazySqlite : lazyBuiltins.includes(name) ? lazyBuiltin(name) : builtin(name)
  }
}

/**
 * effect/cli builds an `Intl.Segmenter` when its module loads, to measure text in help and tables,
 * and the first one costs about 10 ms (ICU's break rules): a third of Node's whole start-up. The
 * segmenter is built on first use instead, and text that is printable ASCII once ANSI styles are
 * stripped (all of sib's help) is measured by its length, which is what the segmenter would give
 * for it (one cell per character). If effect's code changes shape, the patch is skipped with a
 * warning: the bundle is then as correct as effect itself, only slower to start.
 */
const fastCliOutput = {
  name: "sib-fast-cli-output",
  transform(code, id) {
    if (!/[\\/]effect[\\/]dist[\\/]cli[\\/]CliOutput\.js$/.test(id)) return null
    const eager = /const graphemeSegmenter = (\/\*#__PURE__\*\/ ?)?(new Intl\.Segmenter\([^;]*\));/
    const measure = "export const displayWidth = text => {"
    if (!eager.test(code) || !code.includes("graphemeSegmenter.segment(stripAnsi(text))") || !code.includes(measure)) {
      this.warn("effect/cli's CliOutput changed: text measurement left as effect wrote it")
      return null
    }
    // Each replacement stays on its line, so the source map needs no change (map: null).
    const patched = code
      .replace(eager, "let graphemeSegmenterCache; const graphemeSegmenter = () => (graphemeSegmenterCache ??= $2);")
      .replaceAll("graphemeSegmenter.segment(", "graphemeSegmenter().segment(")
      .replace(measure, `${measure} const plain = stripAnsi(text); if (/^[\\x20-\\x7e]*$/.test(plain)) return plain.length;`)
    return { code: patched, map: null }
  }
}

/**
 * Builds the bundle and its source map, and replaces the old bundle atomically, so that concurrent
 * `sib` processes in a checkout never read half a file. The bundle's mtime is set a second before
 * the build started reading sources: an edit made during the build (or within the coarse clock's
 * lag) leaves the bundle older than the edit, and the next start in a checkout rebuilds.
 */
export const buildCli = async () => {
  const started = Date.now()
  const bundle = await rolldown({
    input: fileURLToPath(new URL("src/cli/main.ts", root)),
    platform: "node",
    plugins: [builtinsAndSqlite, fastCliOutput],
    // An import that resolves to nothing (a missing export) fails the build rather than the command.
    onLog(level, log, handler) {
      if (level === "warn" && (log.code === "MISSING_EXPORT" || log.code === "IMPORT_IS_UNDEFINED")) handler("error", log)
      else handler(level, log)
    },
    logLevel: "warn"
  })
  try {
    const file = fileURLToPath(bundleUrl)
    const { output } = await bundle.generate({
      dir: dirname(file), entryFileNames: "sib.js", format: "esm", minify: true, sourcemap: true, codeSplitting: false
    })
    mkdirSync(dirname(file), { recursive: true })
    const chunk = output.find((item) => item.type === "chunk")
    const map = output.find((item) => item.type === "asset" && item.fileName === "sib.js.map")
    const mtime = (started - 1000) / 1000
    const tmp = `.${process.pid}.tmp`
    try {
      writeFileSync(`${file}.map${tmp}`, map.source)
      renameSync(`${file}.map${tmp}`, `${file}.map`)
      writeFileSync(`${file}${tmp}`, chunk.code)
      utimesSync(`${file}${tmp}`, mtime, mtime)
      renameSync(`${file}${tmp}`, file)
    } finally {
      rmSync(`${file}.map${tmp}`, { force: true })
      rmSync(`${file}${tmp}`, { force: true })
    }
  } finally {
    await bundle.close()
  }
}

/** Where `npm run page` writes the ops page's script: a module the server imports (committed, like the grammar). */
export const pageScriptUrl = new URL("src/observability/web/pageScript.ts", root)

/**
 * The ops page's browser code (src/observability/web/browser/main.ts and the modules it imports)
 * bundled into one script, as the text of `pageScript.ts`: the script as an array of lines (so a
 * change reads as a diff), served by the page's server as `/app.js`. Not minified: operators and
 * reviewers can read what their browser runs. A module rather than a file read at run time, so the
 * same text reaches the CLI's bundle, the compiled library and the sources the tests import.
 */
export const buildPageScript = async () => {
  const bundle = await rolldown({
    input: fileURLToPath(new URL("src/observability/web/browser/main.ts", root)),
    cwd: fileURLToPath(root),
    platform: "browser",
    onLog(level, log, handler) {
      if (level === "warn" && (log.code === "MISSING_EXPORT" || log.code === "IMPORT_IS_UNDEFINED")) handler("error", log)
      else handler(level, log)
    },
    logLevel: "warn"
  })
  try {
    const { output } = await bundle.generate({ format: "iife", minify: false, codeSplitting: false })
    const lines = output[0].code.replace(/\s+$/, "").split("\n")
    return [
      "/**",
      " * The ops page's script, served as `/app.js`: src/observability/web/browser/*.ts bundled by",
      " * `npm run page` (scripts/build-cli.js, `buildPageScript`). Generated: do not edit; a test checks",
      " * that it is what the build makes of the sources now.",
      " */",
      "export const pageScript: string = [",
      ...lines.map((line) => `  ${JSON.stringify(line)},`),
      "].join(\"\\n\")",
      ""
    ].join("\n")
  } finally {
    await bundle.close()
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv[2] === "--page") writeFileSync(process.argv[3] ?? fileURLToPath(pageScriptUrl), await buildPageScript())
  else await buildCli()
}
