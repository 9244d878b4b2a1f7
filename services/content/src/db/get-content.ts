import type { Pool } from 'pg';
import { CONTENT_COLUMNS, LIVE, type ContentRow } from './rows';

export interface ContentWithBodies extends ContentRow {
  contentText: string | null;
  contentHtml: string | null;
  headers: Record<string, unknown> | null;
}

/**
 * One live object of one tenant with its bodies (primary-key lookup), or undefined. Named: the
 * service's most frequent statement is parsed and planned once per connection.
 */
export async function getContent(pool: Pool, tenantId: string, storageKey: string): Promise<ContentWithBodies | undefined> {
  const { rows } = await pool.query<ContentWithBodies>({
    // Unnamed: planned at each call. As a named statement PostgreSQL cached, after five runs on a
    // few rows, a generic plan that read the tenant's index (tenant_id, created) and filtered the
    // key: every object of the tenant for one, 12 ms at 100k objects, until an ANALYZE re-planned
    // it (psql; test/plans.test.ts). Planning costs ~0.05 ms.
    text: `select ${CONTENT_COLUMNS}, content_text as "contentText", content_html as "contentHtml", headers
             from content_objects
            where storage_key = $1 and tenant_id = $2 and ${LIVE}`,
    values: [storageKey, tenantId],
  });
  return rows[0];
}
