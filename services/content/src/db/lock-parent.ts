import type { PoolClient } from 'pg';
import { LIVE } from './rows';

/**
 * True when the tenant's live object exists, and holds a share lock on it until the
 * transaction ends: a concurrent DeleteContent waits instead of removing the parent between
 * this check and the attachment insert (which would surface as a foreign-key error).
 */
export async function lockParent(client: PoolClient, tenantId: string, storageKey: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `select 1 from content_objects where storage_key = $1 and tenant_id = $2 and ${LIVE} for share`,
    [storageKey, tenantId],
  );
  return rowCount === 1;
}
