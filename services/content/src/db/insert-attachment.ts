import type { PoolClient } from 'pg';
import { ATTACHMENT_COLUMNS, type AttachmentRow } from './rows';

export interface NewAttachment {
  id: string;
  tenantId: string;
  parentStorageKey: string;
  filename: string | null;
  mimeType: string;
  /** Length of the bytes (they go to `blobs`: upsertBlob or insertBlobFromParts; the row keeps their digest). */
  sizeBytes: number;
  /** SHA-256 of the bytes (32 bytes). */
  sha256: Buffer;
  storageDisposition: string;
}

/**
 * Inserts an attachment row naming its blob by digest, or does nothing when the id exists
 * (undefined; see findAttachmentForReplay). The blob is written after, and only for a new row
 * (upsertBlob): the foreign key to blobs is deferred to the commit.
 */
export async function insertAttachment(client: PoolClient, a: NewAttachment): Promise<AttachmentRow | undefined> {
  const { rows } = await client.query<AttachmentRow>(
    `insert into attachments (id, tenant_id, parent_storage_key, filename, mime_type, size_bytes, sha256, storage_disposition)
     values ($1, $2, $3, $4, $5, $6, $7, $8)
     on conflict (id) do nothing
     returning ${ATTACHMENT_COLUMNS}`,
    [a.id, a.tenantId, a.parentStorageKey, a.filename, a.mimeType, a.sizeBytes, a.sha256, a.storageDisposition],
  );
  return rows[0];
}
