import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import { HOLDS_LEASE, leaseParams, type LeaseHolder } from './lease';
import type { JobRow } from './prisma';

/** Moves the lease end to now + `leaseSeconds` for the lease holder; undefined otherwise. */
export async function extendLease(db: PoolClient, lease: LeaseHolder, leaseSeconds: number): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(
    `update jobs set locked_until = now() + make_interval(secs => $5), updated = now()
      where ${HOLDS_LEASE}
     returning ${jobColumns()}`,
    [...leaseParams(lease), leaseSeconds],
  );
  return rows[0];
}
