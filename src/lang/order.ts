/**
 * The order of values, for the comparisons (<, >, <=, >=) and sort: numbers by value, strings by
 * Unicode code point, anything else (or a number against a string) a type error. Comparing text
 * is paid by the length of the prefix it walks.
 */
import { typeName, type Value } from "../reader/Value.ts"
import { fail } from "./langError.ts"
import { type RunState, step } from "./run.ts"

/**
 * Text in Unicode code point order (JavaScript's own compares UTF-16 units: an emoji, a surrogate
 * pair, would come before U+E000 to U+FFFF). At the first unit that differs, surrogates move above
 * the units that follow them, which orders the two as their code points.
 */
const textOrder = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    const fx = x >= 0xd800 && x <= 0xdfff ? x + 0x2000 : x >= 0xe000 ? x - 0x800 : x
    const fy = y >= 0xd800 && y <= 0xdfff ? y + 0x2000 : y >= 0xe000 ? y - 0x800 : y
    return fx - fy
  }
  return a.length - b.length
}

export const compare = (a: Value, b: Value, fn: string, run: RunState): number => {
  if (typeof a === "number" && typeof b === "number") return a - b
  if (typeof a === "string" && typeof b === "string") {
    // Comparing text walks its common prefix: paid by the shorter one's length.
    const n = Math.min(a.length, b.length)
    if (n > 64) step(run, n >> 6)
    return a === b ? 0 : textOrder(a, b)
  }
  return fail("type", `${fn} compares numbers with numbers or strings with strings, got ${typeName(a)} and ${typeName(b)}`)
}
