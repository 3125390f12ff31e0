/**
 * Functions written in `.sib`: their parameter shape, their body (a compiled node), and the frame
 * they close over. A call checks arity (or keyword arguments), counts a step and a level of depth,
 * and runs the body in a new frame.
 */
import type { Span } from "../diagnostics/Span.ts"
import { didYouMean } from "../diagnostics/suggest.ts"
import { type Callable, kindOf, isMap, Keyword, List, print, type Value } from "../reader/Value.ts"
import { fail } from "./langError.ts"
import { type Frame, type Node, type RunState, step } from "./run.ts"

export interface Params {
  readonly fixed: number
  /** Slot of the `& rest` list. */
  readonly rest: number | undefined
  /** `& {:key default ...}`: names, their slots and default values. */
  readonly keywords: ReadonlyArray<{ readonly name: string; readonly slot: number; readonly fallback: Node }> | undefined
  /** The parameter list as written, for messages. */
  readonly shape: string
}

const plural = (n: number) => (n === 1 ? "argument" : "arguments")

export class Closure implements Callable {
  readonly [kindOf] = "fn" as const
  readonly name: string
  readonly params: Params
  readonly body: Node
  readonly slots: number
  readonly captured: Frame | undefined
  readonly span: Span

  constructor(name: string, params: Params, body: Node, slots: number, captured: Frame | undefined, span: Span) {
    this.name = name
    this.params = params
    this.body = body
    this.slots = slots
    this.captured = captured
    this.span = span
  }

  invoke(runState: unknown, args: ReadonlyArray<Value>, _span: Span): unknown {
    const run = runState as RunState
    const p = this.params
    const variadic = p.rest !== undefined || p.keywords !== undefined
    if (args.length < p.fixed || (!variadic && args.length > p.fixed)) {
      fail("arity", `${this.name} takes ${variadic ? "at least " : ""}${p.fixed} ${plural(p.fixed)} ${p.shape}, got ${args.length}`, [
        `call it as (${this.name}${p.shape.length > 2 ? ` ${p.shape.slice(1, -1)}` : ""})`
      ])
    }
    step(run)
    const frame: Frame = { slots: new Array(this.slots), parent: this.captured, run }
    for (let i = 0; i < p.fixed; i++) frame.slots[i] = args[i]
    // As in Clojure, `& rest` is nil when no argument is left over.
    if (p.rest !== undefined) frame.slots[p.rest] = args.length > p.fixed ? new List(args.slice(p.fixed)) : null
    // Bound before the call counts as a level: a refused keyword argument leaves the depth as it was.
    if (p.keywords !== undefined) bindKeywords(this.name, p, args.slice(p.fixed), frame)
    if (++run.depth > run.limits.maxDepth) {
      run.depth = 0
      fail("depth", `calls nest deeper than ${run.limits.maxDepth} levels (${this.name} calling itself without end?)`, [
        "check the recursion's end condition"
      ])
    }
    try {
      return this.body(frame)
    } finally {
      run.depth--
    }
  }
}

const unknownKeyword = (fn: string, name: string, valid: ReadonlyArray<string>): never =>
  fail("keyword-argument", `${fn} has no keyword argument :${name.length > 64 ? `${name.slice(0, 64)}...` : name}`, [
    ...didYouMean(name, valid, (v) => `:${v}`),
    `valid: ${valid.map((v) => `:${v}`).join(" ")}`
  ])

const bindKeywords = (fn: string, p: Params, extra: ReadonlyArray<Value>, frame: Frame) => {
  const given = new Map<string, Value>()
  const valid = p.keywords!.map((k) => k.name)
  if (extra.length === 1 && isMap(extra[0])) {
    const keys = Object.keys(extra[0])
    // Reading the map's keys walks all of them: paid for (a map of a million keys is a million steps).
    step(frame.run, keys.length)
    for (const k of keys) {
      if (!valid.includes(k)) unknownKeyword(fn, k, valid)
      given.set(k, extra[0][k]!)
    }
  } else {
    if (extra.length % 2 === 1) fail("arity", `${fn}: keyword arguments come in pairs (:name value); ${extra.length} ${extra.length === 1 ? "value" : "values"} given`)
    for (let i = 0; i < extra.length; i += 2) {
      const k = extra[i]
      const name = k instanceof Keyword ? k.name : typeof k === "string" ? k : undefined
      if (name === undefined) fail("keyword-argument", `${fn}: expected a keyword such as :${valid[0] ?? "name"}, got ${print(k ?? null, false, { maxChars: 80 })}`)
      if (given.has(name!)) fail("keyword-argument", `${fn}: the keyword argument :${name} is given twice`)
      given.set(name!, extra[i + 1]!)
    }
  }
  for (const name of given.keys()) if (!valid.includes(name)) unknownKeyword(fn, name, valid)
  // Given values first; then the defaults, in order (a default reading a later one sees nil).
  for (const k of p.keywords!) frame.slots[k.slot] = given.has(k.name) ? given.get(k.name)! : null
  for (const k of p.keywords!) if (!given.has(k.name)) frame.slots[k.slot] = k.fallback(frame)
}
