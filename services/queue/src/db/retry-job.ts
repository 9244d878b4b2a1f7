import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/**
 * DEAD or CANCELLED → QUEUED (HELD while its hold key is held, db/holds.ts), runnable now, with `extraAttempts` more attempts (max_attempts =
 * attempts + extra, at most 100); the end of the previous life (finished, ended_by) is cleared,
 * last_error kept. Wakes long-polling claimers of its queue with the same NOTIFY as an enqueue
 * (the insert trigger does not see an update). Undefined when the job is not in such a status
 * (or not this tenant's, or has no attempt left under the cap of 100).
 */
export async function retryJob(db: PoolClient, args: { tenantId: string; jobId: string; extraAttempts: number }): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow & { notified: unknown }>(
    `with retried as (
       update jobs
          set status = case when hold_key is null then 'queued' else pm_queue_hold_status(tenant_id, hold_key, 'queued') end,
              run_at = now(), finished = null, ended_by = null, output = null,
              max_attempts = least(100, attempts + $3), updated = now()
        where tenant_id = $1 and id = $2 and status in ('dead', 'cancelled') and attempts < 100
       returning ${jobColumns()}
     )
     select r.*, pg_notify('pm_queue_jobs', r."tenantId"::text || ' ' || r.queue) as notified from retried r`,
    [args.tenantId, args.jobId, args.extraAttempts],
  );
  if (!rows[0]) return undefined;
  const { notified: _, ...row } = rows[0];
  return row as JobRow;
}
