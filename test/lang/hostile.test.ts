/**
 * Hostile `.sib` programs (issue 9: a program can no longer hang or exhaust the process). Each
 * file in test/fixtures/hostile/ is one attack (its header says what it attacks and what is
 * asserted), run through the real `sib` binary. A handler-time attack must end within ATTACK_MS
 * (as a dead letter after 2 attempts, located, of a bounded kind; or, where the language can do
 * the work cheaply, handled), with the process's peak RSS under RSS_LIMIT_BYTES, the healthy timer
 * and group delivering (gaps under HEALTHY_GAP_MS), and SIGTERM mid-attack draining to exit 0
 * within STOP_MS. A load-time attack must end `sib check` / `sib test` / a reload with a located
 * error within LOAD_MS. Scenarios run CONCURRENCY at a time; one that misses a bound
 * fails at once (a stalled healthy group, a process past the memory ceiling is killed) and always
 * kills the processes it started.
 */
import { afterAll, describe, it, type TestContext } from "vitest"
import SqliteDatabase from "better-sqlite3"
import { cpSync, existsSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { makeTmpDir } from "../helpers/tmp.ts"
import { killStarted, type RunningSib, startSib } from "../helpers/sib.ts"
import { killGroup, MB, type MemoryWatch, semaphore, sleep, watchMemory, withDeadline } from "../helpers/proc.ts"

/** Peak resident memory (VmHWM) allowed to any sib process under attack; past it, it is killed. */
const RSS_LIMIT_BYTES = 600 * MB
/** From publishing one attack event to its end (a dead letter after both attempts, or handled). */
const ATTACK_MS = 15_000
/**
 * From publishing a backlog of legal heavy work (60 runs of ~60 ms on a fast machine, 150-200 ms
 * on a slow one) to its last event handled: a liveness bound, the fairness is in the gaps.
 */
const BACKLOG_MS = 45_000
/** Largest gap allowed between consecutive healthy.out events while an attack runs. */
const HEALTHY_GAP_MS = 2_000
/**
 * Largest gap allowed between healthy.out events while another group does legal but heavy work
 * (runs or filters of ~60 ms, no limit passed): runs take turns, so nothing justifies a pause near
 * maxBlockMs (seen: 0.3-0.4 s; before turns, 1.5 to 22 s).
 */
const LEGAL_WORK_GAP_MS = 1_200
/** From SIGTERM, with an attack in flight, to exit 0. */
const STOP_MS = 10_000
/** For `sib check` / `sib test` / a SIGHUP reload of a hostile file to end. */
const LOAD_MS = 15_000
/** Scenarios (each one to two sib processes) running at once: the machine has 2 cores. */
const CONCURRENCY = 2
/** vitest's backstop per scenario, waiting for a slot included; the bounds above fail first. */
const TEST_TIMEOUT_MS = 300_000

/**
 * What the error of a bounded attack says. The wording is the interpreter's to choose; it is
 * matched loosely, here only.
 */
const BOUNDED =
  /step budget|memory budget|allocated more than|hold more than|took more than|computed for more than|ran longer than|budget of forms|over the limit|would be over|too deeply|nest deeper|under the minimum|at most|must be an integer from|unknown option|refused|outside|not allowed|limit/i
/** What refusing a require that leaves the program's directory says. */
const REQUIRE_REFUSED = /outside|refused|not allowed|symlink|escape/i
/** What refusing a raw host function (at registerHost or at load) says. */
const HOST_REFUSED = /function inside a field|cannot be used|host value|not a function|refused|not allowed/i

const hostileDir = join(import.meta.dirname, "..", "fixtures", "hostile")
const hostFnChild = join(hostileDir, "host-fn-child.ts")
const slot = semaphore(CONCURRENCY)

afterAll(killStarted)

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
/** `file:line:col` of a fixture, as sib shows it when run from the scenario's directory. */
const located = (path: string) => new RegExp(`${escape(path)}:\\d+:\\d+`)
const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`
const tail = (text: string) => (text.length > 2_000 ? `...${text.slice(-2_000)}` : text)
const jsonLines = (text: string) => text.trim().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>)

interface Started {
  readonly sib: RunningSib
  readonly mem: MemoryWatch
  readonly what: string
}

interface AttackEvent {
  readonly id: string
  readonly seq: number
}

interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly peak: number
}

/**
 * One scenario's temporary directory (a copy of test/fixtures/hostile under ./hostile), the
 * processes it started and a read-only view of its database (./sib.db). `cleanup` kills them all.
 */
class Scenario {
  readonly dir = makeTmpDir()
  private readonly signal: AbortSignal
  private readonly started: Array<Started> = []
  private db: SqliteDatabase.Database | undefined

  constructor(signal: AbortSignal) {
    this.signal = signal
    cpSync(hostileDir, join(this.dir, "hostile"), { recursive: true })
  }

  start(args: ReadonlyArray<string>, what: string, options: { cwd?: string; command?: ReadonlyArray<string> } = {}): Started {
    const sib = startSib(args, { cwd: options.cwd ?? this.dir, ...(options.command === undefined ? {} : { command: options.command }) })
    const started = { sib, mem: watchMemory(sib.child.pid!, RSS_LIMIT_BYTES), what }
    this.started.push(started)
    return started
  }

  /** Runs a command to its end within `ms`. */
  async finish(args: ReadonlyArray<string>, ms: number, what: string, options: { cwd?: string; command?: ReadonlyArray<string> } = {}): Promise<Finished> {
    const p = this.start(args, what, options)
    let code: number | null
    try {
      code = await withDeadline(p.sib.exited, ms, what)
    } catch (e) {
      this.failIfOverMemory(p)
      throw new Error(`${(e as Error).message} (peak RSS ${mb(p.mem.peak())}); stderr:\n${tail(p.sib.stderr())}`)
    }
    this.failIfOverMemory(p)
    return { code, stdout: p.sib.stdout(), stderr: p.sib.stderr(), peak: p.mem.peak() }
  }

  private failIfOverMemory(p: Started) {
    if (p.mem.exceeded()) throw new Error(`${p.what}: peak RSS ${mb(p.mem.peak())} passed RSS_LIMIT_BYTES (${mb(RSS_LIMIT_BYTES)}); killed`)
  }

  /** Rows from ./sib.db, opened read-only once it exists ([] before). */
  query<T>(sql: string, ...params: Array<unknown>): Array<T> {
    if (this.db === undefined) {
      if (!existsSync(join(this.dir, "sib.db"))) return []
      this.db = new SqliteDatabase(join(this.dir, "sib.db"), { readonly: true, fileMustExist: true })
    }
    return this.db.prepare(sql).all(...params) as Array<T>
  }

  healthyTimes(from = 0): Array<number> {
    return this.query<{ ts: number }>(`select ts from events where topic = 'healthy.out' and ts >= ? order by seq`, from).map((r) => Number(r.ts))
  }

  lastHealthy(): number | undefined {
    const [row] = this.query<{ ts: number | null }>(`select max(ts) as ts from events where topic = 'healthy.out'`)
    return row?.ts === null || row === undefined ? undefined : Number(row.ts)
  }

  /** The largest gap between healthy.out events from `from` to the first one at or after `to`. */
  largestHealthyGap(from: number, to: number): number {
    const times = this.healthyTimes(from - HEALTHY_GAP_MS)
    const points = [from, ...times.filter((t) => t > from && t < to), times.find((t) => t >= to) ?? Date.now()]
    return Math.max(...points.slice(1).map((t, i) => t - points[i]!))
  }

  /** True once the attacker group's committed cursor is at or past `seq` (handled or dead-lettered). */
  attackerPassed(seq: number): boolean {
    const [cursor] = this.query<{ floor: number }>(`select floor from cursors where grp = 'attacker' and topic = 'attack'`)
    return cursor !== undefined && Number(cursor.floor) >= seq
  }

  deadLetter(eventId: string) {
    return this.query<{ attempts: number; error_message: string }>(`select attempts, error_message from dead_letters where grp = 'attacker' and event_id = ?`, eventId)[0]
  }

  /**
   * Polls `done` every 50 ms for up to `ms`. Fails at once when the process exits or passes the
   * memory ceiling, and (with `healthy`) when healthy.out has been silent for over HEALTHY_GAP_MS.
   */
  async until(run: Started, done: () => boolean, ms: number, what: string, healthy = false): Promise<void> {
    const deadline = Date.now() + ms
    for (;;) {
      if (done()) return
      this.failIfOverMemory(run)
      const { exitCode, signalCode } = run.sib.child
      if (exitCode !== null || signalCode !== null) throw new Error(`${what}: sib exited (${exitCode ?? signalCode}); stderr:\n${tail(run.sib.stderr())}`)
      const last = healthy ? this.lastHealthy() : undefined
      if (last !== undefined && Date.now() - last > HEALTHY_GAP_MS + 250) {
        throw new Error(`${what}: no healthy.out for ${Date.now() - last} ms (HEALTHY_GAP_MS ${HEALTHY_GAP_MS}): the timer or the healthy group stalled (peak RSS ${mb(run.mem.peak())})`)
      }
      if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (peak RSS ${mb(run.mem.peak())}); stderr:\n${tail(run.sib.stderr())}`)
      if (this.signal.aborted) throw new Error(`${what}: the test was aborted`)
      await sleep(50)
    }
  }

  /** `sib run hostile/<file>`, once it has started and healthy.out has flowed for a moment. */
  async startRun(file: string): Promise<Started> {
    const run = this.start(["run", `hostile/${file}`, "--status", "off", "--drain-timeout", "2s", "--db", "sib.db"], `sib run ${file}`)
    await this.until(run, () => /Ctrl-C stops/.test(run.sib.stderr()), LOAD_MS, `sib run ${file}: start`)
    await this.until(run, () => this.healthyTimes().length >= 3, LOAD_MS, `sib run ${file}: healthy.out flowing`)
    return run
  }

  /** Publishes events to "attack" with `sib publish --file`. */
  async publishAttack(payloads: ReadonlyArray<Record<string, unknown>>): Promise<Array<AttackEvent>> {
    writeFileSync(join(this.dir, "attacks.jsonl"), payloads.map((p) => JSON.stringify(p)).join("\n"))
    const r = await this.finish(["publish", "attack", "--file", "attacks.jsonl", "--db", "sib.db"], LOAD_MS, "sib publish attack")
    if (r.code !== 0) throw new Error(`sib publish attack exited ${r.code}: ${r.stderr}`)
    return jsonLines(r.stdout).map((e) => ({ id: String(e["id"]), seq: Number(e["seq"]) }))
  }

  /** (d): with attacks queued and one running, SIGTERM drains and exits 0 within STOP_MS. */
  async stopDuringAttack(run: Started, payload: Record<string, unknown>): Promise<number | null> {
    const begun = () => run.sib.stderr().split("attack begins").length - 1
    const before = begun()
    await this.publishAttack([payload, payload, payload])
    await this.until(run, () => begun() > before, ATTACK_MS, "SIGTERM: an attack running first", true)
    run.sib.interrupt("SIGTERM")
    return withDeadline(run.sib.exited, STOP_MS, "SIGTERM during an attack: exit").catch((e: Error) => {
      throw new Error(`${e.message}; stderr:\n${tail(run.sib.stderr())}`)
    })
  }

  cleanup() {
    for (const p of this.started) {
      p.mem.stop()
      if (p.sib.child.exitCode === null && p.sib.child.signalCode === null) killGroup(p.sib.child.pid)
    }
    this.db?.close()
    this.db = undefined
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 })
  }
}

