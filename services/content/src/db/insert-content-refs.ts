import type { PoolClient } from 'pg';

/** A storage key a message ref names, as a MessageRecorded event told it. */
export interface NewContentRef {
  tenantId: string;
  storageKey: string;
  /** The ref's id; null when unknown. */
  messageId: string | null;
}

/**
 * Records the keys of a batch of MessageRecorded events in one statement (a consumer batch is
 * up to 500 events; one `unnest` insert instead of 500 round trips). The first ref of a key is
 * kept (`on conflict do nothing`): a key named twice is referenced either way.
 */
export async function insertContentRefs(client: PoolClient, refs: NewContentRef[]): Promise<number> {
  if (!refs.length) return 0;
  const res = await client.query(
    `insert into content_refs (tenant_id, storage_key, message_id)
     select * from unnest($1::uuid[], $2::varchar[], $3::uuid[])
     on conflict do nothing`,
    [refs.map((r) => r.tenantId), refs.map((r) => r.storageKey), refs.map((r) => r.messageId)],
  );
  return res.rowCount ?? 0;
}
