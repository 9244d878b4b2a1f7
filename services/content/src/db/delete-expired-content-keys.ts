import type { PoolClient } from 'pg';
import { DELETED_RETURNING, type DeletedContent } from './rows';

/**
 * Deletes the expired objects among `storageKeys` (BatchPutContent reusing keys whose objects
 * expired but were not swept yet; attachments by the FK's cascade). deleteExpiredContent for
 * many keys: one primary-key probe per key, `skip locked` as there (a sweeper holding the row
 * is deleting it anyway).
 */
export async function deleteExpiredContentKeys(client: PoolClient, tenantId: string, storageKeys: string[]): Promise<DeletedContent[]> {
  if (!storageKeys.length) return [];
  const { rows } = await client.query<DeletedContent>(
    `delete from content_objects c
      where c.storage_key in (
              select storage_key from content_objects
               where storage_key = any($2::varchar[]) and tenant_id = $1 and expires <= now()
                 for update skip locked)
      returning ${DELETED_RETURNING}`,
    [tenantId, storageKeys],
  );
  return rows;
}
