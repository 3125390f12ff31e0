/**
 * Syntax nodes: what the reader produces and the expander transforms. Every node is readonly,
 * tagged by `kind`, built through the constructors below, and carries its `span`. Transforms
 * return new nodes; code that switches on `kind` handles every kind.
 */
import type { Span } from "../diagnostics/Span.ts"

export type Syntax = SList | SVector | SMap | SSet | SSymbol | SKeyword | SString | SNumber | SBoolean | SNil

export interface SList { readonly kind: "list"; readonly items: ReadonlyArray<Syntax>; readonly span: Span }
export interface SVector { readonly kind: "vector"; readonly items: ReadonlyArray<Syntax>; readonly span: Span }
/** A map literal; `items` alternate keys and values. */
export interface SMap { readonly kind: "map"; readonly items: ReadonlyArray<Syntax>; readonly span: Span }
export interface SSet { readonly kind: "set"; readonly items: ReadonlyArray<Syntax>; readonly span: Span }
export interface SSymbol { readonly kind: "symbol"; readonly name: string; readonly span: Span }
export interface SKeyword { readonly kind: "keyword"; readonly name: string; readonly span: Span }
export interface SString { readonly kind: "string"; readonly value: string; readonly span: Span }
export interface SNumber { readonly kind: "number"; readonly value: number; readonly span: Span }
export interface SBoolean { readonly kind: "boolean"; readonly value: boolean; readonly span: Span }
export interface SNil { readonly kind: "nil"; readonly span: Span }

export const list = (items: ReadonlyArray<Syntax>, span: Span): SList => ({ kind: "list", items, span })
export const vector = (items: ReadonlyArray<Syntax>, span: Span): SVector => ({ kind: "vector", items, span })
export const map = (items: ReadonlyArray<Syntax>, span: Span): SMap => ({ kind: "map", items, span })
export const set = (items: ReadonlyArray<Syntax>, span: Span): SSet => ({ kind: "set", items, span })
export const symbol = (name: string, span: Span): SSymbol => ({ kind: "symbol", name, span })
export const keyword = (name: string, span: Span): SKeyword => ({ kind: "keyword", name, span })
export const string = (value: string, span: Span): SString => ({ kind: "string", value, span })
export const number = (value: number, span: Span): SNumber => ({ kind: "number", value, span })
export const boolean = (value: boolean, span: Span): SBoolean => ({ kind: "boolean", value, span })
export const nil = (span: Span): SNil => ({ kind: "nil", span })

export const isSymbol = (s: Syntax | undefined, name?: string): s is SSymbol =>
  s !== undefined && s.kind === "symbol" && (name === undefined || s.name === name)

/** The head symbol's name of a list form, if any. */
export const headName = (s: Syntax): string | undefined =>
  s.kind === "list" && s.items[0]?.kind === "symbol" ? s.items[0].name : undefined

/** A short description of a node for messages ("a vector", "the symbol foo"). */
export const describe = (s: Syntax): string => {
  switch (s.kind) {
    case "list":
      return "a list"
    case "vector":
      return "a vector"
    case "map":
      return "a map"
    case "set":
      return "a set"
    case "symbol":
      return `the symbol ${s.name}`
    case "keyword":
      return `the keyword :${s.name}`
    case "string":
      return "a string"
    case "number":
      return "a number"
    case "boolean":
      return s.value ? "true" : "false"
    case "nil":
      return "nil"
  }
}