/** A scenario in a free slot, cleaned up when it ends (passed, failed or timed out). */
const scenario = (body: (sc: Scenario, ctx: TestContext) => Promise<void>) => (ctx: TestContext) =>
  slot(async () => {
    const sc = new Scenario(ctx.signal)
    ctx.onTestFinished(() => sc.cleanup())
    try {
      await body(sc, ctx)
    } finally {
      sc.cleanup()
    }
  })

/**
 * One attack event's payload variant and what must come of it: a plain name must end as a dead
 * letter (2 attempts, located, of a bounded kind); [name, "ends"] may also be handled (equality and
 * set membership are linear in distinct nodes, a log line is cut: the bound is the time and
 * memory it takes, not the outcome).
 */
type Variant = string | readonly [string, "ends"]

/**
 * A handler-time attack: each variant published on its own must end within ATTACK_MS as its
 * Variant says (a), the peak RSS stays bounded (b), healthy.out keeps flowing (c), SIGTERM with an
 * attack in flight exits 0 (d).
 */
const handlerAttack = (file: string, variants: ReadonlyArray<Variant>, kind: RegExp = BOUNDED) =>
  scenario(async (sc, { expect }) => {
    const run = await sc.startRun(file)
    const from = Date.now()
    const ended: Array<{ variant: string; mustDie: boolean; id: string }> = []
    for (const v of variants) {
      const [variant, mustDie] = typeof v === "string" ? [v, true] : [v[0], false]
      const [event] = await sc.publishAttack([{ variant }])
      const done = () => sc.deadLetter(event!.id) !== undefined || sc.attackerPassed(event!.seq)
      await sc.until(run, done, ATTACK_MS, `${file} ${variant}: ${mustDie ? "a dead letter" : "handled or dead-lettered"}`, true)
      ended.push({ variant, mustDie, id: event!.id })
    }
    const to = Date.now()
    await sc.until(run, () => (sc.lastHealthy() ?? 0) >= to, HEALTHY_GAP_MS + 500, `${file}: healthy.out after the attack`, true)

    const dlq = jsonLines((await sc.finish(["dlq", "--json", "--db", "sib.db"], LOAD_MS, "sib dlq")).stdout)
    for (const { variant, mustDie, id } of ended) {
      const dead = dlq.find((d) => d["eventId"] === id)
      if (dead === undefined && !mustDie) continue
      expect(dead, `${variant}: a dead letter (the attack was handled without an error)`).toBeDefined()
      expect(dead, `${variant}: dead letter`).toMatchObject({ group: "attacker", topic: "attack", attempts: 2 })
      expect(String(dead!["errorMessage"]), `${variant}: located`).toMatch(located(`hostile/${file}`))
      expect(String(dead!["errorMessage"]), `${variant}: kind`).toMatch(kind)
    }
    expect(sc.largestHealthyGap(from, to), "largest healthy.out gap (ms)").toBeLessThan(HEALTHY_GAP_MS)
    const [first] = variants
    expect(await sc.stopDuringAttack(run, { variant: typeof first === "string" ? first : first![0] }), "exit code after SIGTERM").toBe(0)
    expect(run.mem.peak(), "peak RSS").toBeLessThan(RSS_LIMIT_BYTES)
  })

