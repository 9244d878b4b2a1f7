import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/** The tenant's job, inside the caller's transaction (to explain a refused transition). */
export async function findJob(db: PoolClient, args: { tenantId: string; jobId: string }): Promise<JobRow | undefined> {
  const { rows } = await db.query<JobRow>(`select ${jobColumns()} from jobs where tenant_id = $1 and id = $2`, [args.tenantId, args.jobId]);
  return rows[0];
}
