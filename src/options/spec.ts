/**
 * Option specs: one declarative description per option set (name, type, default, bounds, doc) that
 * gives both validation and documentation, as Broadway's NimbleOptions schemas do. `check(spec,
 * input)` returns the resolved value or one `OptionProblem` with structured data (the path, and for
 * unknown names the names given and the valid ones), which each component wraps in its own typed
 * error and each front end renders its own way (`:keyword` in `.sib`, `--flag` in the CLI);
 * `describe(spec)` gives the rows of its reference table. `checkAll` finds every problem at once
 * (each unknown name and each value that does not fit, nested sets included), for front ends that
 * report them all (`sib check`). It knows nothing of the components.
 */

/** What is wrong with the options given: an unknown name, or a value that does not fit. */
export type OptionProblem =
  | {
    readonly _tag: "unknown"
    /** Where the unknown names were (`""` for the top level, `"backoff"` for a nested set). */
    readonly path: string
    readonly names: ReadonlyArray<string>
    readonly valid: ReadonlyArray<string>
  }
  | {
    /** Options that do not go together (a rule across options); `message` says what to do. */
    readonly _tag: "conflict"
    readonly path: string
    readonly message: string
    /** What to do about it. */
    readonly hint?: string | undefined
  }
  | {
    readonly _tag: "invalid"
    /** The option's path, e.g. `"backoff.jitter"`. */
    readonly path: string
    /** What it must be, e.g. "a number in [0, 1]". */
    readonly expected: string
    readonly got: unknown
    /** The words it could be, when it is one of a few (for "did you mean"). */
    readonly choices?: ReadonlyArray<string> | undefined
  }

/** How a front end writes option names in messages (TypeScript: "name" and a.b; `.sib`: :name). */
export interface Naming {
  /** An option name in a list ("unknown option ..."). */
  readonly name: (name: string) => string
  /** An option's path as the subject of a sentence ("... must be"). */
  readonly path: (path: string) => string
}

const plain: Naming = { name: (n) => JSON.stringify(n), path: (p) => p }

/** The problem as one line of English, with names written as `naming` says. */
export const problemText = (p: OptionProblem, naming: Naming = plain): string => {
  if (p._tag === "unknown") {
    const where = p.path === "" ? "" : ` in ${naming.path(p.path)}`
    return `unknown option${p.names.length === 1 ? "" : "s"} ${p.names.map(naming.name).join(", ")}${where}; valid options: ${p.valid.join(", ")}`
  }
  if (p._tag === "conflict") return p.hint === undefined ? p.message : `${p.message}; ${p.hint}`
  return `${p.path === "" ? "the options" : naming.path(p.path)} must be ${p.expected}, got ${shown(p.got)}`
}

/** A value as a message shows it (short, never the whole of a large value). */
export const shown = (v: unknown): string => {
  if (typeof v === "function") return "a function"
  // JSON would show NaN and the infinities as null, and cannot show a bigint.
  if (typeof v === "number" && !Number.isFinite(v)) return String(v)
  if (typeof v === "bigint") return `${v}n`
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}...` : v)
  if (v === undefined) return "undefined"
  try {
    const text = JSON.stringify(v) ?? String(v)
    return text.length > 80 ? `${text.slice(0, 80)}...` : text
  } catch {
    return Array.isArray(v) ? "an array" : typeof v
  }
}

/** One option: how to check a value given for it, and how it is documented. */
export interface Option<T> {
  /** Its type for people, e.g. "positive integer", `"key" | "strict" | "none"`. */
  readonly type: string
  readonly doc: string
  /** The default, as documented (absent: none, or computed; see `defaultDoc`). */
  readonly default?: T | undefined
  /** How the default is documented when it is not a plain value ("16; 1 with ordering strict"). */
  readonly defaultDoc?: string | undefined
  /** The value, or what is wrong with it (`path` names it in the problem). */
  readonly check: (value: unknown, path: string) => T | Invalid
  /** A nested set's options (`object`), so that `checkAll` can report each of its problems. */
  readonly fields?: Readonly<Record<string, Option<unknown>>> | undefined
}

/** A value that does not fit (internal to checks; `check` returns an `OptionProblem`). */
export class Invalid {
  readonly problem: OptionProblem
  constructor(problem: OptionProblem) {
    this.problem = problem
  }
}

/** Options at `path` do not go together with others: `message` says why and what to do. */
export const conflict = (path: string, message: string, hint?: string) => new Invalid({ _tag: "conflict", path, message, hint })

/** The value at `path` does not fit: it must be `expected` (one of `choices`, when given). */
export const invalid = (path: string, expected: string, got: unknown, choices?: ReadonlyArray<string>) =>
  new Invalid(choices === undefined ? { _tag: "invalid", path, expected, got } : { _tag: "invalid", path, expected, got, choices })

interface Described {
  readonly doc: string
  readonly default?: unknown
  readonly defaultDoc?: string | undefined
}

const withDefault = <T>(o: Described, type: string, check: Option<T>["check"]): Option<T> => ({
  type, doc: o.doc, check,
  ...(o.default !== undefined ? { default: o.default as T } : {}),
  ...(o.defaultDoc !== undefined ? { defaultDoc: o.defaultDoc } : {})
})

/** An integer within bounds (safe integers only). */
export const integer = (o: Described & { readonly min?: number; readonly max?: number; readonly unit?: string }): Option<number> => {
  const min = o.min ?? Number.MIN_SAFE_INTEGER
  const max = o.max ?? Number.MAX_SAFE_INTEGER
  const unit = o.unit === undefined ? "" : ` (${o.unit})`
  const expected = min === 1 && max === Number.MAX_SAFE_INTEGER
    ? `a positive integer${unit}`
    : min === 0 && max === Number.MAX_SAFE_INTEGER
    ? `an integer >= 0${unit}`
    : max === Number.MAX_SAFE_INTEGER
    ? `an integer >= ${min}${unit}`
    : `an integer from ${min} to ${max}${unit}`
  return withDefault(o, expected.replace(/^an? /, ""), (v, path) =>
    typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max ? v : invalid(path, expected, v))
}

/** A finite number within bounds (`below`: strictly less than; `infinite`: Infinity allowed too). */
export const number = (o: Described & { readonly min?: number; readonly max?: number; readonly below?: number; readonly infinite?: boolean }): Option<number> => {
  const min = o.min ?? Number.NEGATIVE_INFINITY
  const finite = o.below !== undefined
    ? `a number in [${min}, ${o.below})`
    : o.max !== undefined
    ? `a number in [${min}, ${o.max}]`
    : Number.isFinite(min)
    ? `a number >= ${min}`
    : "a finite number"
  const expected = o.infinite === true ? `${finite} (or Infinity)` : finite
  return withDefault(o, expected.replace(/^an? /, ""), (v, path) =>
    typeof v === "number" && (Number.isFinite(v) || (o.infinite === true && v === Number.POSITIVE_INFINITY)) && v >= min &&
      (o.max === undefined || v <= o.max) && (o.below === undefined || v < o.below)
      ? v
      : invalid(path, expected, v))
}

export const boolean = (o: Described): Option<boolean> =>
  withDefault(o, "boolean", (v, path) => (typeof v === "boolean" ? v : invalid(path, "true or false", v)))

/** "a", "a or b", "a, b or c". */
const alternatives = (items: ReadonlyArray<string>): string =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`

