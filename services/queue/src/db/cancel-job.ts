import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/**
 * QUEUED, FAILED or HELD → CANCELLED. A running job is left alone: its worker is already doing the
 * work, and a cancel it never hears of would only turn its result into a lease error.
 * Undefined when the job is not in a cancellable state (or not this tenant's).
 */
export async function cancelJob(db: PoolClient, args: { tenantId: string; jobId: string }): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `update jobs
        set status = 'cancelled', finished = now(), updated = now()
      where tenant_id = $1 and id = $2 and status in ('queued', 'failed', 'held')
     returning ${jobColumns()}`,
    [args.tenantId, args.jobId],
  );
  return rows[0];
}
