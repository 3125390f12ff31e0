/**
 * The consumer group's public surface, re-exported from `group/` (one concern per file there; the
 * session's lifecycle is documented at the top of `group/session.ts`).
 */
export { startGroup } from "./group/supervisor.ts"
export { CurrentGroup } from "./group/types.ts"
export type { DeliveryContext, GroupDeps, GroupHandle, GroupStats, Handler } from "./group/types.ts"
