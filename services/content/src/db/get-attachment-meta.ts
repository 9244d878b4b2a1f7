import type { Pool } from 'pg';
import { ATTACHMENT_COLUMNS, type AttachmentRow } from './rows';

/**
 * One live attachment of one tenant without its bytes, with the SHA-256 of the bytes as stored,
 * computed by PostgreSQL (`actual`, hex): DownloadAttachment checks the digest before it sends
 * the first byte, then reads the bytes in slices (readAttachmentSlice), so they are never
 * loaded whole into the service. Undefined when missing, foreign, or its parent expired.
 */
export async function getAttachmentMeta(pool: Pool, tenantId: string, id: string): Promise<(AttachmentRow & { actual: string }) | undefined> {
  const { rows } = await pool.query<AttachmentRow & { actual: string }>(
    `select ${ATTACHMENT_COLUMNS},
            encode(sha256(coalesce((select b.content from blobs b where b.tenant_id = attachments.tenant_id and b.sha256 = attachments.sha256),
                                   attachments.content)), 'hex') as actual
       from attachments
      where id = $1 and tenant_id = $2
        and exists (select 1 from content_objects c
                     where c.storage_key = attachments.parent_storage_key and (c.expires is null or c.expires > now()))`,
    [id, tenantId],
  );
  return rows[0];
}
