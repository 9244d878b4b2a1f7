import { createHash } from 'node:crypto';
import { AlreadyExistsError, NotFoundError, withTransaction, type EventNames, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { findAttachmentForReplay } from '../db/find-attachment-for-replay';
import { getAttachment as getAttachmentRow } from '../db/get-attachment';
import { upsertBlob } from '../db/upsert-blob';
import { insertBlobFromParts } from '../db/insert-blob-from-parts';
import { deleteUploadParts } from '../db/delete-upload-parts';
import { insertUploadPart } from '../db/insert-upload-part';
import { getAttachmentMeta } from '../db/get-attachment-meta';
import { readAttachmentSlice } from '../db/read-attachment-slice';
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

/**
 * A new attachment's bytes: in memory (`content`; AddAttachment, small uploads; `sha256` when the
 * caller hashed them already), or staged in attachment_upload_parts by an upload stream
 * (`uploadId`, with their size and the SHA-256 computed on the way in).
 */
export type AttachmentBytes = { content: Buffer; sha256?: Buffer } | { uploadId: string; sizeBytes: number; sha256: Buffer };

/** A new attachment: its fields and its bytes. */
export type AddAttachmentInput = Omit<NewAttachment, 'sha256' | 'sizeBytes'> & AttachmentBytes;

/**
 * Adds an attachment and its AttachmentAdded event in one transaction. The parent must be a
 * live object of the tenant (else NOT_FOUND). A known id with identical fields is a replay
 * (created = false, no event); with other fields, or owned by another tenant, ALREADY_EXISTS.
 * Staged bytes are assembled into the blob in the database, and their parts deleted, in the
 * same transaction.
 */
export async function addAttachment(
  deps: { pool: Pool; names: EventNames },
  add: AddAttachmentInput,
): Promise<{ attachment: AttachmentRow; created: boolean }> {
  const staged = 'uploadId' in add ? add : undefined;
  const inMemory = 'content' in add ? add : undefined;
  const { id, tenantId, parentStorageKey, filename, mimeType, storageDisposition } = add;
  const input: NewAttachment = {
    id,
    tenantId,
    parentStorageKey,
    filename,
    mimeType,
    storageDisposition,
    sizeBytes: staged ? staged.sizeBytes : inMemory!.content.length,
    sha256: staged ? staged.sha256 : (inMemory!.sha256 ?? sha256Of(inMemory!.content)),
  };
  return withTransaction(deps.pool, async (client) => {
    if (!(await lockParent(client, input.tenantId, input.parentStorageKey)))
      throw new NotFoundError('content_object', input.parentStorageKey);
    const inserted = await insertAttachment(client, input);
    if (staged) {
      // A replay (not inserted) stores nothing: its parts only go.
      if (inserted && !(await insertBlobFromParts(client, { tenantId, sha256: input.sha256, sizeBytes: input.sizeBytes, uploadId: staged.uploadId })))
        throw new Error(`upload ${staged.uploadId}: the staged parts do not add up to ${input.sizeBytes} bytes (removed while the upload was in progress?)`);
      await deleteUploadParts(client, staged.uploadId);
    }
    if (inserted) {
      if (inMemory) await upsertBlob(client, input.tenantId, input.sha256, inMemory.content);
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

/**
 * One attachment's metadata for a download, its stored bytes' digest verified in the database
 * (corruption is an internal error before the first byte leaves); NOT_FOUND as getAttachment.
 */
export async function openAttachment(pool: Pool, tenantId: string, id: string): Promise<AttachmentRow & { sha256: string }> {
  const row = await getAttachmentMeta(pool, tenantId, id);
  if (!row) throw new NotFoundError('attachment', id);
  const { actual, ...meta } = row;
  if (meta.sha256 !== null && meta.sha256 !== actual)
    throw new Error(`attachment ${id}: the stored bytes do not match their SHA-256 (${meta.sha256}); refusing to serve them`);
  return { ...meta, sha256: actual };
}

/**
 * `length` bytes of an opened attachment from `offset`. NOT_FOUND when it was deleted since it
 * was opened (a download in progress ends instead of sending a short file).
 */
export async function readSlice(pool: Pool, tenantId: string, id: string, offset: number, length: number): Promise<Buffer> {
  const data = await readAttachmentSlice(pool, tenantId, id, offset, length);
  if (!data || (data.length !== length && length > 0)) throw new NotFoundError('attachment', id);
  return data;
}

/** Stages one group of an upload's chunks (see src/db/insert-upload-part.ts). */
export async function stageUploadPart(pool: Pool, part: { uploadId: string; seq: number; tenantId: string; data: Buffer }): Promise<void> {
  await insertUploadPart(pool, part);
}

/** Removes what an upload staged (the stream broke, or was refused at its end). */
export async function discardUpload(pool: Pool, uploadId: string): Promise<void> {
  await deleteUploadParts(pool, uploadId);
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
