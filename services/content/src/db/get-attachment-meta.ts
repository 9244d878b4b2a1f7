import type { Pool } from 'pg';
import { ATTACHMENT_BYTES, ATTACHMENT_COLUMNS, LIVE_ATTACHMENT_BY_ID, type AttachmentRow } from './rows';

/**
 * One live attachment of one tenant without its bytes, with the SHA-256 of the bytes as stored,
 * computed by PostgreSQL (`actual`, hex): DownloadAttachment checks the digest before it sends
 * the first byte, then reads the bytes in slices (readAttachmentSlice), so they are never
 * loaded whole into the service. Undefined when missing, foreign, or its parent expired.
 */
export async function getAttachmentMeta(pool: Pool, tenantId: string, id: string): Promise<(AttachmentRow & { actual: string }) | undefined> {
  const { rows } = await pool.query<AttachmentRow & { actual: string }>(
    `select ${ATTACHMENT_COLUMNS}, encode(sha256(${ATTACHMENT_BYTES}), 'hex') as actual
       from attachments
      where ${LIVE_ATTACHMENT_BY_ID}`,
    [id, tenantId],
  );
  return rows[0];
}
