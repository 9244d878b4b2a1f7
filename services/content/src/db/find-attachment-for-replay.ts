import type { PoolClient } from 'pg';
import { ATTACHMENT_COLUMNS, type AttachmentRow } from './rows';
import type { NewAttachment } from './insert-attachment';

/**
 * The attachment stored under an id insertAttachment found taken, and whether every field
 * equals the new request (bytes compared in SQL, so they never travel back). Undefined when
 * the id belongs to another tenant: that row is not this caller's to see.
 */
export async function findAttachmentForReplay(
  client: PoolClient,
  a: NewAttachment,
): Promise<(AttachmentRow & { same: boolean }) | undefined> {
  const { rows } = await client.query(
    `select ${ATTACHMENT_COLUMNS},
            (parent_storage_key = $3 and filename is not distinct from $4 and mime_type = $5
              and storage_disposition = $6 and coalesce(sha256, sha256(content)) = $7) as same
       from attachments
      where id = $1 and tenant_id = $2`,
    [a.id, a.tenantId, a.parentStorageKey, a.filename, a.mimeType, a.storageDisposition, a.sha256],
  );
  return rows[0];
}
