import type { Pool } from 'pg';
import { LIVE } from './rows';

/** Whether the tenant has a live object under the key (primary-key probe, no bodies read). */
export async function contentExists(pool: Pool, tenantId: string, storageKey: string): Promise<boolean> {
  const { rowCount } = await pool.query(`select 1 from content_objects where storage_key = $1 and tenant_id = $2 and ${LIVE}`, [
    storageKey,
    tenantId,
  ]);
  return rowCount === 1;
}