/** One of the given strings. */
export const oneOf = <const V extends string>(values: ReadonlyArray<V>, o: Described): Option<V> => {
  const type = values.map((v) => JSON.stringify(v)).join(" | ")
  return withDefault(o, type, (v, path) =>
    typeof v === "string" && (values as ReadonlyArray<string>).includes(v) ? (v as V) : invalid(path, alternatives(values.map((x) => JSON.stringify(x))), v, values))
}

export const string = (o: Described & { readonly pattern?: RegExp; readonly patternDoc?: string }): Option<string> =>
  withDefault(o, "string", (v, path) =>
    typeof v === "string" && (o.pattern === undefined || o.pattern.test(v)) ? v : invalid(path, o.patternDoc ?? "a string", v))

export const func = <F>(o: Described & { readonly shape: string }): Option<F> =>
  withDefault(o, o.shape, (v, path) => (typeof v === "function" ? (v as F) : invalid(path, `a function ${o.shape}`, v)))

/** Milliseconds: a number >= 0, or text such as "500ms", "5s", "2m", "1h", "1d". */
export const duration = (o: Described & { readonly min?: number }): Option<number> => {
  const min = o.min ?? 0
  const expected = `a duration of at least ${min} ms (milliseconds, or "500ms", "5s", "2m", "1h", "1d")`
  return withDefault(o, "duration", (v, path) => {
    const ms = durationValue(v)
    return ms !== undefined && ms >= min ? ms : invalid(path, expected, v)
  })
}

const units: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * The one duration syntax: milliseconds as a number of digits, or a number with a unit (ms, s, m,
 * h, d; "1.5s" is 1500). Undefined for anything else.
 */
export const parseDuration = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * units[m[2] ?? "ms"]!)
}

/**
 * A duration given as a number or as text, in whole milliseconds (a fraction is rounded, as in
 * "1.5s"); undefined when it is neither a finite number >= 0 nor duration text.
 */
export const durationValue = (v: unknown): number | undefined => {
  // Beyond 2^53 ms (285,000 years) a number is no duration anyone means, nor one a clock can add.
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER ? Math.round(v) : undefined
  const ms = typeof v === "string" ? parseDuration(v) : undefined
  return ms !== undefined && ms <= Number.MAX_SAFE_INTEGER ? ms : undefined
}

/** An option of a shape the combinators above do not cover: its own check (returning `invalid(...)` when it does not fit). */
export const custom = <T>(type: string, o: Described, check: (v: unknown, path: string) => T | Invalid): Option<T> => withDefault(o, type, check)

/** The resolved value of a set of options: each option's type, present when given or defaulted. */
export type Resolved<Fields extends Record<string, Option<unknown>>> = {
  -readonly [K in keyof Fields]: Fields[K] extends Option<infer T> ? T : never
}

