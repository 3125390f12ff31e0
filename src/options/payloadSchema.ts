/**
 * Payload schemas that every process can enforce: a small declarative language, stored as JSON
 * with the topic's settings, so a process that did not define the topic (`sib publish`, another
 * program) checks its publishes against the same rules.
 *
 * - a type name: `"string"`, `"number"`, `"int"`, `"boolean"`, `"map"`, `"vector"`, `"any"`;
 * - `[type]`: a vector whose every item has that type;
 * - `{ "field": type, "field?": type }`: a map with those fields (others allowed); a field
 *   written with a trailing `?` may be absent or null.
 *
 * It is the `.sib` schema literal (`{:pid :int :name? :string}`) as JSON. A TypeScript `Schema`
 * is described through its JSON Schema (`Schema.toJsonSchemaDocument`): what the language cannot
 * say becomes `any` (looser, never stricter, than the schema itself), and a schema with nothing
 * describable is stored as `"opaque"`: other processes then check nothing, and `sib topics` says so.
 */
import * as Schema from "effect/Schema"

export type PayloadSchema = string | readonly [PayloadSchema] | { readonly [field: string]: PayloadSchema }

/** What a topic stores about its schema: a description, or that its schema cannot be described. */
export type StoredSchema = PayloadSchema | "opaque"

type Check = (value: unknown, path: string) => string | undefined

const kindOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "a vector" : typeof v === "object" ? "a map" : typeof v)

const scalar = (name: string, test: (v: unknown) => boolean): Check => (v, path) =>
  test(v) ? undefined : `${path || "payload"} must be ${name}, got ${kindOf(v)}`

const scalarTypes: Readonly<Record<string, Check>> = {
  string: scalar("a string", (v) => typeof v === "string"),
  number: scalar("a number", (v) => typeof v === "number"),
  // Beyond ±(2^53 - 1) a JSON number is no longer exact: such an "integer" is refused.
  int: (v, path) =>
    typeof v === "number" && Number.isSafeInteger(v)
      ? undefined
      : typeof v === "number" && Number.isInteger(v)
      ? `${path || "payload"} must be an integer from -(2^53 - 1) to 2^53 - 1 (exact in JSON), got ${v}`
      : `${path || "payload"} must be an integer, got ${kindOf(v)}`,
  boolean: scalar("a boolean", (v) => typeof v === "boolean"),
  map: scalar("a map", (v) => typeof v === "object" && v !== null && !Array.isArray(v)),
  vector: scalar("a vector", Array.isArray),
  any: () => undefined
}

export const schemaTypeNames: ReadonlyArray<string> = Object.keys(scalarTypes)

/** Type names other languages use, by the type of this one they mean (for "did you mean"). */
export const schemaTypeAliases: Readonly<Record<string, string>> = {
  integer: "int", long: "int", float: "number", double: "number", decimal: "number", bool: "boolean",
  str: "string", text: "string", object: "map", dict: "map", record: "map", array: "vector", list: "vector"
}

const isFieldMap = (spec: unknown): spec is { readonly [field: string]: PayloadSchema } =>
  typeof spec === "object" && spec !== null && !Array.isArray(spec)

/**
 * Types a schema may hold (each field and each item type is one): every publish to the topic, in
 * every process, checks its payload against all of them, so a schema of 400,000 fields made each
 * publish cost 45 ms of CPU.
 */
export const maxSchemaTypes = 1000

/** How deeply a schema's maps and vectors may nest. */
export const maxSchemaDepth = 32

/** What is wrong with `spec` as a payload schema (at `where`), or undefined. */
export const schemaProblem = (spec: unknown, where = "schema"): string | undefined => {
  const count = { types: 0 }
  return shapeProblem(spec, where, count, 0)
}

