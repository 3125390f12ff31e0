/**
 * The Node.js versions the SQLite dialect runs on. better-sqlite3 13 needs Node 22.12 or newer; on
 * an older Node it loads, but opening a database crashes the process with a bare "Segmentation
 * fault". The store asks here before it opens one, so an embedding application gets a message
 * (the `sib` binary checks the same in bin/sib.js, before loading anything).
 */

/** The oldest Node.js the store runs on (package.json's `engines`). */
export const minimumNode = { major: 22, minor: 12 } as const

/** Why this Node.js cannot open a SQLite database, or undefined when it can. */
export const unsupportedNode = (version: string = process.versions.node, execPath: string = process.execPath): string | undefined => {
  const [major = 0, minor = 0] = version.split(".").map(Number)
  if (major > minimumNode.major || (major === minimumNode.major && minor >= minimumNode.minor)) return undefined
  return `sibus needs Node.js ${minimumNode.major}.${minimumNode.minor} or newer (its SQLite driver, better-sqlite3, crashes on older ones), this is v${version} (${execPath}); install Node 24 LTS (https://nodejs.org, or \`nvm install 24\`) and run with it`
}
