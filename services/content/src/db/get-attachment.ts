import type { Pool } from 'pg';
import { ATTACHMENT_COLUMNS, type AttachmentRow } from './rows';

/**
 * One attachment of one tenant with its bytes, when its parent is live (not expired); the
 * bytes from its blob, or inline for a row a previous version wrote. Hand-written: the bytes
 * come from another table by (tenant_id, sha256) and the parent's expiry is checked in the
 * same statement.
 */
export async function getAttachment(pool: Pool, tenantId: string, id: string): Promise<(AttachmentRow & { content: Buffer }) | undefined> {
  const { rows } = await pool.query<AttachmentRow & { content: Buffer }>(
    `select ${ATTACHMENT_COLUMNS},
            coalesce((select b.content from blobs b where b.tenant_id = attachments.tenant_id and b.sha256 = attachments.sha256),
                     attachments.content) as content
       from attachments
      where id = $1 and tenant_id = $2
        and exists (select 1 from content_objects c
                     where c.storage_key = attachments.parent_storage_key and (c.expires is null or c.expires > now()))`,
    [id, tenantId],
  );
  return rows[0];
}
