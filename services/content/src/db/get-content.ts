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
    name: 'content-get',
    text: `select ${CONTENT_COLUMNS}, content_text as "contentText", content_html as "contentHtml", headers
             from content_objects
            where storage_key = $1 and tenant_id = $2 and ${LIVE}`,
    values: [storageKey, tenantId],
  });
  return rows[0];
}
