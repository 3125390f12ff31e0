/**
 * What the core library's builtins read their arguments as: numbers, strings, the elements of a
 * sequential value, map keys, and the value at a key or index. Each reader fails with a typed
 * error naming the builtin, and pays for what it reads (a long key, a materialized string or map).
 * It builds no values a program sees; the builtins live in core.ts, text.ts, collections.ts and
 * jsonValues.ts.
 */
import { isHostObject, isMap, List, mapKey, type Meter, print, SetValue, typeName, type Value } from "../reader/Value.ts"
import { fail } from "./langError.ts"
import { checkSizeAhead, type RunState, step } from "./run.ts"

/**
 * The elements of a sequential value (nil is empty). Maps give [key value] pairs. Vectors, lists
 * and sets are returned as they are; a string or a map is materialized, and paid for first.
 */
export const seqOf = (v: Value, fn: string, run: RunState): ReadonlyArray<Value> => {
  if (v === null) return []
  if (Array.isArray(v)) return v
  if (v instanceof List) return v.items
  if (v instanceof SetValue) return v.values()
  if (typeof v === "string") {
    if (v.length > run.limits.maxCollection) {
      fail("value-size", `${fn}: the string's ${v.length.toLocaleString("en-US")} characters, taken one by one, would be a collection over the limit of ${run.limits.maxCollection.toLocaleString("en-US")}`, [
        "first, second, last, nth, subs, count and split read a long string without taking it apart"
      ])
    }
    checkSizeAhead(run, v.length, "collection")
    return [...v]
  }
  if (isMap(v)) {
    const keys = Object.keys(v)
    checkSizeAhead(run, keys.length * 3, "collection")
    return keys.map((k) => [k, v[k]!])
  }
  return fail("type", `${fn} needs a collection, got ${typeName(v)}`)
}

const meterOf = (run: RunState): Meter => run.budget

export const num = (v: Value, fn: string): number =>
  typeof v === "number" ? v : fail("type", `${fn} needs numbers, got ${typeName(v)} (${print(v)})`)

export const str = (v: Value, fn: string): string => (typeof v === "string" ? v : fail("type", `${fn} needs a string, got ${typeName(v)}`))

/**
 * The map key a value stands for, paid for: a map reads its key whole to find it (1 step per 16
 * characters, as reading text is; a key of a few characters costs nothing more).
 */
export const readKey = (k: Value, run: RunState): string | undefined => {
  const key = mapKey(k)
  if (key !== undefined && key.length >= 64) step(run, key.length >> 4)
  return key
}

export const keyOfArg = (k: Value, fn: string, run: RunState): string =>
  readKey(k, run) ?? fail("type", `${fn}: a map key must be a keyword, string or number, got ${typeName(k)}`)

/** The map view of a value for reading: maps and records; host objects expose their fields. */
export const readable = (v: Value): Readonly<Record<string, Value>> | undefined =>
  isMap(v) ? v : isHostObject(v) ? v.fields : undefined

export const getIn = (m: Value, k: Value, run: RunState): Value => {
  if (m === null) return null
  if (Array.isArray(m) || m instanceof List) {
    const items = m instanceof List ? m.items : m
    return typeof k === "number" && Number.isInteger(k) && k >= 0 && k < items.length ? items[k]! : null
  }
  if (m instanceof SetValue) return m.has(k, meterOf(run)) ? k : null
  const r = readable(m)
  if (r === undefined) return null
  const key = readKey(k, run)
  return key !== undefined && Object.hasOwn(r, key) ? r[key]! : null
}
