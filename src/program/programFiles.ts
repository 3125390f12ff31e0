/**
 * The files of one load: which a program may read, and how much. An entry file is read only if it
 * is a `.sib` file (after links); `(require "p")` leads to a path relative to the requiring file
 * that stays inside its entry file's (real) folder; every file is loaded once; and all of them
 * together spend the source limits (maxSourceChars, maxSourceTokens), a file on disk checked
 * before it is read. Each problem is a diagnostic in the load's list. Reading a file's bytes is
 * sourceFiles.ts's; what the load does with the text is load.ts's.
 */
import { realpathSync, statSync } from "node:fs"
import { dirname, isAbsolute, relative, resolve } from "node:path"
import { type Diagnostic, diagnostic } from "../diagnostics/Diagnostic.ts"
import type { Span } from "../diagnostics/Span.ts"
import type * as S from "../reader/Syntax.ts"
import type { Limits } from "../lang/budget.ts"
import { fileProblem, inside, readSourceFile, TooLarge } from "./sourceFiles.ts"
import { type Source, sourceProblem } from "./sources.ts"

/** How a file is named in spans and messages: relative to the working directory when inside it. */
export const displayName = (absolute: string): string => {
  const rel = relative(process.cwd(), absolute)
  return rel.length > 0 && !rel.startsWith("..") && !isAbsolute(rel) ? rel : absolute
}

/** A file's first position, for diagnostics about the file as a whole. */
export const nowhere = (file: string): Span => ({ file, line: 1, column: 1, endLine: 1, endColumn: 1, offset: 0, endOffset: 0 })

