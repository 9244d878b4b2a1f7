import type { Pool } from 'pg';

/**
 * The (tenant, queue) pairs that hold running jobs whose lease has ended, at most `limit`.
 * Reads `jobs_leased_idx (tenant_id, queue, locked_until) where status = 'running'`: the running
 * jobs only, so its cost is bounded by the leases out, not by the table.
 */
export async function queuesWithExpiredLeases(db: Pool, limit: number): Promise<{ tenantId: string; queue: string }[]> {
  const { rows } = await db.query<{ tenantId: string; queue: string }>({
    name: 'queue_queues_with_expired_leases',
    text: `select distinct tenant_id as "tenantId", queue
             from jobs
            where status = 'running' and locked_until <= now()
            limit $1`,
    values: [limit],
  });
  return rows;
}