/** A load-time attack: `sib <command> hostile/<file>` fails within LOAD_MS with a located error. */
const loadAttack = (file: string, kind: RegExp = BOUNDED, command: "check" | "test" = "check") =>
  scenario(async (sc, { expect }) => {
    const r = await sc.finish([command, `hostile/${file}`], LOAD_MS, `sib ${command} ${file}`)
    expect(r.code, `exit code; stderr:\n${tail(r.stderr)}`).not.toBe(0)
    expect(r.code, "exit code (not a signal or crash)").toBe(1)
    expect(r.stderr + r.stdout).toMatch(located(`hostile/${file}`))
    expect(r.stderr + r.stdout).toMatch(kind)
    expect(r.peak, "peak RSS").toBeLessThan(RSS_LIMIT_BYTES)
  })

describe.concurrent("hostile .sib programs: attacks in handlers (sib run)", () => {
  it("control: a handler failing at once dead-letters with its location; healthy.out flows; SIGTERM exits 0", handlerAttack("control.sib", ["div"], /division by zero/), TEST_TIMEOUT_MS)
  it("dag-equality: = on shared structure ends (linear in distinct nodes, or charged)", handlerAttack("dag-equality.sib", [["=", "ends"], ["not=", "ends"], ["map-values", "ends"]]), TEST_TIMEOUT_MS)
  it("dag-print: str, format, json/stringify, join of shared structure dead-letter; log ends", handlerAttack("dag-print.sib", ["str", ["log", "ends"], "format", "json", "join"]), TEST_TIMEOUT_MS)
  it("dag-publish: shared structure in a payload, headers, key", handlerAttack("dag-publish.sib", ["payload", "headers", "key"]), TEST_TIMEOUT_MS)
  it("dag-hash: shared structure in sets ends (linear in distinct nodes, or charged)", handlerAttack("dag-hash.sib", [["hash-set", "ends"], ["contains?", "ends"], ["conj-set", "ends"], ["into-set", "ends"]]), TEST_TIMEOUT_MS)
  it("literal-bomb: wide literals of a shared range printed, in JSON, published dead-letter; in a set ends", handlerAttack("literal-bomb.sib", ["str", "json", ["hash-set", "ends"], "publish"]), TEST_TIMEOUT_MS)
  it("string-doubling: big strings for few steps", handlerAttack("string-doubling.sib", ["doubling", "upper-case", "format"]), TEST_TIMEOUT_MS)
  it("vec-huge-strings: a multi-MB string as a sequence", handlerAttack("vec-huge-strings.sib", ["vec", "split", "map", "into"]), TEST_TIMEOUT_MS)
  it("publish-buffer: 3,000 buffered publishes of a shared 0.5 MB string", handlerAttack("publish-buffer.sib", ["publish-3000"]), TEST_TIMEOUT_MS)
  it("error-text: error messages quoting an 8 MB string or a DAG, caught 100,000 times, end", handlerAttack("error-text.sib", [["not-a-function", "ends"], ["type-error", "ends"], ["keyword-arg", "ends"]]), TEST_TIMEOUT_MS)
  it("string-work: parse-long, parse-double, starts-with?, ends-with?, map keys and json/parse of a 4 MB string, 100,000 times, end", handlerAttack("string-work.sib", [["parse-long", "ends"], ["parse-double", "ends"], ["starts-with", "ends"], ["ends-with", "ends"], ["map-key", "ends"], ["json-depth", "ends"]]), TEST_TIMEOUT_MS)
  it("deep-nesting: data 120,000 levels deep compared, hashed, in JSON, published ends", handlerAttack("deep-nesting.sib", [["=", "ends"], ["hash-set", "ends"], ["json", "ends"], ["publish", "ends"]]), TEST_TIMEOUT_MS)

  it("keyword-flood: 80 events of 40 distinct 256 KB keywords each keep the process bounded", scenario(async (sc, { expect }) => {
    const events = 80
    const run = await sc.startRun("keyword-flood.sib")
    const from = Date.now()
    const nonce = Math.random().toString(36).slice(2)
    await sc.publishAttack(Array.from({ length: events }, (_, i) => ({ variant: "flood", x: `k${i}-${nonce}` })))
    const ended = () =>
      sc.query<{ n: number }>(`select count(*) as n from events where topic = 'flood.done'`)[0]!.n +
      sc.query<{ n: number }>(`select count(*) as n from dead_letters where grp = 'attacker'`)[0]!.n
    await sc.until(run, () => ended() >= events, ATTACK_MS, `keyword-flood: ${events} events handled or dead-lettered`, true)
    const to = Date.now()
    await sc.until(run, () => (sc.lastHealthy() ?? 0) >= to, HEALTHY_GAP_MS + 500, "keyword-flood: healthy.out after the flood", true)
    expect(sc.largestHealthyGap(from, to), "largest healthy.out gap (ms)").toBeLessThan(HEALTHY_GAP_MS)
    expect(await sc.stopDuringAttack(run, { variant: "flood", x: `last-${nonce}` }), "exit code after SIGTERM").toBe(0)
    expect(run.mem.peak(), "peak RSS").toBeLessThan(RSS_LIMIT_BYTES)
  }), TEST_TIMEOUT_MS)

  for (const [file, where] of [["slow-backlog.sib", "a handler, 16 workers"], ["slow-filter.sib", "a filter"]] as const) {
    it(`${file}: 60 events of ~60 ms of legal work each in ${where}: other groups and timers keep their turns`, scenario(async (sc, { expect }) => {
      const events = 60
      const run = await sc.startRun(file)
      const from = Date.now()
      const published = await sc.publishAttack(Array.from({ length: events }, () => ({ variant: "backlog" })))
      const last = published[published.length - 1]!
      await sc.until(run, () => sc.attackerPassed(last.seq), BACKLOG_MS, `${file}: ${events} events handled`, true)
      const to = Date.now()
      expect(sc.query<{ n: number }>(`select count(*) as n from dead_letters where grp = 'attacker'`)[0]!.n, "dead letters").toBe(0)
      await sc.until(run, () => (sc.lastHealthy() ?? 0) >= to, HEALTHY_GAP_MS + 500, `${file}: healthy.out after the backlog`, true)
      expect(sc.largestHealthyGap(from, to), "largest healthy.out gap (ms)").toBeLessThan(LEGAL_WORK_GAP_MS)
      expect(await sc.stopDuringAttack(run, { variant: "last" }), "exit code after SIGTERM").toBe(0)
      expect(run.mem.peak(), "peak RSS").toBeLessThan(RSS_LIMIT_BYTES)
    }), TEST_TIMEOUT_MS)
  }

  it("SIGHUP reload to a file printing a DAG at the top level: reported, and the running program keeps delivering", scenario(async (sc, { expect }) => {
    const path = join(sc.dir, "hostile", "reloaded.sib")
    writeFileSync(path, readFileSync(join(hostileDir, "control.sib")))
    const run = await sc.startRun("reloaded.sib")
    const from = Date.now()
    writeFileSync(path, readFileSync(join(hostileDir, "load-dag.sib")))
    run.sib.child.kill("SIGHUP")
    await sc.until(run, () => /reload failed; the running program is unchanged/.test(run.sib.stderr()), LOAD_MS, "SIGHUP: reload failed reported", true)
    const to = Date.now()
    expect(run.sib.stderr()).toMatch(located("hostile/reloaded.sib"))
    expect(run.sib.stderr()).toMatch(BOUNDED)
    await sc.until(run, () => (sc.lastHealthy() ?? 0) >= to, HEALTHY_GAP_MS + 500, "SIGHUP: healthy.out after the reload", true)
    expect(sc.largestHealthyGap(from, to), "largest healthy.out gap (ms)").toBeLessThan(HEALTHY_GAP_MS)
    // The running (control) version still handles: its attacker fails as before.
    const [event] = await sc.publishAttack([{ variant: "after-reload" }])
    await sc.until(run, () => sc.deadLetter(event!.id) !== undefined, ATTACK_MS, "SIGHUP: the old program still consumes", true)
    expect(sc.deadLetter(event!.id)!.error_message).toMatch(/division by zero/)
    run.sib.interrupt("SIGTERM")
    expect(await withDeadline(run.sib.exited, STOP_MS, "SIGTERM after the failed reload"), "exit code").toBe(0)
    expect(run.mem.peak(), "peak RSS").toBeLessThan(RSS_LIMIT_BYTES)
  }), TEST_TIMEOUT_MS)
})

