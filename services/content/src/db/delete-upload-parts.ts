import type { Pool, PoolClient } from 'pg';

/** Deletes an upload's staged parts (its transaction stored them as a blob, or the stream broke). */
export async function deleteUploadParts(db: Pool | PoolClient, uploadId: string): Promise<void> {
  await db.query('delete from attachment_upload_parts where upload_id = $1', [uploadId]);
}
