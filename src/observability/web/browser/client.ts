/**
 * The browser side of the ops page, part 2: talking to the server. JSON reads (no token), actions
 * (POST with the token in `Authorization: Bearer`, as JSON), and the token itself: taken from the
 * page's URL fragment (`#token=...`, which browsers never send to the server, so it stays out of
 * logs), then removed from the address bar and kept in `sessionStorage` for this tab only.
 * Relative URLs, so the page also works below a path prefix.
 */
import type { ActionJson } from "../wire.ts"
import { browser } from "./dom.ts"

const storageKey = "sib-ops-token"

/** The token from `#token=...` (moved to sessionStorage), else the one this tab kept; undefined: none. */
export const takeToken = (): string | undefined => {
  const m = /(?:^#|&)token=([^&]+)/.exec(browser.location.hash)
  if (m !== null) {
    // A malformed escape (%E0%A4%A) is a token that is not the server's, not an error that stops the page.
    let token: string
    try {
      token = decodeURIComponent(m[1]!)
    } catch {
      token = m[1]!
    }
    browser.sessionStorage.setItem(storageKey, token)
    browser.history.replaceState(null, "", browser.location.pathname + browser.location.search)
    return token
  }
  return browser.sessionStorage.getItem(storageKey) ?? undefined
}

export const forgetToken = (): void => browser.sessionStorage.removeItem(storageKey)

/** A failed request, with the server's message when it sent one. */
export class RequestError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

const failure = async (res: Response): Promise<RequestError> => {
  let message = `${res.status} ${res.statusText}`
  try {
    const body = (await res.json()) as { error?: unknown; message?: unknown }
    if (typeof body.error === "string") message = body.error
    else if (typeof body.message === "string") message = body.message
  } catch {
    // not JSON: the status line says enough
  }
  return new RequestError(res.status, message)
}

/** GET `path` (relative) with `query`, as JSON of type A. */
export const getJson = async <A>(path: string, query: Readonly<Record<string, string | number | undefined>> = {}): Promise<A> => {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, String(v))
  const qs = params.toString()
  const res = await fetch(qs === "" ? path : `${path}?${qs}`, { headers: { accept: "application/json" } })
  if (!res.ok) throw await failure(res)
  return (await res.json()) as A
}

/** Whether the server takes `token` (GET api/token with it). */
export const checkToken = async (token: string): Promise<boolean> => {
  const res = await fetch("api/token", { headers: { authorization: `Bearer ${token}` } })
  return res.ok
}

/** POST `body` as JSON to `path` with the token; the server's answer, or its refusal as a RequestError. */
export const act = async (path: string, token: string, body: unknown): Promise<ActionJson> => {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body)
  })
  if (!res.ok) throw await failure(res)
  return (await res.json()) as ActionJson
}
