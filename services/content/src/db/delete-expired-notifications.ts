import type { PoolClient } from 'pg';

/**
 * Deletes up to `limit` expired notifications (reads hide them already). `skip locked` so that
 * replicas sweep at once; the scan is the partial index notifications_expires_idx.
 */
export async function deleteExpiredNotifications(client: PoolClient, limit: number): Promise<number> {
  const res = await client.query(
    `delete from notifications where id in (
       select id from notifications where expires <= now() order by expires limit $1 for update skip locked)`,
    [limit],
  );
  return res.rowCount ?? 0;
}
