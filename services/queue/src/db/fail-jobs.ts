import type { PoolClient } from 'pg';
import { runningAndHeldBy } from './lease';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/**
 * fail-job.ts for a batch of one worker's attempts in ONE statement (`update … from unnest`),
 * each fenced by its own attempt: FAILED with run_at = now + its delay, or DEAD when its
 * attempts are used up or it is permanent; last_error and one job_logs line per job in the
 * same statement. Returns the rows it changed (whole rows: JobDead carries the job); the
 * caller classifies the others with find-jobs.ts. Why one statement: see complete-jobs.ts.
 */
export async function failJobs(
  db: PoolClient,
  args: { tenantId?: string; workerId: string; ids: string[]; attempts: number[]; errors: string[]; permanent: boolean[]; delaysMs: number[] },
): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>({
    // Unnamed: planned at each call with its values (see lease.ts, "a plan per call").
    text: `with failed as (
       update jobs
          set status = case when i.permanent or jobs.attempts >= jobs.max_attempts then 'dead'
                            when jobs.hold_key is null then 'failed'
                            -- the retry waits while its hold key is held (db/holds.ts)
                            else pm_queue_hold_status(jobs.tenant_id, jobs.hold_key, 'failed') end,
              finished = case when i.permanent or jobs.attempts >= jobs.max_attempts then now() end,
              run_at = case when i.permanent or jobs.attempts >= jobs.max_attempts then jobs.run_at
                            else now() + make_interval(secs => i.delay_ms::double precision / 1000) end,
              last_error = i.error,
              locked_by = null,
              locked_until = null,
              ended_by = $2,
              updated = now()
         from unnest($3::uuid[], $4::int[], $5::text[], $6::boolean[], $7::bigint[]) as i(id, attempt, error, permanent, delay_ms)
        where jobs.id = i.id
          and ($1::uuid is null or jobs.tenant_id = $1)
          and ${runningAndHeldBy('$2', 'i.attempt')} -- by jobs_pkey, see lease.ts
       returning ${jobColumns()}
     ), logged as (
       insert into job_logs (job_id, tenant_id, attempt, level, message)
       select id, "tenantId", attempts, 'error', "lastError" from failed
     )
     select * from failed`,
    values: [args.tenantId ?? null, args.workerId, args.ids, args.attempts, args.errors, args.permanent, args.delaysMs],
  });
  return rows;
}
