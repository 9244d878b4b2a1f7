import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import { HOLDS_LEASE, leaseParams, type LeaseHolder } from './lease';
import type { JobRow } from './prisma';

/**
 * Moves the lease end to now + `leaseSeconds` for the lease holder; undefined otherwise.
 * A job of a concurrency group whose lease already ran out cannot be extended: its group's slot
 * was freed when it expired and may be held by another job now (claim-grouped-jobs.ts), so
 * reviving it could put the group over its limit.
 */
export async function extendLease(db: PoolClient, lease: LeaseHolder, leaseSeconds: number): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `update jobs set locked_until = now() + make_interval(secs => $5), updated = now()
      where ${HOLDS_LEASE} and (group_key is null or locked_until > now())
     returning ${jobColumns()}`,
    [...leaseParams(lease), leaseSeconds],
  );
  return rows[0];
}
