import type { PoolClient } from 'pg';
import { DELETED_RETURNING, LIVE, type DeletedContent } from './rows';

/** Deletes one live object of one tenant and (by cascade) its attachments; undefined when none. */
export async function deleteContent(client: PoolClient, tenantId: string, storageKey: string): Promise<DeletedContent | undefined> {
  const { rows } = await client.query<DeletedContent>(
    `delete from content_objects c
      where c.storage_key = $1 and c.tenant_id = $2 and ${LIVE}
      returning ${DELETED_RETURNING}`,
    [storageKey, tenantId],
  );
  return rows[0];
}
