import type { PoolClient } from 'pg';
import type { NewContent } from './insert-content';
import { CONTENT_COLUMNS, type ContentRow } from './rows';

/**
 * Inserts many content objects in one statement; a key that exists already is skipped (it is
 * not in the returned rows: the caller compares it with findContentForBatchReplay). Same
 * `on conflict do nothing` semantics as insertContent, so a concurrent PutContent or batch of
 * the same key waits for the other transaction and then skips.
 *
 * Written by hand for BatchPutContent (the legacy migration's bulk path): one round trip and one
 * statement-level firing of the usage trigger for the whole batch, instead of one per object.
 * `unnest` over one array per column keeps the statement text and its plan fixed whatever the
 * batch size (a multi-VALUES statement has 7 parameters per row, a new text per size). The caller
 * passes the items sorted by key: two batches with overlapping keys then take their
 * speculative-insertion locks in the same order and cannot deadlock.
 * Measured (see services/content/README.md, "BatchPutContent"): unnest vs multi-VALUES vs COPY.
 */
export async function insertContentBatch(client: PoolClient, items: NewContent[]): Promise<ContentRow[]> {
  if (!items.length) return [];
  const { rows } = await client.query<ContentRow>(
    `insert into content_objects (storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, expires)
     select k, t, tx, h, hd::jsonb, r, e
       from unnest($1::varchar[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int[], $7::timestamptz[]) as u(k, t, tx, h, hd, r, e)
     on conflict (storage_key) do nothing
     returning ${CONTENT_COLUMNS}`,
    [
      items.map((c) => c.storageKey),
      items.map((c) => c.tenantId),
      items.map((c) => c.contentText),
      items.map((c) => c.contentHtml),
      items.map((c) => c.headersJson),
      items.map((c) => c.rawSizeBytes),
      items.map((c) => c.expires),
    ],
  );
  return rows;
}
