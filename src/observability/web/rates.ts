/**
 * Publish rates per topic, from successive samples of each topic's head seq: the feed records, at
 * each poll (a `Clock` time), the head it read and how many of the topic's events lie between the
 * previous head and this one (seqs are shared by every topic, so the difference of heads alone
 * would count other topics' events too). The rate is the events over the samples of the last
 * `windowMs`. Plain data and arithmetic: no reads, no clock of its own.
 */

interface Sample {
  readonly at: number
  /** Events counted since the topic's first sample (cumulative). */
  readonly total: number
}

interface TopicSamples {
  head: number
  total: number
  samples: Array<Sample>
}

export interface RateWindowOptions {
  /** The rate is taken over the samples of this long (default 10 s). */
  readonly windowMs?: number
  /** A rate needs samples at least this far apart (default 900 ms). */
  readonly minSpanMs?: number
}

export class RateWindow {
  private readonly topics = new Map<string, TopicSamples>()
  private readonly windowMs: number
  private readonly minSpanMs: number

  constructor(options: RateWindowOptions = {}) {
    this.windowMs = options.windowMs ?? 10_000
    this.minSpanMs = options.minSpanMs ?? 900
  }

  /** The head seq last recorded for `topic` (undefined: none yet, so nothing to count from). */
  lastHead(topic: string): number | undefined {
    return this.topics.get(topic)?.head
  }

  /**
   * Records a poll at `at`: `topic`'s head is `head`, and `added` of its events lie after the
   * previous head. A first sample, or one after a gap longer than the window (nobody watched),
   * starts the window over.
   */
  record(topic: string, at: number, head: number, added: number): void {
    const t = this.topics.get(topic)
    if (t === undefined || t.samples.length === 0 || at - t.samples[t.samples.length - 1]!.at > this.windowMs) {
      this.topics.set(topic, { head, total: 0, samples: [{ at, total: 0 }] })
      return
    }
    t.head = head
    t.total += Math.max(0, added)
    t.samples.push({ at, total: t.total })
    while (t.samples.length > 2 && at - t.samples[1]!.at >= this.windowMs) t.samples.shift()
  }

  /** Events per second over the window; null until two samples `minSpanMs` apart exist. */
  rate(topic: string): number | null {
    const samples = this.topics.get(topic)?.samples
    if (samples === undefined || samples.length < 2) return null
    const first = samples[0]!
    const last = samples[samples.length - 1]!
    const span = last.at - first.at
    return span < this.minSpanMs ? null : ((last.total - first.total) * 1000) / span
  }

  /** Forgets topics not in `names` (deleted ones). */
  keep(names: ReadonlySet<string>): void {
    for (const name of this.topics.keys()) if (!names.has(name)) this.topics.delete(name)
  }
}
