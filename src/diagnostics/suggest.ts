/**
 * "Did you mean ...?": the closest names by edit distance (Damerau-Levenshtein, optimal string
 * alignment). Bounded, since names come from programs and events: names longer than
 * `maxSuggestedLength` get no suggestion, at most `maxCandidates` candidates are scored, and a
 * distance keeps three rows, not a matrix.
 */

/** Names longer than this are not compared (a typo in a 40-character name is still found). */
const maxSuggestedLength = 64
/** Candidates scored per suggestion. */
const maxCandidates = 2000

const editDistance = (a: string, b: string): number => {
  const m = a.length
  const n = b.length
  if (m === 0) return n
  if (n === 0) return m
  // Rows i-2, i-1 and i of the (m+1) x (n+1) table.
  let before = new Array<number>(n + 1).fill(0)
  let prev = Array.from({ length: n + 1 }, (_, j) => j)
  let row = new Array<number>(n + 1).fill(0)
  for (let i = 1; i <= m; i++) {
    row[0] = i
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1)
      row[j] = v
    }
    ;[before, prev, row] = [prev, row, before]
  }
  return prev[n]!
}

/** Up to `limit` candidates close to `name` (distance at most a third of its length, at least 1; none for one character). */
export const closest = (name: string, candidates: Iterable<string>, limit = 3): Array<string> => {
  // A one-character name is one edit from every other one: nothing is closer than the rest.
  if (name.length > maxSuggestedLength || name.length < 2) return []
  const max = Math.max(1, Math.floor(name.length / 3))
  const scored: Array<[string, number]> = []
  let scoredCount = 0
  for (const c of new Set(candidates)) {
    if (c === name || Math.abs(c.length - name.length) > max) continue
    if (++scoredCount > maxCandidates) break
    const dist = editDistance(name, c)
    if (dist <= max) scored.push([c, dist])
  }
  return scored.sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0])).slice(0, limit).map(([c]) => c)
}

export const didYouMean = (name: string, candidates: Iterable<string>, show: (c: string) => string = (c) => c): Array<string> => {
  const found = closest(name, candidates)
  return found.length === 0 ? [] : [`did you mean ${found.map(show).join(" or ")}?`]
}

/**
 * "Did you mean" for a word that must be one of a few (an option's value such as "key", "strict",
 * "none"): the closest by edit distance within a looser bound than for names (two edits, or a third
 * of the word), and a word that begins the one given or that it begins ("keyed" -> "key").
 */
export const didYouMeanWord = (word: string, choices: ReadonlyArray<string>, show: (c: string) => string = (c) => c): Array<string> => {
  if (word.length === 0 || word.length > maxSuggestedLength) return []
  const max = Math.max(2, Math.floor(word.length / 3))
  const lower = word.toLowerCase()
  const scored: Array<[string, number]> = []
  for (const c of choices) {
    if (c === word || c.length > maxSuggestedLength) continue
    const l = c.toLowerCase()
    const prefix = c.length >= 2 && (lower.startsWith(l) || l.startsWith(lower))
    const dist = l === lower ? 0 : editDistance(lower, l)
    if (prefix || dist <= max) scored.push([c, prefix ? Math.min(dist, 1) : dist])
  }
  const found = scored.sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0])).slice(0, 2).map(([c]) => c)
  return found.length === 0 ? [] : [`did you mean ${found.map(show).join(" or ")}?`]
}
