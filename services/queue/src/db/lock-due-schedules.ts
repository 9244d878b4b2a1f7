import type { PoolClient } from 'pg';
import type { ScheduleRow } from './prisma';
import { scheduleColumns } from './schedule-columns';

/**
 * Locks up to `limit` schedules whose next fire has come (the database's clock), earliest
 * first, for the caller's transaction, and returns them with that clock (`now`).
 * `for update skip locked`: two schedulers (replicas) split the due schedules instead of
 * waiting, and a schedule another one has fired in the meantime is re-checked on its newest
 * version (READ COMMITTED) — its next_fire_at has moved on, so it is not due any more. Paused
 * schedules are not due (`schedules_due_idx` holds only the others); one paused after this
 * statement read it is re-checked the same way and skipped.
 */
export async function lockDueSchedules(db: PoolClient, limit: number): Promise<(ScheduleRow & { now: Date })[]> {
  const { rows } = await db.query<ScheduleRow & { now: Date }>({
    name: 'queue_lock_due_schedules',
    text: `select ${scheduleColumns()}, now() as now
             from schedules
            where next_fire_at <= now() and paused_at is null
            order by next_fire_at
            limit $1
              for update skip locked`,
    values: [limit],
  });
  return rows;
}
