/**
 * Hiding a database URL's secrets before it is shown (messages, logs, the status banner): the
 * password in the user part and every query parameter that carries one (`password`,
 * `sslpassword`: libpq's and pg's names), whatever their case.
 */

/** `url` with its password and password parameters replaced by `***`. */
export const redactUrl = (url: URL): URL => {
  const shown = new URL(url.toString())
  if (shown.password !== "") shown.password = "***"
  for (const name of [...shown.searchParams.keys()]) if (/password/i.test(name)) shown.searchParams.set(name, "***")
  return shown
}

/** The same for text that is not a valid URL: anything between `//` and `@`, and `...password=value`. */
export const redactText = (text: string): string =>
  text.replace(/\/\/[^@/]*@/, "//***@").replace(/(password=)[^&#]*/gi, "$1***")
