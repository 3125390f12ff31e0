/**
 * Facts about the host process that lease decisions need: our pid and host name, and whether a
 * pid on this host is still alive (so a restarted process can take over the lease of the crashed
 * one at once instead of waiting for it to expire).
 */
import { hostname } from "node:os"

export interface HostInfo {
  readonly pid: number
  readonly hostname: string
  readonly isAlive: (pid: number) => boolean
}

export const nodeHost: HostInfo = {
  pid: process.pid,
  hostname: hostname(),
  isAlive: (pid) => {
    try {
      process.kill(pid, 0)
      return true
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM"
    }
  }
}
