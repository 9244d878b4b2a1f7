import { AlreadyExistsError, NotFoundError, withTransaction, type EventNames, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { findAttachmentForReplay } from '../db/find-attachment-for-replay';
import { insertAttachment, type NewAttachment } from '../db/insert-attachment';
import { listAttachments as listAttachmentRows } from '../db/list-attachments';
import { lockParent } from '../db/lock-parent';
import type { PrismaClient } from '../db/prisma';
import type { AttachmentRow } from '../db/rows';
import { contentExists } from '../db/content-exists';
import { emitAttachmentAdded } from './events';

export type { AttachmentRow };

/** The rules of `attachments`: they hang under a live object of the same tenant. */

/**
 * Adds an attachment and its AttachmentAdded event in one transaction. The parent must be a
 * live object of the tenant (else NOT_FOUND). A known id with identical fields is a replay
 * (created = false, no event); with other fields, or owned by another tenant, ALREADY_EXISTS.
 */
export async function addAttachment(
  deps: { pool: Pool; names: EventNames },
  input: NewAttachment,
): Promise<{ attachment: AttachmentRow; created: boolean }> {
  return withTransaction(deps.pool, async (client) => {
    if (!(await lockParent(client, input.tenantId, input.parentStorageKey)))
      throw new NotFoundError('content_object', input.parentStorageKey);
    const inserted = await insertAttachment(client, input);
    if (inserted) {
      await emitAttachmentAdded(client, deps.names, input.tenantId, {
        attachmentId: inserted.id,
        parentStorageKey: inserted.parentStorageKey,
        mimeType: inserted.mimeType,
        sizeBytes: BigInt(inserted.sizeBytes),
        created: inserted.created,
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
 * One attachment with its bytes (Prisma: plain CRUD by primary key); NOT_FOUND when missing,
 * foreign, or its parent expired (an expired object's attachments are gone with it).
 */
export async function getAttachment(prisma: PrismaClient, tenantId: string, id: string): Promise<AttachmentRow & { content: Uint8Array }> {
  const row = await prisma.attachment.findFirst({
    where: { id, tenantId, parent: { OR: [{ expires: null }, { expires: { gt: new Date() } }] } },
  });
  if (!row) throw new NotFoundError('attachment', id);
  return row;
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
