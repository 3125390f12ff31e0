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
 * Characters the JSON text may still take in the walk under way: each value is charged the least
 * text it becomes, so a value shared many times (a small DAG that JSON writes out in full, up to
 * 2^depth times) is found too large after as much work as the limit allows, not after writing it.
 */
let room = 0

/**
 * True when `value` survives a JSON round trip and its text may fit in `room`. The fast check: no
 * path bookkeeping, and cycles are caught by the depth bound (the detailed walk below then names
 * them). False with `room < 0` means too large.
 */
const isJsonSafe = (v: unknown, depth: number): boolean => {
  switch (typeof v) {
    case "string":
      return (room -= v.length + 2) >= 0
    case "boolean":
      return --room >= 0
    case "number":
      return --room >= 0 && Number.isFinite(v)
    case "object": {
      if (v === null) return --room >= 0
      if (depth >= maxJsonDepth || (room -= 2) < 0) return false
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!(i in v) || !isJsonSafe(v[i], depth + 1)) return false
        return true
      }
      const proto = Object.getPrototypeOf(v)
      if (proto !== Object.prototype && proto !== null) return false
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue
        if ((room -= k.length + 3) < 0 || !isJsonSafe((v as Record<string, unknown>)[k], depth + 1)) return false
      }
      return Object.getOwnPropertySymbols(v).length === 0
    }
    default:
      return false
  }
}

/** Why a value cannot be stored as JSON: a value JSON cannot hold, or text over the limit. */
export interface JsonProblem {
  readonly reason: "payload" | "size"
  readonly detail: string
}

/**
 * How many times its size limit a value's text may be for the walk to go on: the caller measures
 * text up to that (and says exactly how large it is); beyond, the walk stops, its work bounded.
 */
const walkSlack = 2

/**
 * Returns why `value` would not survive a JSON round trip (the first such value, by its path), or
 * that its text would be far over `maxBytes` (found before writing it), or `undefined` when it is
 * JSON-safe (its text may still be over `maxBytes` by less than `walkSlack` times: the caller
 * measures it). `root` names the value in the message ("payload").
 */
export const jsonProblem = (value: unknown, root: string, maxBytes = Number.MAX_SAFE_INTEGER / walkSlack): JsonProblem | undefined => {
  room = maxBytes * walkSlack
  if (isJsonSafe(value, 0)) return undefined
  // The detailed walk, charged the same way: the first problem on its way, or the size.
  room = maxBytes * walkSlack
  const problem = describeProblem(value, root)
  if (problem === tooLarge) {
    return {
      reason: "size",
      detail: `the ${root} is over the limit of ${maxBytes} bytes as JSON: more than ${walkSlack} times it (found before writing it; a value it holds several times counts each time)`
    }
  }
  return problem === undefined ? undefined : { reason: "payload", detail: problem }
}

/** What the detailed walk answers when it ran out of `room` before finding another problem. */
const tooLarge = "\u0000too large"

const describeProblem = (value: unknown, root: string): string | undefined => {
  const seen = new Set<object>()
  const path: Array<string | number> = []
  const visit = (v: unknown, depth: number): string | undefined => {
    switch (typeof v) {
      case "string":
        return (room -= v.length + 2) < 0 ? tooLarge : undefined
      case "boolean":
        return --room < 0 ? tooLarge : undefined
      case "number":
        return --room < 0 ? tooLarge : Number.isFinite(v) ? undefined : `${root}${pathOf(path)} is ${describeValue(v)}`
      case "object": {
        if (v === null) return --room < 0 ? tooLarge : undefined
        if (depth >= maxJsonDepth) return `${root}${pathOf(path)} nests deeper than ${maxJsonDepth} levels`
        if ((room -= 2) < 0) return tooLarge
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
            if ((room -= k.length + 3) < 0) {
              problem = tooLarge
              break
            }
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

/** A `JSON.parse` reviver refusing an integer its text writes beyond 2^53 - 1 (it would be rounded). */
const exactIntegers = (_key: string, value: unknown, context?: { readonly source?: string }): unknown => {
  if (typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined && /^-?\d+$/.test(context.source)) {
    throw new Error(`the integer ${context.source.length > 40 ? `${context.source.slice(0, 40)}...` : context.source} is beyond ±9,007,199,254,740,991, the largest a number holds exactly (send it as a string)`)
  }
  return value
}

/**
 * `JSON.parse`, refusing an integer written beyond 2^53 - 1 instead of rounding it (a text
 * without 16 digits in a row has none, and is parsed without the reviver's cost).
 */
export const parseExactJson = (text: string): unknown => (/\d{16}/.test(text) ? JSON.parse(text, exactIntegers) : JSON.parse(text))
