import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/** What a cancel writes, and the statuses it applies to (a running job is left alone: below). */
const CANCEL = `status = 'cancelled', finished = now(), updated = now()`;
const CANCELLABLE = `status in ('queued', 'failed', 'held')`;

/**
 * QUEUED, FAILED or HELD → CANCELLED. A running job is left alone: its worker is already doing the
 * work, and a cancel it never hears of would only turn its result into a lease error.
 * Undefined when the job is not in a cancellable state (or not this tenant's).
 */
export async function cancelJob(db: PoolClient, args: { tenantId: string; jobId: string }): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `update jobs
        set ${CANCEL}
      where tenant_id = $1 and id = $2 and ${CANCELLABLE}
     returning ${jobColumns()}`,
    [args.tenantId, args.jobId],
  );
  return rows[0];
}

/**
 * The same cancel for every waiting job of a hold key (HoldJobs cancel_waiting, a COMPLETED or
 * ARCHIVED campaign), as step 2 after the key's row is held (db/holds.ts): finished now, so
 * retention removes them as any finished job. Returns how many.
 */
export async function cancelWaitingJobs(db: PoolClient, a: { tenantId: string; holdKey: string }): Promise<number> {
  const { rowCount } = await db.query({
    name: 'queue_cancel_waiting_jobs',
    text: `update jobs set ${CANCEL} where tenant_id = $1 and hold_key = $2 and ${CANCELLABLE}`,
    values: [a.tenantId, a.holdKey],
  });
  return rowCount ?? 0;
}
