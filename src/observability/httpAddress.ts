/**
 * Addresses the HTTP server listens on: parsing `host:port`, which hosts are loopback, the check
 * of `serveHttp`'s options, and the error of a server that cannot listen. Apart
 * from the server (`httpServer.ts`, which re-exports them), so that checking an address or a token
 * (`web/auth.ts`, used when a runtime is created) does not load `node:http`: its module loads
 * Node's fetch implementation (undici) with it, ~12 ms and memory a runtime without a server
 * never needs.
 */

import * as Data from "effect/Data"
import { boolean, check, custom, type Option, type OptionsSpec, problemText, spec, string } from "../options/spec.ts"

/** Where to listen: a host (name or IP) and a port (0: any free port). */
export interface HttpAddress {
  readonly host: string
  readonly port: number
}

export const defaultHost = "127.0.0.1"
export const defaultPort = 9464

/** Loopback names and addresses: `localhost`, 127.0.0.0/8, `::1`. */
export const isLoopback = (host: string): boolean => {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase()
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === "::ffff:127.0.0.1"
}

/**
 * Whether a request's `Host` header names a loopback address (`127.0.0.1:9464`, `[::1]:80`,
 * `localhost`). A server listening on loopback answers only such requests: a page of another site
 * whose name was rebound to 127.0.0.1 sends its own name, and must not read what the server says.
 */
export const isLoopbackHostHeader = (host: string | undefined): boolean =>
  host !== undefined && isLoopback(host.replace(/:\d+$/, ""))

/**
 * `9464`, `127.0.0.1:9464`, `localhost:0`, `[::1]:9464`, `0.0.0.0:9464`: the address, or why it is
 * not one. A port alone listens on 127.0.0.1.
 */
export const parseHttpAddress = (text: string): HttpAddress | string => {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):)?(\d{1,5})$/.exec(text.trim())
  if (m === null) return `${JSON.stringify(text)} is not an address: use host:port or a port (e.g. 127.0.0.1:9464 or 9464)`
  const port = Number(m[2])
  if (port > 65535) return `${JSON.stringify(text)}: the port must be 0 to 65535`
  return { host: m[1] === undefined ? defaultHost : m[1].replace(/^\[(.*)\]$/, "$1"), port }
}

/** The server cannot listen: a bad address, a non-loopback host not allowed, the port in use. */
export class HttpServeError extends Data.TaggedError("HttpServeError")<{ readonly message: string }> {}

/**
 * `serveHttp`'s options: each name checked, as every options object of the API is (a misspelt
 * `allowRemote` would otherwise be ignored). The port's range, and whether the host may be
 * listened on, are `serveHttp`'s to say.
 */
export const serveSpec = spec("serveHttp", {
  host: string({ doc: "The host (a name or an IP address) to listen on; 127.0.0.1 by default." }),
  port: custom<unknown>("integer from 0 to 65535", { doc: "The port; 0 picks a free one; 9464 by default." }, (v) => v),
  allowRemote: boolean({ doc: "Allow a host that is not a loopback address." })
})

/** What is wrong with options given to `serveHttp` (or a call taking more, by `s`): an `HttpServeError` naming it, or undefined. */
export const serveOptionsProblem = (options: unknown, s: OptionsSpec<Readonly<Record<string, Option<unknown>>>> = serveSpec): HttpServeError | undefined => {
  const checked = check(s, options)
  return checked.ok ? undefined : new HttpServeError({ message: `serveHttp: ${problemText(checked.problem)}` })
}
