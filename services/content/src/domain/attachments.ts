import { createHash } from 'node:crypto';
import { AlreadyExistsError, NotFoundError, withTransaction, type EventNames, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { findAttachmentForReplay } from '../db/find-attachment-for-replay';
import { getAttachment as getAttachmentRow } from '../db/get-attachment';
import { upsertBlob } from '../db/upsert-blob';
import { insertAttachment, type NewAttachment } from '../db/insert-attachment';
import { listAttachments as listAttachmentRows } from '../db/list-attachments';
import { lockParent } from '../db/lock-parent';
import type { AttachmentRow } from '../db/rows';
import { contentExists } from '../db/content-exists';
import { emitAttachmentAdded } from './events';

export type { AttachmentRow };

/**
 * The rules of `attachments`: they hang under a live object of the same tenant; their bytes are
 * stored once per tenant and SHA-256 in `blobs`, whose reference count the attachment rows hold.
 */

export const sha256Of = (bytes: Buffer): Buffer => createHash('sha256').update(bytes).digest();

/** A new attachment; `sha256` when the caller computed it already (a stream hashed on the way in). */
export type AddAttachmentInput = Omit<NewAttachment, 'sha256'> & { sha256?: Buffer };

/**
 * Adds an attachment and its AttachmentAdded event in one transaction. The parent must be a
 * live object of the tenant (else NOT_FOUND). A known id with identical fields is a replay
 * (created = false, no event); with other fields, or owned by another tenant, ALREADY_EXISTS.
 */
export async function addAttachment(
  deps: { pool: Pool; names: EventNames },
  add: AddAttachmentInput,
): Promise<{ attachment: AttachmentRow; created: boolean }> {
  const input: NewAttachment = { ...add, sha256: add.sha256 ?? sha256Of(add.content) };
  return withTransaction(deps.pool, async (client) => {
    if (!(await lockParent(client, input.tenantId, input.parentStorageKey)))
      throw new NotFoundError('content_object', input.parentStorageKey);
    const inserted = await insertAttachment(client, input);
    if (inserted) {
      await upsertBlob(client, input.tenantId, input.sha256, input.content);
      await emitAttachmentAdded(client, deps.names, input.tenantId, {
        attachmentId: inserted.id,
        parentStorageKey: inserted.parentStorageKey,
        mimeType: inserted.mimeType,
        sizeBytes: BigInt(inserted.sizeBytes),
        created: inserted.created,
        sha256: inserted.sha256 ?? '',
      });
      return { attachment: inserted, created: true };
    }
    const existing = await findAttachmentForReplay(client, input);
    // A caller-chosen UUID that another tenant holds: refuse without saying anything about it.
    if (!existing) throw new AlreadyExistsError('attachment', input.id, `attachment_id ${input.id} is taken; choose another UUID or leave it empty`);
    if (!existing.same)
      throw new AlreadyExistsError(
        'attachment',
        input.id,
        `attachment_id ${input.id} already holds a different attachment; attachments are immutable: use a new id`,
      );
    const { same: _, ...attachment } = existing;
    return { attachment, created: false };
  });
}

/**
 * One attachment with its bytes; NOT_FOUND when missing, foreign, or its parent expired (an
 * expired object's attachments are gone with it). The bytes are checked against the stored
 * SHA-256 before they leave: a mismatch (storage corruption) is an internal error, never bytes
 * the caller would take for the attachment.
 */
export async function getAttachment(pool: Pool, tenantId: string, id: string): Promise<AttachmentRow & { content: Buffer; sha256: string }> {
  const row = await getAttachmentRow(pool, tenantId, id);
  if (!row) throw new NotFoundError('attachment', id);
  const actual = sha256Of(row.content).toString('hex');
  if (row.sha256 !== null && row.sha256 !== actual)
    throw new Error(`attachment ${id}: the stored bytes do not match their SHA-256 (${row.sha256}); refusing to serve them`);
  return { ...row, sha256: actual };
}

/** Whether the tenant's live object exists (an upload checks its parent before reading its bytes). */
export async function parentExists(pool: Pool, tenantId: string, storageKey: string): Promise<boolean> {
  return contentExists(pool, tenantId, storageKey);
}

/**
 * A page of an object's attachments (`cursor` from the page token, see rpc/attachments.ts).
 * NOT_FOUND when the object is not the tenant's live object, so that "no attachments" and
 * "no such object" stay distinguishable.
 */
export async function listAttachments(
  pool: Pool,
  tenantId: string,
  parentStorageKey: string,
  cursor: KeysetCursor | undefined,
  pageSize: number,
): Promise<{ rows: AttachmentRow[]; next?: KeysetCursor }> {
  if (!(await contentExists(pool, tenantId, parentStorageKey))) throw new NotFoundError('content_object', parentStorageKey);
  return listAttachmentRows(pool, tenantId, parentStorageKey, cursor, pageSize);
}
