/**
 * The browser side of the ops page, part 1: the few DOM interfaces it uses, declared here (the
 * project compiles for Node, without the DOM library, and this keeps the page's surface visible),
 * and `h`, the one way the page makes elements. Text is always set as text (`textContent`, text
 * nodes), never parsed as HTML: payloads, errors and names come from events and are untrusted.
 * `visible` shows control, bidi and zero-width characters as escapes, as `safeText` does for
 * terminals, so data cannot hide or reorder what the page shows.
 */

export interface DomEvent {
  preventDefault(): void
}

export interface El {
  textContent: string | null
  hidden: boolean
  className: string
  title: string
  append(...nodes: Array<El | string>): void
  replaceChildren(...nodes: Array<El | string>): void
  setAttribute(name: string, value: string): void
  addEventListener(type: string, listener: (event: DomEvent) => void): void
  focus(): void
}

export interface InputEl extends El {
  value: string
  disabled: boolean
}

export interface DetailsEl extends El {
  open: boolean
}

interface MessageEventLike {
  readonly data: string
}

export interface EventSourceLike {
  onopen: (() => void) | null
  onerror: (() => void) | null
  addEventListener(type: string, listener: (event: MessageEventLike) => void): void
  close(): void
}

interface Browser {
  readonly document: {
    createElement(tag: string): El
    getElementById(id: string): El | null
  }
  readonly sessionStorage: {
    getItem(key: string): string | null
    setItem(key: string, value: string): void
    removeItem(key: string): void
  }
  readonly location: { hash: string; readonly pathname: string; readonly search: string }
  readonly history: { replaceState(data: unknown, unused: string, url: string): void }
  readonly EventSource: new(url: string) => EventSourceLike
}

export const browser = globalThis as unknown as Browser

type Child = El | string | number | null | undefined | false

/** Properties `h` sets: attributes by name, `class`, and `on<event>` listeners. */
export type Props = Readonly<Record<string, string | number | boolean | ((event: DomEvent) => void) | undefined>>

/**
 * An element: `h("td", { class: "num" }, "42")`. Strings and numbers become text nodes; null,
 * undefined and false are left out. Boolean `true` sets an attribute with no value.
 */
export const h = (tag: string, props: Props = {}, ...children: ReadonlyArray<Child>): El => {
  const el = browser.document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue
    if (typeof value === "function") el.addEventListener(name.slice(2), value)
    else if (name === "class") el.className = String(value)
    else el.setAttribute(name, value === true ? "" : String(value))
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === "number" ? String(c) : c)
  return el
}

/** The element with `id` (the page's skeleton has it: a missing one is the page's bug). */
export const byId = <E extends El = El>(id: string): E => {
  const el = browser.document.getElementById(id)
  if (el === null) throw new Error(`the page has no #${id}`)
  return el as E
}

// Control (C0 but tab and newline, DEL, C1), format (bidi, zero-width, tags), private-use,
// surrogate and unassigned code points, line and paragraph separators.
const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}\p{Co}\p{Cs}\p{Cn}\u2028\u2029]/gu

const escapeOne = (ch: string): string => {
  const code = ch.codePointAt(0)!
  if (ch === "\r") return "\\r"
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : code <= 0xffff ? `\\u${code.toString(16).padStart(4, "0")}` : `\\u{${code.toString(16)}}`
}

/** `text` with invisible and controlling characters shown as escapes (newlines and tabs kept). */
export const visible = (text: string): string => text.replace(unsafe, escapeOne)

/** `text` on one line: `visible`, with newlines and tabs escaped too. */
export const oneLine = (text: string): string => visible(text).replace(/\n/g, "\\n").replace(/\t/g, "\\t")
