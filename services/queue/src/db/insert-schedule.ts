import type { PoolClient } from 'pg';
import type { ScheduleRow } from './prisma';
import { scheduleColumns } from './schedule-columns';

export interface NewSchedule {
  tenantId: string;
  name: string;
  cron: string;
  timeZone: string;
  queue: string;
  task: string;
  payload: object;
  priority: number;
  maxAttempts: number;
  /** The hold_key of the jobs its fires enqueue; null when none. */
  holdKey: string | null;
  nextFireAt: Date;
}

/**
 * Inserts the schedule; undefined when the tenant has one of that name already (`on conflict
 * do nothing` on (tenant_id, name): two concurrent creates of one name make one schedule).
 */
export async function insertSchedule(db: PoolClient, s: NewSchedule): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query<ScheduleRow>(
    `insert into schedules (tenant_id, name, cron, time_zone, queue, task, payload, priority, max_attempts, next_fire_at, hold_key)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11)
     on conflict (tenant_id, name) do nothing
     returning ${scheduleColumns()}`,
    [s.tenantId, s.name, s.cron, s.timeZone, s.queue, s.task, JSON.stringify(s.payload), s.priority, s.maxAttempts, s.nextFireAt, s.holdKey],
  );
  return rows[0];
}
