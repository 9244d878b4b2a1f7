import type { Pool } from 'pg';

/**
 * Stages one group of an upload's chunks (attachment_upload_parts), outside any transaction:
 * a slow client never holds a pooled connection between two groups. Named: one parse per
 * connection for the statement every ~1 MiB of every upload runs.
 */
export async function insertUploadPart(pool: Pool, part: { uploadId: string; seq: number; tenantId: string; data: Buffer }): Promise<void> {
  await pool.query({
    name: 'content-insert-upload-part',
    text: 'insert into attachment_upload_parts (upload_id, seq, tenant_id, data) values ($1, $2, $3, $4)',
    values: [part.uploadId, part.seq, part.tenantId, part.data],
  });
}
