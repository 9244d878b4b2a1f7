import type { PoolClient } from 'pg';
import type { NewSchedule } from './insert-schedule';
import type { ScheduleRow } from './prisma';
import { scheduleColumns } from './schedule-columns';

/** What UpdateSchedule may change: a schedule's fields but its tenant and its next fire. */
export type ScheduleFields = Omit<NewSchedule, 'tenantId' | 'nextFireAt'>;

const COLUMNS: { [K in keyof ScheduleFields]-?: string } = {
  name: 'name',
  cron: 'cron',
  timeZone: 'time_zone',
  queue: 'queue',
  task: 'task',
  payload: 'payload',
  priority: 'priority',
  maxAttempts: 'max_attempts',
  holdKey: 'hold_key',
};

/**
 * Sets the given fields of a (locked) schedule, and its next fire when `nextFireAt` is given; at
 * least one of them. A name the tenant's other schedule holds fails on (tenant_id, name): 23505.
 */
export async function updateSchedule(db: PoolClient, args: { scheduleId: string; changes: Partial<ScheduleFields>; nextFireAt?: Date }): Promise<ScheduleRow> {
  const params: unknown[] = [args.scheduleId];
  const sets: string[] = [];
  for (const key of Object.keys(COLUMNS) as (keyof ScheduleFields)[]) {
    const value = args.changes[key];
    if (value === undefined) continue;
    params.push(key === 'payload' ? JSON.stringify(value) : value);
    sets.push(`${COLUMNS[key]} = $${params.length}${key === 'payload' ? '::jsonb' : ''}`);
  }
  if (args.nextFireAt) {
    params.push(args.nextFireAt);
    sets.push(`next_fire_at = $${params.length}`);
  }
  if (sets.length === 0) throw new Error('updateSchedule: nothing to set');
  const { rows } = await db.query<ScheduleRow>(`update schedules set ${sets.join(', ')}, updated = now() where id = $1 returning ${scheduleColumns()}`, params);
  return rows[0];
}
