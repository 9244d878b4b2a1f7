import type { PoolClient } from 'pg';

export interface DeletedContent {
  storageKey: string;
  tenantId: string;
  attachmentsDeleted: number;
}

/**
 * Deletes up to `limit` expired objects (their attachments go by the FK's cascade), oldest
 * expiry first, or only `storageKey` when given (PutContent reusing an expired key).
 *
 * `for update skip locked` lets several replicas sweep at once without waiting on each other;
 * the scan is the partial index content_objects_expires_idx. The attachment count in
 * `returning` reads the statement's snapshot, i.e. before the cascade.
 */
export async function deleteExpiredContent(
  client: PoolClient,
  opts: { limit: number; storageKey?: string },
): Promise<DeletedContent[]> {
  const { rows } = await client.query<DeletedContent>(
    `delete from content_objects c
      where c.storage_key in (
              select storage_key from content_objects
               where expires <= now() and ($2::varchar is null or storage_key = $2)
               order by expires
               limit $1
                 for update skip locked)
      returning c.storage_key as "storageKey", c.tenant_id as "tenantId",
                (select count(*) from attachments a where a.parent_storage_key = c.storage_key)::int as "attachmentsDeleted"`,
    [opts.limit, opts.storageKey ?? null],
  );
  return rows;
}
