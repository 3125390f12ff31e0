/**
 * A database URL is shown without its secrets: the password in the user part and in a
 * `password`/`sslpassword` parameter (pg takes both), in the store's own messages and in the CLI's.
 */
import { describe, expect, it } from "vitest"
import { redactLocation } from "../../src/store/open.ts"
import { parseLocation } from "../../src/store/postgres/location.ts"
import { makeTmpDir } from "../helpers/tmp.ts"
import { sib } from "../helpers/sib.ts"

describe("database URLs shown without their secrets", () => {
  it("redactLocation and the Postgres location hide the user part's password and every password parameter", () => {
    expect(redactLocation("postgres://app:S3cret@db/events")).toBe("postgres://app:***@db/events")
    expect(redactLocation("postgres://app@db/events?password=S3cret")).toBe("postgres://app@db/events?password=***")
    expect(redactLocation("postgresql://db/events?sslmode=require&PASSWORD=S3cret&sslpassword=k3y")).toBe("postgresql://db/events?sslmode=require&PASSWORD=***&sslpassword=***")
    expect(redactLocation("postgres://app:S3cret@[bad/events?password=S3cret")).not.toMatch(/S3cret/)
    expect(redactLocation("events.db")).toBe("events.db")
    const parsed = parseLocation("postgres://app:S3cret@db/events?password=S3cret&schema=app")
    expect(typeof parsed !== "string" && parsed.shown).toBe("postgres://app:***@db/events?password=***&schema=app")
  })

  it("sib's message for a server it cannot reach names the URL without the password", async () => {
    const r = await sib(["topics", "--db", "postgres://admin@127.0.0.1:1/x?password=S3cretPass"], { cwd: makeTmpDir() })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toMatch(/cannot open database postgres:\/\/admin@127\.0\.0\.1:1\/x\?password=\*\*\*/)
    expect(r.stderr + r.stdout).not.toMatch(/S3cretPass/)
  })
})

describe("Postgres schema names", () => {
  it("are refused where Postgres would refuse their channel (over 57 characters) or they are its own", () => {
    const at = (schema: string) => parseLocation(`postgres://db/events?schema=${schema}`)
    expect(typeof at(`a${"x".repeat(56)}`)).toBe("object")
    expect(at(`a${"x".repeat(57)}`)).toMatch(/must be a lower-case identifier \(letters, digits, _\) of at most 57 characters/)
    expect(at("information_schema")).toMatch(/is one of Postgres's own/)
    expect(at("pg_catalog")).toMatch(/is one of Postgres's own/)
    expect(typeof at("app_1")).toBe("object")
  })
})
