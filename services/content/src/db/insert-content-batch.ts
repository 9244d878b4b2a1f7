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
 * Multi-VALUES (7 parameters a row; 500 rows = 3,500, far under PostgreSQL's 65,535) measured
 * faster than the alternatives, `bench/src/content-batch-insert.ts`, 500 realistic 5-50 KB bodies
 * (17 MB) per transaction, medians of 4 and 6 interleaved rounds on the shared 2-core machine
 * (load 28): multi-values 544 / 700 ms, unnest of one array per column 774 / 889 ms (node-pg
 * escapes every body into one array literal that PostgreSQL parses again), COPY into a temp table
 * + insert … select 1006 / 1284 ms (two statements, the bodies written twice), one insert per row
 * 1052 / 1061 ms. The statement text varies with the batch size; unnamed statements are parsed
 * per call anyway. The caller passes the items sorted by key: two batches with overlapping keys
 * then take their speculative-insertion locks in the same order and cannot deadlock.
 */
export async function insertContentBatch(client: PoolClient, items: NewContent[]): Promise<ContentRow[]> {
  if (!items.length) return [];
  const values: unknown[] = [];
  const tuples = items.map((c, i) => {
    values.push(c.storageKey, c.tenantId, c.contentText, c.contentHtml, c.headersJson, c.rawSizeBytes, c.expires);
    const b = i * 7;
    return `($${b + 1}, $${b + 2}::uuid, $${b + 3}, $${b + 4}, $${b + 5}::jsonb, $${b + 6}::int, $${b + 7}::timestamptz)`;
  });
  const { rows } = await client.query<ContentRow>(
    `insert into content_objects (storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, expires)
     values ${tuples.join(', ')}
     on conflict (storage_key) do nothing
     returning ${CONTENT_COLUMNS}`,
    values,
  );
  return rows;
}
