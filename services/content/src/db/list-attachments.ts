import type { Pool } from 'pg';
import { ATTACHMENT_COLUMNS, type AttachmentRow } from './rows';

/**
 * Keyset cursor of ListAttachments: the last row's `created` in microseconds (as text: a JS
 * Date has milliseconds and would repeat or skip rows created within one millisecond) and id.
 */
export interface AttachmentCursor {
  c: string;
  i: string;
}

/**
 * One page of an object's attachments in the order they were added (created, id), through the
 * index attachments_parent_created_idx: a page is an index range scan of size + 1 entries.
 * Keyset rather than offset so that attachments added meanwhile never shift a page.
 */
export async function listAttachments(
  pool: Pool,
  tenantId: string,
  parentStorageKey: string,
  cursor: AttachmentCursor | undefined,
  size: number,
): Promise<{ rows: AttachmentRow[]; next?: AttachmentCursor }> {
  const values: unknown[] = [parentStorageKey, tenantId, size + 1];
  let seek = '';
  if (cursor) {
    values.push(cursor.c, cursor.i);
    seek = `and (created, id) > (timestamptz 'epoch' + ($4::bigint * interval '1 microsecond'), $5::uuid)`;
  }
  const { rows } = await pool.query<AttachmentRow & { cursorUs: string }>(
    `select ${ATTACHMENT_COLUMNS}, (extract(epoch from created) * 1000000)::bigint::text as "cursorUs"
       from attachments
      where parent_storage_key = $1 and tenant_id = $2 ${seek}
      order by created, id
      limit $3`,
    values,
  );
  const page = rows.slice(0, size).map(({ cursorUs: _, ...r }) => r);
  if (rows.length <= size) return { rows: page };
  const last = rows[size - 1];
  return { rows: page, next: { c: last.cursorUs, i: last.id } };
}
