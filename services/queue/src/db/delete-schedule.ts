import type { Pool } from 'pg';
import type { ScheduleRow } from './prisma';
import { scheduleColumns } from './schedule-columns';

/** Deletes one tenant's schedule; undefined when it has none with that id. */
export async function deleteSchedule(db: Pool, args: { tenantId: string; scheduleId: string }): Promise<ScheduleRow | undefined> {
  const { rows } = await db.query<ScheduleRow>(
    `delete from schedules where tenant_id = $1 and id = $2 returning ${scheduleColumns()}`,
    [args.tenantId, args.scheduleId],
  );
  return rows[0];
}