const shapeProblem = (spec: unknown, where: string, count: { types: number }, depth: number): string | undefined => {
  if (++count.types > maxSchemaTypes) return `${where}: a schema holds at most ${maxSchemaTypes} types (fields and item types together): every publish checks them all`
  if (depth > maxSchemaDepth) return `${where}: a schema nests at most ${maxSchemaDepth} maps and vectors deep`
  if (typeof spec === "string") {
    return Object.hasOwn(scalarTypes, spec) ? undefined : `${where}: unknown type ${JSON.stringify(spec)} (types: ${schemaTypeNames.join(", ")}, a map of fields, or [type])`
  }
  if (Array.isArray(spec)) return spec.length === 1 ? shapeProblem(spec[0], `${where}[]`, count, depth + 1) : `${where}: a vector type has exactly one item type, [type]`
  if (isFieldMap(spec)) {
    const fields = Object.keys(spec)
    if (count.types + fields.length > maxSchemaTypes) return `${where}: a schema holds at most ${maxSchemaTypes} types (fields and item types together): every publish checks them all`
    for (const k of fields) {
      const problem = shapeProblem(spec[k], `${where}.${k}`, count, depth + 1)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  return `${where}: a schema is a type name, a map of fields or [type], got ${kindOf(spec)}`
}

/**
 * Checks one payload may take at most (a field or an item looked at is one): a schema's maps
 * multiply with a payload's vectors (150,000 empty maps against 990 optional fields froze the
 * process for 10 s a publish), so the work is bounded, and past the bound the payload is refused.
 */
export const maxSchemaChecks = 1_000_000

/** What is left of the current check's work (see `maxSchemaChecks`). */
let checksLeft = 0

const tooCostly = () =>
  `checking the payload against the topic's schema takes more than ${maxSchemaChecks.toLocaleString("en-US")} steps (its vectors times the fields of their items): publish smaller payloads`

/** A check of payloads against `spec` (assumed valid: see `schemaProblem`): the first problem found, or undefined. */
export const compileSchema = (spec: PayloadSchema): ((payload: unknown) => string | undefined) => {
  const check = compile(spec)
  return (payload) => {
    checksLeft = maxSchemaChecks
    const problem = check(payload, "")
    return checksLeft < 0 ? tooCostly() : problem
  }
}

const compile = (spec: PayloadSchema): Check => {
  if (typeof spec === "string") return scalarTypes[spec] ?? scalarTypes.any!
  if (Array.isArray(spec)) {
    const item = compile(spec[0]!)
    return (v, path) => {
      if (!Array.isArray(v)) return `${path || "payload"} must be a vector, got ${kindOf(v)}`
      if ((checksLeft -= v.length) < 0) return tooCostly()
      for (let i = 0; i < v.length; i++) {
        // The item's path is written only when it has a problem.
        const p = item(v[i], "")
        if (p !== undefined) return checksLeft < 0 ? p : item(v[i], `${path}[${i}]`)
      }
      return undefined
    }
  }
  const fields = Object.entries(spec as { readonly [field: string]: PayloadSchema }).map(([k, type]) => {
    const optional = k.endsWith("?")
    return { name: optional ? k.slice(0, -1) : k, optional, check: compile(type) }
  })
  return (v, path) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return `${path || "payload"} must be a map, got ${kindOf(v)}`
    if ((checksLeft -= fields.length) < 0) return tooCostly()
    for (const f of fields) {
      const here = path ? `${path}.${f.name}` : f.name
      const present = Object.hasOwn(v, f.name)
      const value = present ? (v as Record<string, unknown>)[f.name] : undefined
      if (!present || value === null || value === undefined) {
        if (f.optional) continue
        return present ? `${here} must not be nil` : `${here} is missing`
      }
      const p = f.check(value, here)
      if (p !== undefined) return p
    }
    return undefined
  }
}

/** A schema for people: `{pid: int, name?: string, tags?: [string]}`. */
export const describeSchema = (spec: StoredSchema): string => {
  if (typeof spec === "string") return spec
  if (Array.isArray(spec)) return `[${describeSchema(spec[0]!)}]`
  return `{${Object.entries(spec).map(([k, v]) => `${k}: ${describeSchema(v)}`).join(", ")}}`
}

/** Whether two stored schemas say the same. */
export const sameSchema = (a: StoredSchema, b: StoredSchema): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))

const canonical = (spec: StoredSchema): unknown =>
  typeof spec === "string" ? spec : Array.isArray(spec) ? [canonical(spec[0]!)] : Object.fromEntries(Object.entries(spec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => [k, canonical(v)]))

