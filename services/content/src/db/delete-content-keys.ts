import type { PoolClient } from 'pg';
import { DELETED_RETURNING, type DeletedContent } from './rows';

/**
 * Deletes the given objects (the caller locked them; attachments go by the FK's cascade, their
 * blobs and usage counters by triggers). One statement for a whole sweeper batch.
 */
export async function deleteContentKeys(client: PoolClient, storageKeys: string[]): Promise<DeletedContent[]> {
  if (!storageKeys.length) return [];
  const { rows } = await client.query<DeletedContent>(
    `delete from content_objects c where c.storage_key = any($1::varchar[]) returning ${DELETED_RETURNING}`,
    [storageKeys],
  );
  return rows;
}
