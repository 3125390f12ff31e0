/**
 * The `sib` binary, spawned as a subprocess on temporary databases: each command's output, its
 * `--json` shape, exit codes, bad input (one line, exit 2, nothing written), and `sib run`
 * stopping on SIGTERM mid-stream without loss or redelivery.
 */
import { afterEach, describe, expect, it } from "vitest"
import SqliteDatabase from "better-sqlite3"
import { spawn } from "node:child_process"
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, sib, sibBin, startSib } from "../helpers/sib.ts"

afterEach(killStarted)

const examples = join(import.meta.dirname, "..", "..", "dsl-examples")
const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

/** A fresh directory with the given files; sib runs there with ./sib.db. */
const workdir = (files: Record<string, string> = {}) => {
  const dir = makeTmpDir()
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

const failing = `
(define-topic "orders")
(defn bill [e ctx]
  (if (= e.payload.id 2) (+ 1 nil) (publish! "invoices" {:order e.payload.id})))
(subscribe! "orders" "billing" bill :from "earliest" :maxAttempts 2 :backoff {:initialMs 1 :maxMs 1})
`

describe("sib: usage and bad input", () => {
  it("--help and --version print to stdout and exit 0", async () => {
    const dir = workdir()
    const help = await sib(["--help"], { cwd: dir })
    expect(help.code).toBe(0)
    for (const command of ["run", "check", "test", "publish", "tail", "event", "topics", "groups", "dlq", "replay", "compact", "prune"]) expect(help.stdout).toMatch(new RegExp(`\\n  ${command} `))
    const version = await sib(["--version"], { cwd: dir })
    expect(version.code).toBe(0)
    expect(version.stdout).toContain(JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8")).version)
  })

  it.each([
    [["chek", "x.sib"], /^sib: Unknown subcommand "chek" for "sib" \(did you mean check\?\); see sib --help$/],
    [["check", "a.sib", "--formt", "json"], /^sib: Unrecognized flag: --formt in command sib check \(did you mean --format\?\); see sib check --help$/],
    [["publish"], /^sib: Missing required argument: topic/],
    [["check", "missing.sib"], /^sib: missing.sib: no such file$/],
    [["run", "missing.sib"], /^sib: missing.sib: no such file$/],
    [["tail", "orders"], /^sib: no database at \.\/sib\.db: pass --db/],
    [["topics", "--db", "postgres://127.0.0.1:1/test"], /^sib: cannot open database postgres:\/\/127\.0\.0\.1:1\/test: connect ECONNREFUSED/],
    [["publish", "orders", "{not json"], /^sib: the payload is not JSON/],
    [["tail", "orders", "--from", "yesterday", "--db", "x.db"], /^sib: --from yesterday is not earliest, latest/],
    [["run", "a.sib", "--drain-timeout", "soon"], /^sib: --drain-timeout soon is not a duration/]
  ])("sib %j: one line on stderr, exit 2, nothing written", async (args, message) => {
    const dir = workdir({ "a.sib": "(def x 1)\n" })
    const r = await sib(args, { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
    expect(r.stderr.trim()).toMatch(message)
    expect(existsSync(join(dir, "sib.db"))).toBe(false)
    expect(existsSync(join(dir, "x.db"))).toBe(false)
  })

  it("a database failing mid-command is one line saying what could not be done and why, never the store's internals", async () => {
    const dir = workdir({ "one.jsonl": `{"n":1}\n` })
    expect((await sib(["publish", "orders", "{}"], { cwd: dir })).code).toBe(0)
    const db = new SqliteDatabase(join(dir, "sib.db"))
    db.exec(`create trigger full before insert on events begin select raise(abort, 'database or disk is full'); end`)
    db.close()
    for (const args of [["publish", "orders", "{}"], ["publish", "orders", "--file", "one.jsonl"]]) {
      const r = await sib(args, { cwd: dir })
      expect(r.code).toBe(1)
      expect(r.stdout).toBe("")
      expect(r.stderr).toBe("sib: could not write to the database ./sib.db: database or disk is full\n")
    }
    const broken = new SqliteDatabase(join(dir, "sib.db"))
    broken.exec(`alter table events rename column payload to body`)
    broken.close()
    const tail = await sib(["tail", "orders"], { cwd: dir })
    expect(tail.code).toBe(1)
    expect(tail.stderr).toMatch(/^sib: could not read the database \.\/sib\.db: no such column: .*payload.*\n$/)
  })

  it("an unreadable database and one written by a newer sibus are refused with exit 2 and left untouched", async () => {
    const dir = workdir({ "notes.db": "these are notes, not a database\n" })
    const r = await sib(["--db", "notes.db", "topics"], { cwd: dir })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toMatch(/^sib: cannot open database notes.db: /)
    expect(readFileSync(join(dir, "notes.db"), "utf8")).toBe("these are notes, not a database\n")

    expect((await sib(["publish", "orders", "{}"], { cwd: dir })).code).toBe(0)
    const db = new SqliteDatabase(join(dir, "sib.db"))
    db.prepare(`insert into kysely_migration (name, timestamp) values ('9999_future', '2030-01-01')`).run()
    db.close()
    const before = readFileSync(join(dir, "sib.db"))
    const newer = await sib(["publish", "orders", "{}"], { cwd: dir })
    expect(newer.code).toBe(2)
    expect(newer.stderr.trim()).toMatch(/^sib: database \.\/sib\.db was written by a newer version of sibus .*upgrade sibus/)
    expect(readFileSync(join(dir, "sib.db")).equals(before)).toBe(true)
  })
})

describe("sib check and sib test", () => {
  it("check: clean files exit 0; errors are rendered with locations and exit 1; --format json is one object per line", async () => {
    const dir = workdir({
      "bad.sib": `(defn on-order [e ctx] nil)\n(subscribe! "orders" "billing" on-ordr :batchsize 10)\n`
    })
    const ok = await sib(["check", join(examples, "main.sib")], { cwd: dir })
    expect(ok.code).toBe(0)
    expect(ok.stderr).toMatch(/^ok: 5 file\(s\), 3 topic\(s\), 2 group\(s\), 2 timer\(s\), 6 test\(s\)/)
    const bad = await sib(["check", "bad.sib"], { cwd: dir })
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("bad.sib:2:32: Compile error: unknown symbol on-ordr")
    expect(bad.stderr).toContain("* did you mean on-order?")
    expect(bad.stderr).toContain("bad.sib:2:40: Compile error: subscribe!: unknown option :batchsize")
    const json = await sib(["check", "bad.sib", "--format", "json"], { cwd: dir })
    expect(json.code).toBe(1)
    const diagnostics = jsonLines(json.stdout)
    expect(diagnostics.map((d) => Object.keys(d).sort())).toEqual(Array(2).fill(["code", "column", "endColumn", "endLine", "file", "hints", "line", "message", "severity"]))
    expect(diagnostics[0]).toMatchObject({ file: "bad.sib", line: 2, column: 32, severity: "error", code: "compile/unknown-symbol", hints: ["did you mean on-order?"] })
    expect(existsSync(join(dir, "sib.db"))).toBe(false)
  })

  it("test: a line per test and N passed, N failed; exit 1 on a failure", async () => {
    const dir = workdir({ "t.sib": `(deftest "adds" (expect= 4 (+ 2 2)))\n(deftest "off by one" (expect= 5 (+ 2 2)))\n` })
    const good = await sib(["test", join(examples, "main.sib")], { cwd: dir })
    expect(good.code).toBe(0)
    expect(good.stdout.trim().split("\n").at(-1)).toBe("6 passed, 0 failed")
    const bad = await sib(["test", "t.sib"], { cwd: dir })
    expect(bad.code).toBe(1)
    expect(bad.stdout).toMatch(/^ok {3}adds \(t\.sib:1\)$/m)
    expect(bad.stdout).toMatch(/^FAIL off by one \(t\.sib:2\)$/m)
    expect(bad.stdout).toContain("t.sib:2:23: Assertion failed: (expect= 5 (+ 2 2))")
    expect(bad.stdout.trim().split("\n").at(-1)).toBe("1 passed, 1 failed")
  })
})

describe("sib publish, tail, topics, groups, dlq, replay", () => {
  it("publish prints the stored record; stdin and JSON-lines files work; a bad line writes nothing", async () => {
    const dir = workdir({
      "good.jsonl": `{"id":1}\n\n{"id":2}\n{"id":3}\n`,
      "bad.jsonl": `{"id":4}\n{"id":5}\n{"id":6,}\n`
    })
    const one = await sib(["publish", "orders", `{"id":0}`, "--key", "c-1", "--header", "source=cli", "--header", "trace=abc"], { cwd: dir })
    expect(one.code).toBe(0)
    const [record] = jsonLines(one.stdout)
    expect(record).toMatchObject({ seq: 1, topic: "orders", key: "c-1", headers: { source: "cli", trace: "abc" }, payload: { id: 0 } })
    expect(Object.keys(record!).sort()).toEqual(["headers", "id", "key", "payload", "seq", "sid", "topic", "ts"])
    const piped = await sib(["publish", "orders"], { cwd: dir, input: `{"id":"stdin"}` })
    expect(jsonLines(piped.stdout)[0]).toMatchObject({ seq: 2, payload: { id: "stdin" } })
    const file = await sib(["publish", "orders", "--file", "good.jsonl"], { cwd: dir })
    expect(file.code).toBe(0)
    expect(jsonLines(file.stdout).map((e) => e["payload"])).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }])
    const bad = await sib(["publish", "orders", "--file", "bad.jsonl"], { cwd: dir })
    expect(bad.code).toBe(2)
    expect(bad.stderr.trim()).toMatch(/^sib: bad\.jsonl:3: the line is not JSON/)
    const all = await sib(["tail", "orders", "--from", "earliest", "--json"], { cwd: dir })
    expect(jsonLines(all.stdout).map((e) => e["seq"])).toEqual([1, 2, 3, 4, 5])
  })

  it("tail: the last 10 by default, --from, --limit, human and JSON lines; --follow until interrupted", async () => {
    const dir = workdir({ "many.jsonl": Array.from({ length: 25 }, (_, i) => JSON.stringify({ n: i + 1 })).join("\n") })
    await sib(["publish", "counts", "--file", "many.jsonl"], { cwd: dir })
    const last = await sib(["tail", "counts"], { cwd: dir })
    const lines = last.stdout.trim().split("\n")
    expect(lines).toHaveLength(10)
    expect(lines[0]).toMatch(/^#16 \d{4}-\d\d-\d\dT[\d:.]+Z \{"n":16\}$/)
    const from = await sib(["tail", "counts", "--from", "seq:20", "--limit", "3", "--json"], { cwd: dir })
    expect(jsonLines(from.stdout).map((e) => (e["payload"] as { n: number }).n)).toEqual([20, 21, 22])
    const latest = await sib(["tail", "counts", "--from", "latest"], { cwd: dir })
    expect(latest.stdout).toBe("")

    const follow = startSib(["tail", "counts", "-f", "-n", "1", "--json"], { cwd: dir })
    await follow.waitFor(/"n":25/, "stdout")
    await sib(["publish", "counts", `{"n":26}`], { cwd: dir })
    await follow.waitFor(/"n":26/, "stdout")
    follow.child.kill("SIGINT")
    expect(await follow.exited).toBe(0)
    expect(jsonLines(follow.stdout()).map((e) => (e["payload"] as { n: number }).n)).toEqual([25, 26])
  })

  it("--wizard without a terminal says it needs one and exits 2 (it said it was cancelled and exited 0)", async () => {
    const r = await sib(["--wizard"], { cwd: workdir({}) })
    expect([r.code, r.stderr.trim()]).toEqual([2, "sib: --wizard asks its questions on a terminal, and stdin is not one"])
  })

  it("tail: an unknown topic is an error with did-you-mean, with -f too; a defined topic without events is not", async () => {
    const dir = workdir({ "quiet.sib": `(define-topic "quiet.topic")\n` })
    await sib(["publish", "orders", `{"n":1}`], { cwd: dir })
    for (const args of [["tail", "ordres"], ["tail", "ordres", "-f"], ["tail", "ordres", "--from", "earliest", "--json"]]) {
      const r = await sib(args, { cwd: dir })
      expect(r.code).toBe(1)
      expect(r.stdout).toBe("")
      expect(r.stderr.trim()).toBe("sib: no topic ordres (did you mean orders?): a topic exists once it has events or a program defined it; see sib topics")
    }
    expect((await sib(["tail", "zzz"], { cwd: dir })).stderr.trim()).toMatch(/^sib: no topic zzz: a topic exists once/)
    // A program that defines a topic stores its settings: the topic exists before its first event.
    const run = startSib(["run", "quiet.sib", "--status", "off"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
    const quiet = await sib(["tail", "quiet.topic"], { cwd: dir })
    expect(quiet).toMatchObject({ code: 0, stdout: "", stderr: "" })
  }, 30_000)

  it("tail --from: id:X starts with X as seq:N starts with N; an id of another topic or of no event is refused", async () => {
    const dir = workdir({ "many.jsonl": Array.from({ length: 5 }, (_, i) => JSON.stringify({ n: i + 1 })).join("\n") })
    await sib(["publish", "counts", "--file", "many.jsonl"], { cwd: dir })
    const other = jsonLines((await sib(["publish", "other", `{"x":1}`], { cwd: dir })).stdout)[0]!
    const events = jsonLines((await sib(["tail", "counts", "--json"], { cwd: dir })).stdout)
    const third = events[2]!
    const n = (r: { stdout: string }) => jsonLines(r.stdout).map((e) => (e["payload"] as { n: number }).n)
    expect(n(await sib(["tail", "counts", "--from", `id:${third["id"]}`, "--json"], { cwd: dir }))).toEqual([3, 4, 5])
    expect(n(await sib(["tail", "counts", "--from", `seq:${third["seq"]}`, "--json"], { cwd: dir }))).toEqual([3, 4, 5])
    expect(n(await sib(["tail", "counts", "--from", `id:${third["id"]}`, "-n", "1", "--json"], { cwd: dir }))).toEqual([3])
    expect(n(await sib(["tail", "counts", "--from", `afterId:${third["id"]}`, "--json"], { cwd: dir }))).toEqual([4, 5])

    const elsewhere = await sib(["tail", "counts", "--from", `id:${other["id"]}`], { cwd: dir })
    expect(elsewhere.code).toBe(2)
    expect(elsewhere.stderr.trim()).toBe(`sib: --from id:${other["id"]}: that event is on topic other, not counts (--from seq:${other["seq"]} starts counts at that point)`)
    const missing = await sib(["tail", "counts", "--from", "id:nope"], { cwd: dir })
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim()).toBe("sib: --from id:nope: no event has the id nope")
  })

  it("topics, groups and dlq describe a database a program ran on; requeue, drop and replay repair it", async () => {
    const dir = workdir({ "billing.sib": failing })
    const run = startSib(["run", "billing.sib", "--status", "off"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    for (const id of [1, 2, 3]) await sib(["publish", "orders", JSON.stringify({ id }), "--key", `o-${id}`], { cwd: dir })
    const waitDead = async () => {
      for (let i = 0; i < 200; i++) {
        if (jsonLines((await sib(["dlq", "--json"], { cwd: dir })).stdout).length === 1) return
        await new Promise((r) => setTimeout(r, 50))
      }
      throw new Error("no dead letter")
    }
    await waitDead()

    const refused = await sib(["replay", "--group", "billing", "--topic", "orders", "--from", "earliest"], { cwd: dir })
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim()).toMatch(/^sib: group "billing": it is being consumed by process \d+ on .*; stop that consumer before moving its cursor$/)

    // Seqs are global: invoices take seqs between the orders.
    const orders = jsonLines((await sib(["tail", "orders", "--json"], { cwd: dir })).stdout).map((e) => e["seq"] as number)
    expect(orders).toHaveLength(3)
    const groups = jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)
    expect(groups).toHaveLength(1)
    expect(Object.keys(groups[0]!).sort()).toEqual(["cursor", "deadLetters", "group", "headSeq", "inFlight", "lag", "lagMs", "lastActiveAt", "leaseExpiresAt", "owner", "partition", "redelivered", "retrying", "skipped", "topic"])
    expect(groups[0]).toMatchObject({ group: "billing", topic: "orders", cursor: orders[2], headSeq: orders[2], lag: 0, lagMs: 0, deadLetters: 1, owner: { pid: run.child.pid } })
    expect(groups[0]!["lastActiveAt"]).toBeGreaterThan(Date.now() - 60_000)

    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)

    const topics = jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout)
    expect(topics.map((t) => [t["topic"], t["events"]])).toEqual([["invoices", 2], ["orders", 3]])
    expect(Object.keys(topics[0]!).sort()).toEqual(["compaction", "description", "events", "firstSeq", "keyField", "lastPublishedAt", "lastSeq", "retention", "schema", "topic"])
    const human = await sib(["groups"], { cwd: dir })
    expect(human.stdout.split("\n")[0]).toMatch(/^GROUP +TOPIC +CURSOR +HEAD +LAG +LAG AGE +IN FLIGHT +RETRYING +REDELIVERED +DEAD +SKIPPED +ACTIVE +CONSUMER$/)
    expect(human.stdout).toMatch(new RegExp(`billing +orders +${orders[2]} +${orders[2]} +0 +0s +0 +0 +\\d+ +1 +0 +\\d+(ms|s) ago +-`))

    const [dead] = jsonLines((await sib(["dlq", "--group", "billing", "--json"], { cwd: dir })).stdout)
    expect(dead).toMatchObject({ group: "billing", topic: "orders", seq: orders[1], key: "o-2", attempts: 2 })
    expect(String(dead!["errorMessage"])).toMatch(/billing\.sib:4:\d+: /)
    expect((await sib(["dlq", "requeue", String(dead!["eventId"]), "--group", "billing", "--json"], { cwd: dir })).stdout.trim()).toBe(`{"group":"billing","requeued":1}`)
    expect((await sib(["dlq", "--json"], { cwd: dir })).stdout).toBe("")
    const noSuch = await sib(["dlq", "drop", "nope", "--group", "billing"], { cwd: dir })
    expect(noSuch.code).toBe(1)
    expect(noSuch.stderr.trim()).toBe("sib: group billing has no dead letter for event nope")

    const replay = await sib(["replay", "--group", "billing", "--topic", "orders", "--from", `seq:${orders[1]}`, "--json"], { cwd: dir })
    expect(replay.code).toBe(0)
    expect(JSON.parse(replay.stdout)).toEqual({ group: "billing", topic: "orders", from: orders[2], to: orders[1]! - 1 })
  })
})

describe("sib dlq requeue, dlq drop and replay: a sentence, or the JSON contract with --json", () => {
  it("each prints one line for people, and the documented object with --json", async () => {
    const dir = workdir({ "fail.sib": `(defn h [e ctx] (+ 1 nil))\n(subscribe! "orders" "g" h :from "earliest" :maxAttempts 1)\n` })
    for (const n of [1, 2, 3]) await sib(["publish", "orders", JSON.stringify({ n })], { cwd: dir })
    const run = startSib(["run", "fail.sib", "--status", "off"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    let dead: Array<Record<string, unknown>> = []
    for (let i = 0; i < 200 && dead.length < 3; i++) {
      dead = jsonLines((await sib(["dlq", "--json"], { cwd: dir })).stdout)
      if (dead.length < 3) await new Promise((r) => setTimeout(r, 50))
    }
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
    const [a, b, c] = dead.map((d) => String(d["eventId"]))
    const line = async (...args: Array<string>) => {
      const r = await sib(args, { cwd: dir })
      expect(r.stderr).toBe("")
      expect(r.code).toBe(0)
      return r.stdout
    }

    expect(JSON.parse(await line("dlq", "drop", a!, "--group", "g", "--json"))).toEqual({ group: "g", dropped: a })
    expect(await line("dlq", "drop", b!, "--group", "g")).toBe(`dropped the dead letter of event ${b} in group g\n`)
    expect(await line("dlq", "requeue", c!, "--group", "g")).toBe("requeued 1 dead letter of group g: delivered again with fresh attempts\n")
    expect(JSON.parse(await line("dlq", "requeue", "--all", "--group", "g", "--json"))).toEqual({ group: "g", requeued: 0 })
    expect(await line("dlq", "requeue", "--all", "--group", "g")).toBe("group g has no dead letters; nothing requeued\n")

    expect(await line("replay", "--group", "g", "--topic", "orders", "--from", "earliest")).toBe("group g on orders: cursor moved back from 3 to 0: 3 events will be delivered again\n")
    expect(JSON.parse(await line("replay", "--group", "g", "--topic", "orders", "--from", "latest", "--json"))).toEqual({ group: "g", topic: "orders", from: 0, to: 3 })
    expect(await line("replay", "--group", "g", "--topic", "orders", "--from", "latest")).toBe("group g on orders: cursor stays at 3\n")
    expect(await line("replay", "--group", "g", "--topic", "orders", "--from", "seq:3")).toBe("group g on orders: cursor moved back from 3 to 2: 1 event will be delivered again\n")
    expect(await line("replay", "--group", "g", "--topic", "orders", "--from", "latest")).toBe("group g on orders: cursor moved forward from 2 to 3: 1 event skipped\n")
  }, 30_000)

  it("topics --json: a defined topic without events has its seqs, publish time and unset settings as null", async () => {
    const dir = workdir({ "quiet.sib": `(define-topic "quiet")\n` })
    const run = startSib(["run", "quiet.sib", "--status", "off"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
    expect(jsonLines((await sib(["topics", "--json"], { cwd: dir })).stdout)).toEqual([{
      topic: "quiet", events: 0, firstSeq: null, lastSeq: null, lastPublishedAt: null, retention: null, compaction: false, keyField: null, description: null, schema: null
    }])
  }, 30_000)
})

describe("sib replay", () => {
  /** A directory whose ./sib.db has group g's cursor on orders after `events` events (a program ran and stopped). */
  const consumed = async (events: number) => {
    const dir = workdir({ "g.sib": `(defn h [e ctx] nil)\n(subscribe! "orders" "g" h :from "earliest")\n` })
    for (let i = 1; i <= events; i++) await sib(["publish", "orders", JSON.stringify({ n: i })], { cwd: dir })
    const run = startSib(["run", "g.sib", "--status", "off"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    for (let i = 0; i < 200; i++) {
      if (jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)[0]?.["cursor"] === events) break
      await new Promise((r) => setTimeout(r, 25))
    }
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
    return dir
  }

  it("--from seq:N past the topic's last event places the cursor at it, says so, and the next event is delivered", async () => {
    const dir = await consumed(3)
    const r = await sib(["replay", "--group", "g", "--topic", "orders", "--from", "seq:1000", "--json"], { cwd: dir })
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ group: "g", topic: "orders", from: 3, to: 3 })
    expect(r.stderr.trim()).toBe("sib: --from seq:1000 is past the end (the last event of orders is seq 3): starting with the next event published")
    await sib(["publish", "orders", `{"n":4}`], { cwd: dir })
    expect(jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)[0]).toMatchObject({ cursor: 3, headSeq: 4, lag: 1 })
  }, 30_000)

  it("--from id:X starts the group with X, as seq:N starts it with N; an id of another topic is refused", async () => {
    const dir = await consumed(3)
    const [second] = jsonLines((await sib(["tail", "orders", "--from", "seq:2", "-n", "1", "--json"], { cwd: dir })).stdout)
    const byId = await sib(["replay", "--group", "g", "--topic", "orders", "--from", `id:${second!["id"]}`, "--json"], { cwd: dir })
    expect(byId.code).toBe(0)
    expect(JSON.parse(byId.stdout)).toEqual({ group: "g", topic: "orders", from: 3, to: 1 })
    const other = jsonLines((await sib(["publish", "other", "{}"], { cwd: dir })).stdout)[0]!
    const refused = await sib(["replay", "--group", "g", "--topic", "orders", "--from", `id:${other["id"]}`], { cwd: dir })
    expect(refused.code).toBe(2)
    expect(refused.stderr.trim()).toMatch(/^sib: --from id:\S+: that event is on topic other, not orders/)
    expect(jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)[0]).toMatchObject({ cursor: 1 })
  }, 30_000)
})

describe("sib run", () => {
  it("SIGTERM mid-stream: in-flight handlers finish, cursors are committed, a restart continues without loss or redelivery", async () => {
    const dir = workdir({
      "slow.sib": `
(define-topic "jobs")
(defn work [e ctx]
  (let [n (reduce + 0 (range 200000))]
    (publish! "done" {:job e.payload.n :sum n} :key (str e.payload.n))))
(subscribe! "jobs" "workers" work :from "earliest" :maxInFlight 4)
`,
      "jobs.jsonl": Array.from({ length: 200 }, (_, i) => JSON.stringify({ n: i + 1 })).join("\n")
    })
    expect((await sib(["publish", "jobs", "--file", "jobs.jsonl"], { cwd: dir })).code).toBe(0)
    const doneCount = async () => jsonLines((await sib(["tail", "done", "--from", "earliest", "--json"], { cwd: dir })).stdout)
    /** Read directly (a subprocess per poll is too slow to catch the run mid-stream). */
    const doneNow = () => {
      if (!existsSync(join(dir, "sib.db"))) return 0
      const db = new SqliteDatabase(join(dir, "sib.db"), { readonly: true })
      try {
        return (db.prepare(`select count(*) as n from events where topic = 'done'`).get() as { n: number }).n
      } finally {
        db.close()
      }
    }

    const first = startSib(["run", "slow.sib", "--status", "off"], { cwd: dir })
    await first.waitFor(/Ctrl-C stops/)
    for (let i = 0; i < 2000 && doneNow() < 20; i++) await new Promise((r) => setTimeout(r, 5))
    first.child.kill("SIGTERM")
    expect(await first.exited).toBe(0)
    const afterStop = await doneCount()
    expect(afterStop.length).toBeGreaterThanOrEqual(20)
    expect(afterStop.length).toBeLessThan(200)
    const [group] = jsonLines((await sib(["groups", "--json"], { cwd: dir })).stdout)
    // Every event the group finished is behind its committed cursor: nothing done is ahead of it.
    expect(group).toMatchObject({ group: "workers", inFlight: 0, owner: null })
    expect(group!["lag"]).toBe(200 - afterStop.length)

    const second = startSib(["run", "slow.sib", "--status", "off"], { cwd: dir })
    await second.waitFor(/Ctrl-C stops/)
    for (let i = 0; i < 3000 && doneNow() < 200; i++) await new Promise((r) => setTimeout(r, 10))
    second.child.kill("SIGINT")
    expect(await second.exited).toBe(0)
    const done = await doneCount()
    const jobs = done.map((e) => (e["payload"] as { job: number }).job).sort((a, b) => a - b)
    expect(jobs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
  }, 60_000)

  it("a second signal exits at once with a non-zero code", async () => {
    const dir = workdir({
      "busy.sib": `
(defn work [e ctx] (log "working on" e.payload.n) (sleep! "20s"))
(subscribe! "jobs" "workers" work :from "earliest" :maxInFlight 1)
`,
      "jobs.jsonl": Array.from({ length: 50 }, (_, i) => JSON.stringify({ n: i })).join("\n")
    })
    await sib(["publish", "jobs", "--file", "jobs.jsonl"], { cwd: dir })
    const run = startSib(["run", "busy.sib", "--status", "off", "--drain-timeout", "30s"], { cwd: dir })
    // A handler is running (sleeping 20 s): the first signal waits for it to finish.
    await run.waitFor(/working on 0/)
    run.child.kill("SIGINT")
    await run.waitFor(/sib: stopping: draining/)
    await new Promise((r) => setTimeout(r, 200))
    expect(run.child.exitCode).toBe(null)
    run.child.kill("SIGINT")
    expect(await run.exited).toBe(130)
    expect(run.stderr()).toContain("sib: second signal, exiting now")
  }, 30_000)

  it("SIGHUP reloads: a broken program keeps the running one and reports every error; a fixed one takes over", async () => {
    const v1 = `(defn greet [e ctx] (publish! "greetings" {:text (str "hello " e.payload.name)}))\n(subscribe! "names" "greeter" greet :from "earliest")\n`
    const dir = workdir({ "greeter.sib": v1 })
    const run = startSib(["run", "greeter.sib", "--status", "off"], { cwd: dir })
    await run.waitFor(/Ctrl-C stops/)
    const greetings = async () => jsonLines((await sib(["tail", "greetings", "--from", "earliest", "--json"], { cwd: dir })).stdout).map((e) => (e["payload"] as { text: string }).text)
    const waitGreetings = async (n: number) => {
      for (let i = 0; i < 400 && (await greetings()).length < n; i++) await new Promise((r) => setTimeout(r, 25))
    }
    await sib(["publish", "names", `{"name":"ada"}`], { cwd: dir })
    await waitGreetings(1)

    writeFileSync(join(dir, "greeter.sib"), v1.replace("(str \"hello \"", "(strr \"hello \"").replace(":from", ":form"))
    run.child.kill("SIGHUP")
    await run.waitFor(/reload failed; the running program is unchanged/)
    expect(run.stderr()).toMatch(/greeter\.sib:1:\d+: Compile error: unknown symbol strr/)
    expect(run.stderr()).toContain("unknown option :form")
    await sib(["publish", "names", `{"name":"grace"}`], { cwd: dir })
    await waitGreetings(2)

    writeFileSync(join(dir, "greeter.sib"), v1.replace("hello ", "welcome "))
    run.child.kill("SIGHUP")
    await run.waitFor(/reloaded: /)
    await sib(["publish", "names", `{"name":"linus"}`], { cwd: dir })
    await waitGreetings(3)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
    expect(await greetings()).toEqual(["hello ada", "hello grace", "welcome linus"])
  }, 60_000)

  it("--watch reloads on a save, an atomic save (write then rename) and a file deleted then written again", async () => {
    const version = (n: number) => `(every! "50ms" (fn [] (log "tick v${n}")))\n`
    const dir = workdir({ "app.sib": version(1) })
    const run = startSib(["run", "app.sib", "--watch", "--status", "off"], { cwd: dir })
    await run.waitFor(/tick v1/)
    writeFileSync(join(dir, "app.sib"), version(2))
    await run.waitFor(/tick v2/, "stderr", 10_000)
    writeFileSync(join(dir, "app.tmp"), version(3))
    renameSync(join(dir, "app.tmp"), join(dir, "app.sib"))
    await run.waitFor(/tick v3/, "stderr", 10_000)
    rmSync(join(dir, "app.sib"))
    await run.waitFor(/reload failed; the running program is unchanged/, "stderr", 10_000)
    await new Promise((r) => setTimeout(r, 500))
    writeFileSync(join(dir, "app.sib"), version(4))
    await run.waitFor(/tick v4/, "stderr", 10_000)
    run.child.kill("SIGTERM")
    expect(await run.exited).toBe(0)
  }, 60_000)

  it("npm start runs the example program: events flow, Ctrl-C exits 0, a restart continues from the stored cursors", async () => {
    const dir = makeTmpDir()
    const db = join(dir, "start.db")
    // `npm start` itself (npm forwards Ctrl-C to sib and exits with its code); off a terminal the
    // status comes as lines.
    const start = () => startSib(["start", "--silent"], { cwd: join(import.meta.dirname, "..", ".."), env: { SIB_DB: db }, command: ["npm"] })
    const first = start()
    await first.waitFor(/published [1-9]\d*  handled [1-9]/)
    first.interrupt()
    // npm re-raises the signal on itself once sib has exited (sib itself exits 0 after the drain).
    const firstExit = await first.exited
    expect(firstExit === 0 || first.child.signalCode === "SIGINT").toBe(true)
    expect(first.stderr()).toContain("sib: stopping: draining in-flight handlers")
    expect(first.stderr()).not.toMatch(/sib: (?!stopping|running)/)
    const cursor = jsonLines((await sib(["groups", "--json"], { cwd: dir, env: { SIB_DB: db } })).stdout).find((g) => g["group"] === "projector")!["cursor"] as number
    expect(cursor).toBeGreaterThan(0)
    const second = start()
    await second.waitFor(/published [1-9]\d*  handled [1-9]/)
    second.interrupt()
    const secondExit = await second.exited
    expect(secondExit === 0 || second.child.signalCode === "SIGINT").toBe(true)
    // The projector continued: beats per process kept counting across the restart.
    const states = jsonLines((await sib(["tail", "process.state", "--from", "earliest", "--json"], { cwd: dir, env: { SIB_DB: db } })).stdout)
    const stt = states.filter((e) => e["key"] === "101").map((e) => (e["payload"] as { beats: number }).beats)
    expect(stt).toEqual(Array.from({ length: stt.length }, (_, i) => i + 1))
    expect(stt.length).toBeGreaterThanOrEqual(2)
  }, 60_000)
})

describe("commands stopped by a signal", () => {
  it("a command that did not finish exits 143 on SIGTERM (only run and tail -f end normally on a signal)", async () => {
    const dir = makeTmpDir()
    // A publish reading its payload from a stdin that stays open: it waits there until the signal.
    const child = spawn(process.execPath, [sibBin, "publish", "t", "--db", join(dir, "x.db")], { cwd: dir, stdio: ["pipe", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
    await new Promise((resolve) => setTimeout(resolve, 1500))
    child.kill("SIGTERM")
    expect(await exited).toBe(143)
    // Said in words too, not only by the exit code.
    expect(stderr).toContain("sib: stopped by SIGTERM before the command finished")
  })
})