/** A nested set of options (an object value), checked like the top level. */
export const object = <Fields extends Record<string, Option<unknown>>>(fields: Fields, o: Described): Option<Partial<Resolved<Fields>>> => ({
  ...withDefault(o, "object", (v, path) => checkFields(fields, v, path)),
  fields
})

/**
 * Checks the fields of a set at `path`: the resolved value, or the first problem. With `all`, every
 * problem is added to it instead (one per unknown name, then one per value that does not fit, nested
 * sets walked), and the value is returned when there was none.
 */
const checkFields = <Fields extends Record<string, Option<unknown>>>(
  fields: Fields,
  input: unknown,
  path: string,
  all?: Array<OptionProblem>
): Partial<Resolved<Fields>> | Invalid => {
  if (input !== undefined && input !== null && (typeof input !== "object" || Array.isArray(input))) {
    const bad = invalid(path, "an object", input)
    if (all === undefined) return bad
    all.push(bad.problem)
    return bad
  }
  const given = (input ?? {}) as Record<string, unknown>
  const valid = Object.keys(fields)
  const start = all?.length ?? 0
  const unknown = Object.keys(given).filter((k) => !Object.hasOwn(fields, k) && given[k] !== undefined)
  if (unknown.length > 0) {
    if (all === undefined) return new Invalid({ _tag: "unknown", path, names: unknown, valid })
    for (const name of unknown) all.push({ _tag: "unknown", path, names: [name], valid })
  }
  const out: Record<string, unknown> = {}
  for (const name of valid) {
    const v = given[name]
    const at = path === "" ? name : `${path}.${name}`
    if (v === undefined) {
      if (fields[name]!.default !== undefined) out[name] = fields[name]!.default
      continue
    }
    const nested = fields[name]!.fields
    const checked = all !== undefined && nested !== undefined ? checkFields(nested, v, at, all) : fields[name]!.check(v, at)
    if (checked instanceof Invalid) {
      if (all === undefined) return checked
      if (nested === undefined) all.push(checked.problem)
      continue
    }
    out[name] = checked
  }
  if (all !== undefined && all.length > start) return new Invalid(all[start]!)
  return out as Partial<Resolved<Fields>>
}

/** A named set of options. */
export interface OptionsSpec<Fields extends Record<string, Option<unknown>>> {
  readonly name: string
  readonly fields: Fields
}

export const spec = <Fields extends Record<string, Option<unknown>>>(name: string, fields: Fields): OptionsSpec<Fields> => ({ name, fields })

/**
 * Checks `input` (an object, or undefined for none) against the spec: the values given, with the
 * documented defaults filled in, or the first problem found (unknown names before values).
 */
export const check = <Fields extends Record<string, Option<unknown>>>(
  s: OptionsSpec<Fields>,
  input: unknown
): { readonly ok: true; readonly value: Partial<Resolved<Fields>> } | { readonly ok: false; readonly problem: OptionProblem } => {
  const out = checkFields(s.fields, input, "")
  return out instanceof Invalid ? { ok: false, problem: out.problem } : { ok: true, value: out }
}

/**
 * Checks `input` against the spec and reports every problem: each unknown name (one problem per
 * name) and each value that does not fit, in nested sets too. `problems` is empty exactly when
 * `check` succeeds. Rules across options are the component's to check afterwards.
 */
export const checkAll = <Fields extends Record<string, Option<unknown>>>(
  s: OptionsSpec<Fields>,
  input: unknown
): { readonly value: Partial<Resolved<Fields>> | undefined; readonly problems: ReadonlyArray<OptionProblem> } => {
  const problems: Array<OptionProblem> = []
  const out = checkFields(s.fields, input, "", problems)
  return { value: out instanceof Invalid ? undefined : out, problems }
}

/** The option names of a spec (for did-you-mean and compile-time checks). */
export const names = (s: OptionsSpec<Record<string, Option<unknown>>>): ReadonlyArray<string> => Object.keys(s.fields)

/** One row per option (nested sets flattened as `parent.name`), for reference tables. */
export const describe = (
  s: OptionsSpec<Record<string, Option<unknown>>>,
  nested: Readonly<Record<string, OptionsSpec<Record<string, Option<unknown>>>>> = {}
): ReadonlyArray<{ readonly name: string; readonly type: string; readonly default: string; readonly code: boolean; readonly doc: string }> =>
  Object.entries(s.fields).flatMap(([name, o]) => [
    { name, type: o.type, default: o.defaultDoc ?? (o.default === undefined ? "" : shown(o.default)), code: o.defaultDoc === undefined, doc: o.doc },
    ...(nested[name] === undefined ? [] : describe(nested[name]!).map((r) => ({ ...r, name: `${name}.${r.name}` })))
  ])

/** A Markdown table of `describe(s)`. */
export const markdownTable = (rows: ReturnType<typeof describe>): string =>
  ["| option | type | default | |", "| --- | --- | --- | --- |", ...rows.map((r) =>
    `| \`${r.name}\` | ${r.type.replace(/\|/g, "\\|")} | ${r.default === "" ? "" : r.code ? `\`${r.default}\`` : r.default} | ${r.doc} |`)].join("\n")
