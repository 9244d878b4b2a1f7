import type { PoolClient } from 'pg';

/**
 * Deletes up to `limit` staged upload parts older than `olderThanMs` (attachment_upload_parts_created_idx):
 * what a replica that died mid-upload left behind. Resolves with how many.
 */
export async function deleteStaleUploadParts(client: PoolClient, olderThanMs: number, limit: number): Promise<number> {
  const { rowCount } = await client.query(
    `delete from attachment_upload_parts
      where ctid = any(array(select ctid from attachment_upload_parts
                              where created < now() - make_interval(secs => $1::float8 / 1000)
                              limit $2))`,
    [olderThanMs, limit],
  );
  return rowCount ?? 0;
}
