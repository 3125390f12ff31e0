/** "Did you mean ...?": the closest names by edit distance (Damerau-Levenshtein, optimal string alignment). */

export const editDistance = (a: string, b: string): number => {
  const m = a.length
  const n = b.length
  if (m === 0) return n
  if (n === 0) return m
  const d: Array<Array<number>> = Array.from({ length: m + 1 }, (_, i) => {
    const row = new Array<number>(n + 1).fill(0)
    row[0] = i
    return row
  })
  for (let j = 0; j <= n; j++) d[0]![j] = j
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[m]![n]!
}

/** Up to `limit` candidates close to `name` (distance at most a third of its length, at least 1). */
export const closest = (name: string, candidates: Iterable<string>, limit = 3): Array<string> => {
  const max = Math.max(1, Math.floor(name.length / 3))
  const scored: Array<[string, number]> = []
  for (const c of new Set(candidates)) {
    if (c === name || Math.abs(c.length - name.length) > max) continue
    const dist = editDistance(name, c)
    if (dist <= max) scored.push([c, dist])
  }
  return scored.sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0])).slice(0, limit).map(([c]) => c)
}

export const didYouMean = (name: string, candidates: Iterable<string>, show: (c: string) => string = (c) => c): Array<string> => {
  const found = closest(name, candidates)
  return found.length === 0 ? [] : [`did you mean ${found.map(show).join(" or ")}?`]
}
