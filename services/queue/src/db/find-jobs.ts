import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/**
 * The jobs with these ids (of the tenant, or of any tenant when undefined), inside the caller's
 * transaction: explains why a batch's CompleteJobs / FailJobs matched no row for them.
 */
export async function findJobs(db: PoolClient, args: { tenantId?: string; ids: string[] }): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `select ${jobColumns()} from jobs where id = any($2::uuid[]) and ($1::uuid is null or tenant_id = $1)`,
    [args.tenantId ?? null, args.ids],
  );
  return rows;
}
