import { listPage, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { ATTACHMENT_COLUMNS, type AttachmentRow } from './rows';

/**
 * One page of an object's attachments in the order they were added (created, id): the kit's
 * keyset paging (`listPage`, order 'asc'), so attachments added meanwhile never shift a page.
 * The scan is the index attachments_parent_created_idx (parent_storage_key, created, id): a
 * page is an index range scan of size + 1 entries.
 */
export async function listAttachments(
  pool: Pool,
  tenantId: string,
  parentStorageKey: string,
  cursor: KeysetCursor | undefined,
  size: number,
): Promise<{ rows: AttachmentRow[]; next?: KeysetCursor }> {
  return listPage<AttachmentRow>(pool, {
    table: 'attachments',
    columns: ATTACHMENT_COLUMNS,
    tenantId,
    filters: [['parent_storage_key', parentStorageKey]],
    cursor,
    size,
    order: 'asc',
  });
}
