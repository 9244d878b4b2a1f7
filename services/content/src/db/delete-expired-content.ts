import type { PoolClient } from 'pg';
import { DELETED_RETURNING, type DeletedContent } from './rows';

/**
 * Deletes up to `limit` expired objects (their attachments go by the FK's cascade), oldest
 * expiry first, or only `storageKey` when given (PutContent reusing an expired key).
 *
 * `for update skip locked` lets several replicas sweep at once without waiting on each other;
 * the scan is the partial index content_objects_expires_idx.
 */
export async function deleteExpiredContent(
  client: PoolClient,
  opts: { limit: number; storageKey?: string },
): Promise<DeletedContent[]> {
  const { rows } = await client.query<DeletedContent>(
    `delete from content_objects c
      where c.storage_key in (
              select storage_key from content_objects
               where expires <= now() and ($2::varchar is null or storage_key = $2)
               order by expires
               limit $1
                 for update skip locked)
      returning ${DELETED_RETURNING}`,
    [opts.limit, opts.storageKey ?? null],
  );
  return rows;
}
