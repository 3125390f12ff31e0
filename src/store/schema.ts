/**
 * The Kysely `Database` type: every table sibus keeps, with its column types as the query builder
 * sees them. The DDL that creates them lives in `migrations/`; this file must agree with the
 * latest migration. JSON columns are TEXT holding JSON.
 */
import type { Generated } from "kysely"

export interface EventsTable {
  readonly seq: Generated<number>
  readonly id: string
  readonly ts: number
  readonly topic: string
  readonly key: string | null
  readonly partition: number | null
  readonly headers: string | null
  readonly payload: string
  readonly caused_by: string | null
  readonly tags: string | null
  readonly sid: string | null
}

export interface TopicsTable {
  readonly name: string
  readonly config: string
  readonly created_at: number
  readonly updated_at: number
}

export interface ConsumerGroupsTable {
  readonly grp: string
  readonly owner_sid: string | null
  readonly owner_pid: number | null
  readonly owner_host: string | null
  readonly lease_expires_at: number | null
  readonly created_at: number
  readonly updated_at: number
}

export interface CursorsTable {
  readonly topic: string
  readonly grp: string
  readonly floor: number
  readonly acked: string | null
  readonly leased_upto: number
  readonly updated_at: number
  /** Events retention deleted before the group processed them (migration 0002). */
  readonly skipped: Generated<number>
  /** Runs that were redeliveries (an event's second run or later), over the group's life (migration 0005). */
  readonly redelivered: Generated<number>
}

export interface DeliveriesTable {
  readonly grp: string
  readonly seq: number
  readonly topic: string
  readonly event_id: string
  readonly attempts: number
  readonly state: string
  readonly next_attempt_at: number | null
  readonly last_error: string | null
  readonly last_error_stack: string | null
  readonly first_failed_at: number | null
  readonly last_failed_at: number | null
}

export interface DeadLettersTable {
  readonly grp: string
  readonly seq: number
  readonly topic: string
  readonly event_id: string
  readonly key: string | null
  readonly attempts: number
  readonly error_message: string
  readonly error_stack: string | null
  readonly first_failed_at: number
  readonly last_failed_at: number
  readonly dead_at: number
  readonly holds_key: number
}

/** A process consuming a partitioned group (migration 0004): its heartbeat is `beats` rising. */
export interface GroupMembersTable {
  readonly grp: string
  readonly member: string
  readonly pid: number | null
  readonly host: string | null
  readonly beats: number
  readonly joined_at: number
  readonly updated_at: number
}

export interface Database {
  readonly events: EventsTable
  readonly topics: TopicsTable
  readonly consumer_groups: ConsumerGroupsTable
  readonly cursors: CursorsTable
  readonly deliveries: DeliveriesTable
  readonly dead_letters: DeadLettersTable
  readonly group_members: GroupMembersTable
}
