import type { PoolClient } from 'pg';
import type { NewContent } from './insert-content';
import { CONTENT_COLUMNS, type ContentRow } from './rows';

export type BatchReplayRow = ContentRow & { sameText: boolean; sameHtml: boolean; sameHeaders: boolean };

/**
 * The stored objects under the keys insertContentBatch found taken, each with which of its
 * three content fields equal the item's (findContentForReplay for many keys in one statement:
 * compared in SQL, so stored bodies never travel back; jsonb equality ignores key order).
 * Only the tenant's rows: a key of another tenant cannot exist (the prefix check constraint).
 * The unnest columns are named apart from content_objects' (k, tx, h, hd), so CONTENT_COLUMNS
 * reads the stored row unqualified.
 */
export async function findContentForBatchReplay(client: PoolClient, tenantId: string, items: NewContent[]): Promise<BatchReplayRow[]> {
  if (!items.length) return [];
  const { rows } = await client.query<BatchReplayRow>(
    `select ${CONTENT_COLUMNS},
            c.content_text is not distinct from u.tx as "sameText",
            c.content_html is not distinct from u.h as "sameHtml",
            c.headers is not distinct from u.hd::jsonb as "sameHeaders"
       from unnest($2::varchar[], $3::text[], $4::text[], $5::text[]) as u(k, tx, h, hd)
       join content_objects c on c.storage_key = u.k
      where c.tenant_id = $1`,
    [tenantId, items.map((c) => c.storageKey), items.map((c) => c.contentText), items.map((c) => c.contentHtml), items.map((c) => c.headersJson)],
  );
  return rows;
}
