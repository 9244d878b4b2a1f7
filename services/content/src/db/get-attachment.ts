import type { Pool } from 'pg';
import { ATTACHMENT_BYTES, ATTACHMENT_COLUMNS, LIVE_ATTACHMENT_BY_ID, type AttachmentRow } from './rows';

/**
 * One attachment of one tenant with its bytes, when its parent is live (not expired); the
 * bytes from its blob, or inline for a row a previous version wrote. Hand-written: the bytes
 * come from another table by (tenant_id, sha256) and the parent's expiry is checked in the
 * same statement.
 */
export async function getAttachment(pool: Pool, tenantId: string, id: string): Promise<(AttachmentRow & { content: Buffer }) | undefined> {
  const { rows } = await pool.query<AttachmentRow & { content: Buffer }>(
    `select ${ATTACHMENT_COLUMNS}, ${ATTACHMENT_BYTES} as content
       from attachments
      where ${LIVE_ATTACHMENT_BY_ID}`,
    [id, tenantId],
  );
  return rows[0];
}
