import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/** What a cancel writes, and the statuses it applies to (a running job only when asked: below). */
const CANCEL = `status = 'cancelled', finished = now(), updated = now()`;
const CANCELLABLE = `status in ('queued', 'failed', 'held')`;

/**
 * QUEUED, FAILED or HELD → CANCELLED; RUNNING too with `includeRunning` (CancelJob
 * include_running). A running job's lease ends here: `locked_by` and `locked_until` are
 * cleared, so the job leaves jobs_leased_idx (no lease sweep will retry it) and its concurrency
 * group's count of running jobs (jobs_group_running_idx). `ended_by` becomes '' — no worker
 * ended the attempt, and no worker id is empty (the rpc layer requires one) — so its worker's
 * CompleteJob or FailJob is never taken for a repeat of its own (domain/jobs.ts
 * endedByThisAttempt) and its refusal can say the attempt was cancelled, not that its lease ran
 * out (leaseRefusal: a job whose lease expired and was cancelled later keeps a null `ended_by`).
 * Without `includeRunning` a running job is left alone (its worker is doing the work).
 * Undefined when the job is not in a cancellable state (or not this tenant's).
 */
export async function cancelJob(db: PoolClient, args: { tenantId: string; jobId: string; includeRunning: boolean }): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `update jobs
        set ${CANCEL}, locked_by = null, locked_until = null, ended_by = case when status = 'running' then '' else ended_by end
      where tenant_id = $1 and id = $2 and (${CANCELLABLE} or ($3 and status = 'running'))
     returning ${jobColumns()}`,
    [args.tenantId, args.jobId, args.includeRunning],
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
