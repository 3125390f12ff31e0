/** Reading Prometheus text in tests: the families declared, and each sample's value by its series. */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Every sample line (`name{a="b",...} value`), label values unescaped. */
export const samples = (text: string): ReadonlyArray<Sample> =>
  text.split("\n").filter((l) => l.length > 0 && !l.startsWith("#")).map((line) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))
    }
    return { name: m[1]!, labels, value: m[3] === "+Inf" ? Number.POSITIVE_INFINITY : Number(m[3]) }
  })

/** The families a text declares (`# TYPE name kind`), with their kinds. */
export const declared = (text: string): ReadonlyMap<string, string> =>
  new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]))

/** The sum of the samples named `name` whose labels include `labels`. */
export const total = (text: string, name: string, labels: Readonly<Record<string, string>> = {}): number =>
  samples(text).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)
