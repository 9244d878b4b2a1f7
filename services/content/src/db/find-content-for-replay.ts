import type { PoolClient } from 'pg';
import { CONTENT_COLUMNS, type ContentRow } from './rows';
import type { NewContent } from './insert-content';

/**
 * The stored object under a key that insertContent / insertContentWithEvent found taken, with which of the three
 * content fields equal the new request. Compared in SQL so the stored bodies never travel
 * back to the service; jsonb equality ignores key order and whitespace of the headers.
 */
export async function findContentForReplay(
  client: PoolClient,
  c: NewContent,
): Promise<(ContentRow & { sameText: boolean; sameHtml: boolean; sameHeaders: boolean }) | undefined> {
  const { rows } = await client.query(
    `select ${CONTENT_COLUMNS},
            content_text is not distinct from $3 as "sameText",
            content_html is not distinct from $4 as "sameHtml",
            headers is not distinct from $5::jsonb as "sameHeaders"
       from content_objects
      where storage_key = $1 and tenant_id = $2`,
    [c.storageKey, c.tenantId, c.contentText, c.contentHtml, c.headersJson],
  );
  return rows[0];
}
