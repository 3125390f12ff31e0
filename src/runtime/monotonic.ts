/**
 * Monotonic milliseconds from an Effect `Clock`: for deadlines and waits inside one process, which
 * must not move when the wall clock is stepped (NTP, a VM resumed, an operator). Wall time
 * (`currentTimeMillis`) is for what is stored and shown: event times, retry times kept in the
 * database. Under the TestClock both move together.
 */
import type * as Clock from "effect/Clock"

export const monotonicMillis = (clock: Clock.Clock): number => Number(clock.monotonicTimeNanosUnsafe() / 1_000_000n)