describe.concurrent("hostile .sib programs: attacks at load time (sib check, sib test)", () => {
  it("macro-burn: 300 expansions, each near the step budget", loadAttack("macro-burn.sib"), TEST_TIMEOUT_MS)
  it("macro-bloat: 24 forms expanding to 300,000 forms each", loadAttack("macro-bloat.sib"), TEST_TIMEOUT_MS)
  it("load-dag: top-level forms comparing and printing a DAG", loadAttack("load-dag.sib"), TEST_TIMEOUT_MS)
  it("macro-dag: a macro comparing DAGs and expanding to one", loadAttack("macro-dag.sib"), TEST_TIMEOUT_MS)
  it("timer-zero: (every! \"0ms\") is refused", loadAttack("timer-zero.sib"), TEST_TIMEOUT_MS)
  it("option bombs: :maxInFlight 5000000 is refused", loadAttack("option-max-in-flight.sib"), TEST_TIMEOUT_MS)
  it("option bombs: :batchSize 100000000 is refused", loadAttack("option-batch-size.sib"), TEST_TIMEOUT_MS)
  it("option bombs: a __proto__ option made at run time is an unknown option", loadAttack("option-proto.sib", /unknown option/i), TEST_TIMEOUT_MS)

  for (const file of ["timer-flood.sib", "timer-flood-floor.sib"]) {
    it(`${file}: sib test advancing a day of fast ticks ends (pass, fail or load error)`, scenario(async (sc, { expect }) => {
      const r = await sc.finish(["test", `hostile/${file}`], LOAD_MS, `sib test ${file}`)
      expect([0, 1], `exit code ${r.code}; stderr:\n${tail(r.stderr)}`).toContain(r.code)
      expect(r.peak, "peak RSS").toBeLessThan(RSS_LIMIT_BYTES)
    }), TEST_TIMEOUT_MS)
  }

  it("require-escape: .., an absolute path and symlinks out of the program's directory are load errors; /etc/passwd never shows", scenario(async (sc, { expect }) => {
    const root = join(sc.dir, "hostile", "require-escape")
    const app = join(root, "app")
    const absolute = join(app, "absolute.sib")
    writeFileSync(absolute, readFileSync(absolute, "utf8").replaceAll("@OTHER_DIR@", realpathSync(join(root, "other"))))
    symlinkSync("/etc/passwd", join(app, "users.sib"))
    symlinkSync(join("..", "other", "x.sib"), join(app, "linked.sib"))
    const passwd = existsSync("/etc/passwd") ? readFileSync("/etc/passwd", "utf8").split("\n").filter((l) => l.includes(":")) : []
    for (const file of ["dotdot.sib", "absolute.sib", "etc-passwd.sib", "away-link.sib"]) {
      const r = await sc.finish(["check", file], LOAD_MS, `sib check ${file}`, { cwd: app })
      // Lines of /etc/passwd are counted, and kept out of the failure messages.
      const raw = r.stderr + r.stdout
      const leaked = passwd.filter((line) => raw.includes(line)).length + (/root:x:0:0/.test(raw) ? 1 : 0)
      const output = passwd.reduce((text, line) => text.replaceAll(line, "<a line of /etc/passwd>"), raw).replace(/root:x:0:0\S*/g, "<root entry>")
      expect.soft(leaked, `${file}: lines of /etc/passwd in the output`).toBe(0)
      expect.soft(r.code, `${file}: exit code; output:\n${output}`).toBe(1)
      expect.soft(output, `${file}: located`).toMatch(located(file))
      expect.soft(output, `${file}: refused`).toMatch(REQUIRE_REFUSED)
    }
  }), TEST_TIMEOUT_MS)

  it("raw host functions: a registered object's nested function is never called as a filter, handler, timer or through map", scenario(async (sc, { expect }) => {
    for (const variant of ["filter", "handler", "timer", "map"]) {
      const file = `host-fn-${variant}.sib`
      const r = await sc.finish([join(sc.dir, `${variant}.db`), file], LOAD_MS, `embedding app loading ${file}`, {
        cwd: join(sc.dir, "hostile"),
        command: [process.execPath, hostFnChild]
      })
      expect.soft(r.code, `${file}: the raw host function ran (exit 42)`).not.toBe(42)
      expect.soft(r.code, `${file}: exit code; stderr:\n${tail(r.stderr)}`).toBe(0)
      const [result] = jsonLines(r.stdout)
      expect.soft(result, `${file}: load result`).toMatchObject({ loaded: false })
      expect.soft(String(result?.["error"]), `${file}: located`).toMatch(located(file))
      expect.soft(`${String(result?.["registerError"])}\n${String(result?.["error"])}`, `${file}: refused`).toMatch(HOST_REFUSED)
    }
  }), TEST_TIMEOUT_MS)
})
