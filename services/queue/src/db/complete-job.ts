import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import { HOLDS_LEASE, leaseParams, type LeaseHolder } from './lease';
import type { JobRow } from './prisma';

/**
 * RUNNING → SUCCEEDED for the lease holder; undefined when the caller does not hold it.
 * `ended_by` keeps the worker id once `locked_by` is cleared, so a repeat of this call after a
 * lost reply can be recognised (domain/jobs.ts) without a second statement here.
 * A lease that has run out but was not yet taken back still counts: the work is done and no
 * one else has the job, so refusing would only cause a needless re-run.
 *
 * An unnamed statement, planned at each call (lease.ts, "a plan per call").
 */
export async function completeJob(db: PoolClient, lease: LeaseHolder, output?: object): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>({
    text: `update jobs
        set status = 'succeeded', finished = now(), locked_by = null, locked_until = null, ended_by = $3, output = $5::jsonb, updated = now()
      where ${HOLDS_LEASE}
     returning ${jobColumns()}`,
    values: [...leaseParams(lease), output ? JSON.stringify(output) : null],
  });
  return rows[0];
}
