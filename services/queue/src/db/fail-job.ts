import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import { HOLDS_LEASE, leaseParams, type LeaseHolder } from './lease';
import type { JobRow } from './prisma';

/**
 * Records a failed attempt for the lease holder: FAILED with run_at = now + `retryDelayMs`
 * while attempts are left, DEAD (final) when they are not or the failure is permanent. The
 * error goes to last_error and, as one line per attempt, to job_logs in the same statement.
 * `ended_by` keeps the worker id once `locked_by` is cleared, so a repeat of this call after a
 * lost reply can be recognised (domain/jobs.ts). Undefined when the caller does not hold the lease.
 */
export async function failJob(
  db: PoolClient,
  lease: LeaseHolder,
  failure: { error: string; permanent: boolean; retryDelayMs: number },
): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `with failed as (
       update jobs
          set status = case when $6 or attempts >= max_attempts then 'dead'
                            when hold_key is null then 'failed'
                            -- the retry waits while its hold key is held (db/holds.ts)
                            else pm_queue_hold_status(tenant_id, hold_key, 'failed') end,
              finished = case when $6 or attempts >= max_attempts then now() end,
              run_at = case when $6 or attempts >= max_attempts then run_at
                            else now() + make_interval(secs => $7::double precision / 1000) end,
              last_error = $5,
              locked_by = null,
              locked_until = null,
              ended_by = $3,
              updated = now()
        where ${HOLDS_LEASE}
       returning ${jobColumns()}
     ), logged as (
       insert into job_logs (job_id, tenant_id, attempt, level, message)
       select id, "tenantId", attempts, 'error', $5 from failed
     )
     select * from failed`,
    [...leaseParams(lease), failure.error, failure.permanent, failure.retryDelayMs],
  );
  return rows[0];
}