const realOrSelf = (path: string): string => {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

const realRoot = (root: string): string => realOrSelf(root)

/** A file to load: its name in spans and messages, and its text. */
export interface FileText {
  readonly file: string
  readonly text: string
}

export class ProgramFiles {
  /** Characters of source this load may still read (every file together). */
  sourceLeft: number
  /** Tokens this load may still read. */
  tokensLeft: number
  /** The files loaded, by resolved path: each is loaded once. */
  readonly loaded = new Set<string>()
  /** The folder each loaded file's requires are confined to: its entry file's (real) folder. */
  private readonly roots = new Map<string, string>()
  private readonly limits: Limits
  private readonly diagnostics: Array<Diagnostic>
  private readonly onDisk: boolean
  private readonly readFile: (path: string) => string

  /** `readFile` reads a file (default: the file system, UTF-8); problems go to `diagnostics`. */
  constructor(limits: Limits, readFile: ((path: string) => string) | undefined, diagnostics: Array<Diagnostic>) {
    this.limits = limits
    this.diagnostics = diagnostics
    this.sourceLeft = limits.maxSourceChars
    this.tokensLeft = limits.maxSourceTokens
    this.onDisk = readFile === undefined
    this.readFile = readFile ?? ((p: string) => readSourceFile(p, this.maxSourceBytes()))
  }

  /**
   * Where `(require "p")` in `from` leads, if it stays inside `root`: a relative path, resolved
   * lexically and then (on disk) through symlinks, to a `.sib` file under the root's real path.
   */
  private confine(p: string, from: string, root: string): string | { readonly problem: string } {
    if (isAbsolute(p)) return { problem: `require takes a path relative to the requiring file, not an absolute path (${JSON.stringify(p)})` }
    const target = resolve(dirname(resolve(from)), p)
    if (!inside(target, root)) return { problem: `require of ${JSON.stringify(p)} leads outside the program's folder` }
    if (!this.onDisk) return target
    let real: string
    try {
      real = realpathSync(target)
    } catch {
      // Missing: reported by the read that follows, with its reason.
      return target
    }
    if (!inside(real, realRoot(root))) return { problem: `require of ${JSON.stringify(p)} is a link to a file outside the program's folder` }
    if (!real.endsWith(".sib")) return { problem: `require of ${JSON.stringify(p)} is a link to a file that is not a .sib file` }
    return real
  }

  tooMuchSource(file: string, size: number, at: Span): boolean {
    if (size <= this.sourceLeft) return false
    this.diagnostics.push(diagnostic("Compile", "compile/source-size", `${file} (${size.toLocaleString("en-US")} characters) would take the program's source over the limit of ${this.limits.maxSourceChars.toLocaleString("en-US")} characters (maxSourceChars)`, at, {
      hints: ["a program's files are code: keep large data in events or in the application"]
    }))
    return true
  }

  /**
   * The most bytes a file may hold and still fit in the characters left: UTF-8 takes at most 3
   * bytes for each UTF-16 unit of the text (4 for a pair). The text read is then measured in
   * characters (load.ts's `processFile`).
   */
  private maxSourceBytes(): number {
    return 3 * this.sourceLeft
  }

  /** The file's size on disk when it is too large to read at all (checked before reading). */
  private tooLargeOnDisk(path: string, shown: string, at: Span): boolean {
    if (!this.onDisk) return false
    try {
      const bytes = statSync(path).size
      return bytes > this.maxSourceBytes() && this.tooManyBytes(shown, at)
    } catch {
      return false
    }
  }

  private tooManyBytes(file: string, at: Span): true {
    this.diagnostics.push(diagnostic("Compile", "compile/source-size", `${file} (more than ${this.maxSourceBytes().toLocaleString("en-US")} bytes) would take the program's source over the limit of ${this.limits.maxSourceChars.toLocaleString("en-US")} characters (maxSourceChars)`, at, {
      hints: ["a program's files are code: keep large data in events or in the application"]
    }))
    return true
  }

  /** A source given to the load (`add`), named and read; undefined when it cannot be (said in a diagnostic). */
  entry(source: Source | string): FileText | undefined {
    const problem = sourceProblem(source)
    if (problem !== undefined) {
      this.diagnostics.push(diagnostic("Compile", "compile/source", problem, nowhere("<sources>"), {
        hints: ["a source is a file path, or { file, text } (the text given, file naming it in messages)"]
      }))
      return undefined
    }
    const s = typeof source === "string" ? { file: source } : source
    const file = s.text === undefined ? displayName(resolve(s.file)) : s.file
    let text = s.text
    if (text === undefined) {
      // A program's own file is read only if it is a .sib file (after links): a diagnostic
      // never shows lines of anything else.
      const real = this.onDisk ? realOrSelf(resolve(file)) : resolve(file)
      if (!real.endsWith(".sib")) {
        this.diagnostics.push(diagnostic("Compile", "compile/file", `${s.file} is not a .sib file${real !== resolve(file) ? ` (it links to ${displayName(real)})` : ""}`, nowhere(s.file), {
          hints: ["programs are .sib files"]
        }))
        return undefined
      }
      this.roots.set(file, dirname(resolve(file)))
      if (this.tooLargeOnDisk(resolve(file), s.file, nowhere(s.file))) return undefined
      try {
        text = this.readFile(resolve(file))
      } catch (e) {
        if (e instanceof TooLarge) {
          this.tooManyBytes(s.file, nowhere(s.file))
          return undefined
        }
        this.diagnostics.push(diagnostic("Compile", "compile/file", `cannot read ${s.file}: ${fileProblem(e)}`, nowhere(s.file)))
        return undefined
      }
    } else {
      this.roots.set(file, dirname(resolve(file)))
    }
    return { file, text }
  }

  /**
   * The file `(require "p")` in `file` loads, named and read; undefined when there is none to load:
   * already loaded, or not to be read (said in a diagnostic).
   */
  required(form: S.SList, file: string): FileText | undefined {
    const path = form.items[1]
    if (path?.kind !== "string" || form.items.length !== 2) {
      this.diagnostics.push(diagnostic("Compile", "compile/bad-shape", "require takes one file name string", form.span, { hints: ["(require \"topics.sib\")"] }))
      return undefined
    }
    if (!path.value.endsWith(".sib")) {
      this.diagnostics.push(diagnostic("Compile", "compile/require", `require loads .sib files only, not ${JSON.stringify(path.value)}`, path.span, {
        hints: ["functions of the embedding application are registered by name (registerHost), not required"]
      }))
      return undefined
    }
    const root = this.roots.get(file) ?? dirname(resolve(file))
    const target = this.confine(path.value, file, root)
    if (typeof target !== "string") {
      this.diagnostics.push(diagnostic("Compile", "compile/require", target.problem, path.span, {
        hints: [`a program requires files from its own folder (${displayName(root)}) and the folders under it, by a relative path`]
      }))
      return undefined
    }
    if (this.loaded.has(target)) return undefined
    if (this.tooLargeOnDisk(target, path.value, path.span)) return undefined
    let text: string
    try {
      text = this.onDisk ? readSourceFile(target, this.maxSourceBytes(), realRoot(root)) : this.readFile(target)
    } catch (e) {
      if (e instanceof TooLarge) {
        this.tooManyBytes(path.value, path.span)
        return undefined
      }
      this.diagnostics.push(diagnostic("Compile", "compile/require", `cannot read ${path.value}: ${fileProblem(e)}`, path.span, {
        hints: ["the path is relative to the file that requires it"]
      }))
      return undefined
    }
    const name = displayName(target)
    this.roots.set(name, root)
    return { file: name, text }
  }
}