/** A stored schema from a topic's stored config (`true`, from before schemas were stored, and anything unreadable, are opaque). */
export const storedSchemaOf = (value: unknown): StoredSchema | undefined => {
  if (value === undefined || value === false || value === null) return undefined
  if (value === "opaque" || schemaProblem(value) !== undefined) return "opaque"
  return value as PayloadSchema
}

// ---- from a TypeScript Schema ------------------------------------------------------------------

type JsonSchemaNode = { readonly [k: string]: unknown }

/**
 * The description of an Effect `Schema`, through its JSON Schema: looser where the language has
 * no word (unions, literals, custom checks become `any` or their base type), `"opaque"` when
 * nothing of it can be described.
 */
export const schemaOfEffect = (schema: Parameters<typeof Schema.toJsonSchemaDocument>[0]): StoredSchema => {
  let document: { readonly schema: unknown }
  try {
    document = Schema.toJsonSchemaDocument(schema)
  } catch {
    return "opaque"
  }
  const spec = fromJsonSchema(document.schema as JsonSchemaNode, 0)
  // One too large to store is not described at all: other processes check nothing (looser, never stricter).
  return spec === "any" || schemaProblem(spec) !== undefined ? "opaque" : spec
}

const nullOnly = (n: unknown) => typeof n === "object" && n !== null && (n as JsonSchemaNode)["type"] === "null"

/** The branch of a JSON number that carries Infinity and NaN as strings (Effect's JSON codec). */
const nonFiniteStrings = (n: unknown) => {
  const e = typeof n === "object" && n !== null ? (n as JsonSchemaNode)["enum"] : undefined
  return Array.isArray(e) && e.length > 0 && e.every((x) => x === "Infinity" || x === "-Infinity" || x === "NaN")
}

/** A JSON Schema node as a payload schema; `nullable` when it also allows null. */
const fromJsonSchema = (node: JsonSchemaNode, depth: number): PayloadSchema => fromNode(node, depth).spec

const fromNode = (node: JsonSchemaNode, depth: number): { readonly spec: PayloadSchema; readonly nullable: boolean } => {
  if (depth > 32 || typeof node !== "object" || node === null) return { spec: "any", nullable: true }
  const anyOf = (node["anyOf"] ?? node["oneOf"]) as ReadonlyArray<JsonSchemaNode> | undefined
  if (Array.isArray(anyOf)) {
    const branches = anyOf.filter((b) => !nullOnly(b) && !nonFiniteStrings(b))
    const nullable = anyOf.some(nullOnly)
    if (branches.length === 1) return { spec: fromNode(branches[0]!, depth + 1).spec, nullable }
    return { spec: "any", nullable: true }
  }
  switch (node["type"]) {
    case "string":
      return { spec: "string", nullable: false }
    case "integer":
      return { spec: "int", nullable: false }
    case "number":
      return { spec: "number", nullable: false }
    case "boolean":
      return { spec: "boolean", nullable: false }
    case "array": {
      const items = node["items"]
      if (node["prefixItems"] === undefined && typeof items === "object" && items !== null) return { spec: [fromJsonSchema(items as JsonSchemaNode, depth + 1)], nullable: false }
      return { spec: "vector", nullable: false }
    }
    case "object": {
      const properties = node["properties"] as Readonly<Record<string, JsonSchemaNode>> | undefined
      if (properties === undefined || Object.keys(properties).length === 0) return { spec: "map", nullable: false }
      const required = new Set(Array.isArray(node["required"]) ? node["required"] as ReadonlyArray<string> : [])
      const fields: Record<string, PayloadSchema> = {}
      for (const [name, sub] of Object.entries(properties)) {
        // A field whose own name ends in "?" cannot be told from an optional one: left out (looser).
        if (name.endsWith("?")) continue
        const { nullable, spec } = fromNode(sub, depth + 1)
        fields[required.has(name) && !nullable ? name : `${name}?`] = spec
      }
      return { spec: fields, nullable: false }
    }
    default:
      return { spec: "any", nullable: true }
  }
}
