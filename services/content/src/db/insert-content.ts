import type { PoolClient } from 'pg';
import { CONTENT_COLUMNS, type ContentRow } from './rows';

export interface NewContent {
  storageKey: string;
  tenantId: string;
  contentText: string | null;
  contentHtml: string | null;
  /** The headers as JSON text (jsonb parameter), or null. */
  headersJson: string | null;
  rawSizeBytes: number;
  expires: Date | null;
}

/**
 * Inserts a content object, or does nothing when the key exists (returns undefined): the
 * caller then compares with the stored one (findContentForReplay). `on conflict do nothing`
 * rather than catching 23505 keeps the transaction usable, and a concurrent insert of the same
 * key waits for the other transaction and then sees its row, so two racing replays of one
 * PutContent both succeed and exactly one emits the event.
 */
export async function insertContent(client: PoolClient, c: NewContent): Promise<ContentRow | undefined> {
  const { rows } = await client.query<ContentRow>(
    `insert into content_objects (storage_key, tenant_id, content_text, content_html, headers, raw_size_bytes, expires)
     values ($1, $2, $3, $4, $5::jsonb, $6, $7)
     on conflict (storage_key) do nothing
     returning ${CONTENT_COLUMNS}`,
    [c.storageKey, c.tenantId, c.contentText, c.contentHtml, c.headersJson, c.rawSizeBytes, c.expires],
  );
  return rows[0];
}
