/**
 * Who may use the ops page, and who may act through it. Reading (the page, its JSON, its events)
 * needs no token; acting (requeue, drop: the POST routes) needs the server's token, sent in a
 * header (`Authorization: Bearer <token>` or `X-Sib-Token`), compared in constant time. A request
 * from another site cannot act: a POST must say `Content-Type: application/json` (with the token
 * header, a cross-site page cannot send that without a preflight, which this server never grants),
 * its `Origin` (when sent) must be this server, and `Sec-Fetch-Site` (when sent) same-origin. On a
 * loopback address every page route also requires a loopback `Host` header, so a web site whose
 * name is made to resolve to 127.0.0.1 (DNS rebinding) cannot read the page either.
 *
 * Tokens come from Effect's `Random`; the server draws them from `cryptoRandom`, a `Random` over
 * Web Crypto (the default `Random` is `Math.random`, not for secrets). It holds no state.
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { createHash, timingSafeEqual } from "node:crypto"
import type { HttpRequest } from "../httpServer.ts"
import { isLoopbackHostHeader } from "../httpAddress.ts"

/** A `Random` drawing from the operating system's generator (Web Crypto's `getRandomValues`). */
export const cryptoRandom: Random.Random = {
  nextIntUnsafe: () => {
    const [hi, lo] = globalThis.crypto.getRandomValues(new Uint32Array(2))
    return (hi! & 0x1fffff) * 0x100000000 + lo!
  },
  nextDoubleUnsafe: () => {
    const [hi, lo] = globalThis.crypto.getRandomValues(new Uint32Array(2))
    return ((hi! & 0x1fffff) * 0x100000000 + lo!) / 2 ** 53
  }
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/** A new token: 32 characters of base64url from the fiber's `Random` (192 bits with `cryptoRandom`). */
export const generateToken: Effect.Effect<string> = Effect.gen(function*() {
  let token = ""
  for (let i = 0; i < 32; i++) token += alphabet[yield* Random.nextIntBetween(0, alphabet.length - 1)]
  return token
})

/** Why a token someone chose (`--http-token`, `SIB_HTTP_TOKEN`, `token:`) cannot be used, or undefined. */
export const tokenProblem = (token: string): string | undefined => {
  if (token.length < 16) return `the token is ${token.length} characters long: use at least 16 (a generated one has 32)`
  if (token.length > 256) return "the token is over 256 characters long"
  if (!/^[A-Za-z0-9._~+/=-]+$/.test(token)) return "the token may hold only letters, digits and . _ ~ + / = - (it is sent in a header)"
  return undefined
}

const digest = (text: string) => createHash("sha256").update(text, "utf8").digest()

/** Whether `given` is `token`, in time that does not depend on where they differ. */
export const sameToken = (token: string, given: string): boolean => timingSafeEqual(digest(token), digest(given))

const header = (request: HttpRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The token a request carries (`Authorization: Bearer`, else `X-Sib-Token`). */
export const tokenOf = (request: HttpRequest): string | undefined => {
  const authorization = header(request, "authorization")
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1]
  return bearer ?? header(request, "x-sib-token")
}

/** A request the page refuses: its status and why, in words for the operator. */
export interface Refusal {
  readonly status: 401 | 403 | 415
  readonly message: string
}

/**
 * Refuses a request whose `Host` is not loopback, when the server listens on loopback (a page
 * reached under another name is a rebinding attempt, or a proxy this page was not made for).
 */
export const checkHost = (request: HttpRequest, loopbackOnly: boolean): Refusal | undefined => {
  if (!loopbackOnly) return undefined
  const host = header(request, "host")
  if (isLoopbackHostHeader(host)) return undefined
  return { status: 403, message: `this page answers requests to a loopback address only (Host: ${host ?? "none"})` }
}

/** Refuses a request to act that is cross-site, not JSON, or without the token. */
export const checkAction = (request: HttpRequest, token: string): Refusal | undefined => {
  const site = header(request, "sec-fetch-site")
  if (site !== undefined && site !== "same-origin" && site !== "none") return { status: 403, message: `a request from another site (Sec-Fetch-Site: ${site}) cannot act` }
  const origin = header(request, "origin")
  const host = header(request, "host")
  if (origin !== undefined && (host === undefined || (origin !== `http://${host}` && origin !== `https://${host}`))) {
    return { status: 403, message: `a request from ${origin} cannot act on this server` }
  }
  const given = tokenOf(request)
  if (given === undefined) return { status: 401, message: "acting needs the token sib printed at start-up (open the page with its #token=... link)" }
  if (!sameToken(token, given)) return { status: 401, message: "the token is not this server's" }
  const type = header(request, "content-type")
  if (type === undefined || !/^application\/json\s*(;|$)/i.test(type)) return { status: 415, message: "a request to act sends JSON (Content-Type: application/json)" }
  return undefined
}
