import type { Pool } from 'pg';
import type { JobRow } from './prisma';

/** What CheckLeases reads of a job: the columns that say whether a worker still holds an attempt (no payload or output). */
export type LeaseState = Pick<JobRow, 'id' | 'status' | 'attempts' | 'lockedBy' | 'lockedUntil' | 'endedBy' | 'groupKey' | 'lastError'> & {
  /** Whether `locked_until` is past, by the database's clock. */
  expired: boolean;
};

/**
 * The lease columns of the jobs with these ids (of the tenant, or of any tenant when undefined):
 * one probe of jobs_pkey per id (`= any` of the array), without the payload and output a full row
 * carries. A read; no lock.
 */
export async function leaseStates(db: Pool, args: { tenantId?: string; ids: string[] }): Promise<LeaseState[]> {
  const { rows } = await db.query<LeaseState>(
    `select id, status, attempts, locked_by as "lockedBy", locked_until as "lockedUntil", ended_by as "endedBy",
            group_key as "groupKey", last_error as "lastError", coalesce(locked_until <= now(), false) as expired
       from jobs where id = any($2::uuid[]) and ($1::uuid is null or tenant_id = $1)`,
    [args.tenantId ?? null, args.ids],
  );
  return rows;
}
