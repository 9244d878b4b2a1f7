import type { PoolClient } from 'pg';
import type { ScheduleRow } from './prisma';
import { scheduleColumns } from './schedule-columns';

/**
 * One tenant's schedule, locked for the caller's transaction, with the database's now; undefined
 * if the tenant has none with that id. The lock waits for a scheduler that holds the row (a fire
 * in progress), so a pause or resume never interleaves with a fire.
 */
export async function lockSchedule(db: PoolClient, args: { tenantId: string; scheduleId: string }): Promise<(ScheduleRow & { now: Date }) | undefined> {
  const { rows } = await db.query<ScheduleRow & { now: Date }>(
    `select ${scheduleColumns()}, now() as now from schedules where tenant_id = $1 and id = $2 for update`,
    [args.tenantId, args.scheduleId],
  );
  return rows[0];
}

/** Marks a (locked) schedule paused now. */
export async function pauseSchedule(db: PoolClient, scheduleId: string): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(`update schedules set paused_at = now(), updated = now() where id = $1 returning ${scheduleColumns()}`, [scheduleId]);
  return rows[0];
}

/** Clears a (locked) schedule's pause and moves its next fire to `nextFireAt`. */
export async function resumeSchedule(db: PoolClient, args: { scheduleId: string; nextFireAt: Date }): Promise<ScheduleRow> {
  const { rows } = await db.query<ScheduleRow>(
    `update schedules set paused_at = null, next_fire_at = $2, updated = now() where id = $1 returning ${scheduleColumns()}`,
    [args.scheduleId, args.nextFireAt],
  );
  return rows[0];
}
