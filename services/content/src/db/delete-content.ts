import type { PoolClient } from 'pg';
import { LIVE } from './rows';
import type { DeletedContent } from './delete-expired-content';

/** Deletes one live object of one tenant and (by cascade) its attachments; undefined when none. */
export async function deleteContent(client: PoolClient, tenantId: string, storageKey: string): Promise<DeletedContent | undefined> {
  const { rows } = await client.query<DeletedContent>(
    `delete from content_objects c
      where c.storage_key = $1 and c.tenant_id = $2 and ${LIVE}
      returning c.storage_key as "storageKey", c.tenant_id as "tenantId",
                (select count(*) from attachments a where a.parent_storage_key = c.storage_key)::int as "attachmentsDeleted"`,
    [storageKey, tenantId],
  );
  return rows[0];
}
