/**
 * Reading a program's files from disk: a regular file only (a FIFO would block the process on the
 * read, a device such as /dev/zero never end), at most as many bytes as the load may still read,
 * and, for a required file, the file actually opened must still lie inside the program's folder.
 * `fileProblem` says what went wrong in a few words.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, statSync } from "node:fs"
import { sep } from "node:path"

/** True when `path` is `root` or lies under it. */
export const inside = (path: string, root: string): boolean => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep)

/** Thrown when a file holds more than a load may read. */
export class TooLarge extends Error {
  readonly bytes: number
  constructor(bytes: number) {
    super(`more than ${bytes.toLocaleString("en-US")} bytes`)
    this.bytes = bytes
  }
}

/**
 * The text of the program file at `path`, of at most `maxBytes` (a file that grows past it while
 * being read is refused too). Opened with O_NONBLOCK, so that opening a FIFO does not wait for a
 * writer (a regular file ignores the flag). With `confinedTo` (a file `require` found inside that
 * folder) it is opened without following a link, and the file actually opened must lie inside the
 * folder and be a .sib file (on Linux, where /proc tells its path; elsewhere it must be the file the
 * path named when it was found): a link swapped in between is refused, never read.
 */
export const readSourceFile = (path: string, maxBytes: number, confinedTo?: string): string => {
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (confinedTo === undefined ? 0 : constants.O_NOFOLLOW ?? 0)
  const fd = openSync(path, flags)
  try {
    if (confinedTo !== undefined) {
      let opened: string | undefined
      try {
        opened = readlinkSync(`/proc/self/fd/${fd}`)
      } catch {
        opened = undefined
      }
      if (opened !== undefined ? !inside(opened, confinedTo) || !opened.endsWith(".sib") : fstatSync(fd).ino !== statSync(path).ino) {
        throw Object.assign(new Error("it changed into a link to another file while being read"), { code: "ECHANGED" })
      }
    }
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error("not a regular file"), { code: "ENOTREG" })
    const chunks: Array<Buffer> = []
    let total = 0
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - total))
      const n = readSync(fd, chunk, 0, chunk.length, null)
      if (n === 0) break
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n))
      total += n
      if (total > maxBytes) throw new TooLarge(maxBytes)
    }
    return utf8Text(Buffer.concat(chunks, total))
  } finally {
    closeSync(fd)
  }
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false })

/** The text of a file's bytes; bytes that are not UTF-8 are refused (decoded they would read as U+FFFD symbols). */
const utf8Text = (bytes: Buffer): string => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    // Where: the first byte the lenient decoding could not keep.
    const lenient = bytes.toString("utf8")
    const at = lenient.indexOf("\uFFFD")
    const line = lenient.slice(0, Math.max(0, at)).split("\n").length
    throw Object.assign(new Error(`it is not UTF-8 text (an invalid byte on line ${line}); program files are UTF-8`), { code: "ENOTUTF8" })
  }
}

/** A file-system error in a few words. */
export const fileProblem = (e: unknown): string => {
  switch ((e as NodeJS.ErrnoException)?.code) {
    case "ENOENT":
      return "no such file"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    case "EISDIR":
      return "it is a directory"
    case "ELOOP":
      return "it became a link (links are followed only when the program is loaded, and only inside its folder)"
    case "ENOTUTF8":
      return e instanceof Error ? e.message : String(e)
    case "ENOTREG":
      return "it is not a regular file (a FIFO, a device or a socket): program files are read whole, and such a file could block or never end"
    default:
      return e instanceof Error ? e.message : String(e)
  }
}
