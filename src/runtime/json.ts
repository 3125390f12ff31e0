/**
 * JSON safety for payloads and headers: a value is stored only if `JSON.parse(JSON.stringify(v))`
 * gives back the same value. `JSON.stringify` silently drops `undefined`, functions and symbols,
 * turns NaN and Infinity into null, loses Maps and class instances, and throws on BigInt and
 * cycles; `jsonProblem` finds the first such value and names its path so a person can fix it.
 */

/** Deeper than this is refused (it would overflow the stack of JSON.stringify/parse elsewhere). */
const maxJsonDepth = 512

const stepOf = (p: string | number): string =>
  typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`

/** A path as code writes it; a deep one keeps its first and last steps (the message stays short). */
const pathOf = (path: ReadonlyArray<string | number>): string =>
  path.length <= 16
    ? path.map(stepOf).join("")
    : `${path.slice(0, 6).map(stepOf).join("")}…(${path.length - 12} more levels)…${path.slice(-6).map(stepOf).join("")}`

const describeValue = (v: unknown): string => {
  switch (typeof v) {
    case "undefined":
      return "undefined, which JSON cannot hold (use null, or leave the key out)"
    case "function":
      return "a function, which JSON cannot hold"
    case "symbol":
      return "a symbol, which JSON cannot hold"
    case "bigint":
      return "a BigInt, which JSON cannot hold (send it as a string)"
    case "number":
      return `${String(v)}, which JSON cannot hold (send null or a string)`
    default:
      return String(v)
  }
}

/**
 * True when `value` survives a JSON round trip. The fast check: no path bookkeeping, and cycles
 * are caught by the depth bound (the detailed walk below then names them).
 */
const isJsonSafe = (v: unknown, depth: number): boolean => {
  switch (typeof v) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(v)
    case "object": {
      if (v === null) return true
      if (depth >= maxJsonDepth) return false
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!(i in v) || !isJsonSafe(v[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) return false
      for (const k in v) {
        if (Object.prototype.hasOwnProperty.call(v, k) && !isJsonSafe((v as Record<string, unknown>)[k], depth + 1)) return false
      }
      return Object.getOwnPropertySymbols(v).length === 0
    }
    default:
      return false
  }
}

/**
 * Returns a description of the first value that would not survive a JSON round trip, or
 * `undefined` when `value` is JSON-safe. `root` names the value in the message ("payload").
 */
export const jsonProblem = (value: unknown, root: string): string | undefined =>
  isJsonSafe(value, 0) ? undefined : describeProblem(value, root)

const describeProblem = (value: unknown, root: string): string | undefined => {
  const seen = new Set<object>()
  const path: Array<string | number> = []
  const visit = (v: unknown, depth: number): string | undefined => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return undefined
      case "number":
        return Number.isFinite(v) ? undefined : `${root}${pathOf(path)} is ${describeValue(v)}`
      case "object": {
        if (v === null) return undefined
        if (depth >= maxJsonDepth) return `${root}${pathOf(path)} nests deeper than ${maxJsonDepth} levels`
        if (seen.has(v)) return `${root}${pathOf(path)} refers back to itself (a cycle), which JSON cannot hold`
        seen.add(v)
        let problem: string | undefined
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length && problem === undefined; i++) {
            path.push(i)
            problem = i in v ? visit(v[i], depth + 1) : `${root}${pathOf(path)} is a hole in a sparse array`
            path.pop()
          }
        } else {
          const proto = Object.getPrototypeOf(v)
          if (proto !== Object.prototype && proto !== null) {
            const name = (v as { constructor?: { name?: string } }).constructor?.name ?? "object"
            seen.delete(v)
            return `${root}${pathOf(path)} is a ${name}, not a plain object or array; convert it to JSON data first` +
              (v instanceof Date ? " (for example an ISO string or epoch milliseconds)" : "")
          }
          if (Object.getOwnPropertySymbols(v).length > 0) {
            problem = `${root}${pathOf(path)} has symbol keys, which JSON cannot hold`
          }
          for (const k in v) {
            if (problem !== undefined) break
            if (!Object.prototype.hasOwnProperty.call(v, k)) continue
            path.push(k)
            problem = visit((v as Record<string, unknown>)[k], depth + 1)
            path.pop()
          }
        }
        seen.delete(v)
        return problem
      }
      default:
        return `${root}${pathOf(path)} is ${describeValue(v)}`
    }
  }
  return visit(value, 0)
}

/** UTF-8 byte length of a string. A string of n UTF-16 units is at most 3n bytes. */
export const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8")
