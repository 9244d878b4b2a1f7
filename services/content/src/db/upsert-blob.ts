import type { PoolClient } from 'pg';

/**
 * Takes one reference to the tenant's blob of these bytes, storing them when they are new.
 *
 * Hand-written for the upsert: `on conflict do update` row-locks an existing blob, so a
 * concurrent release (the attachments_release_blobs trigger, decrementing to 0 and deleting)
 * either waits for this reference or has already deleted the row, in which case the upsert
 * inserts it again. Called after the attachment row was inserted (the FK is deferred).
 * The bytes travel to the server even when the blob exists: one round trip instead of a probe
 * first; identical uploads are the rare case.
 */
export async function upsertBlob(client: PoolClient, tenantId: string, sha256: Buffer, content: Buffer): Promise<void> {
  await client.query(
    `insert into blobs (tenant_id, sha256, size_bytes, content, ref_count) values ($1, $2, $3, $4, 1)
     on conflict (tenant_id, sha256) do update set ref_count = blobs.ref_count + 1`,
    [tenantId, sha256, content.length, content],
  );
}
