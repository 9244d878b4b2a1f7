import { MESSAGE_COLUMNS, type MessageRow, type Queryable } from './rows';

/**
 * Hand-written: sets the status of several refs in one statement (unnest of id, status),
 * returning the new rows for their MessageStatusChanged events. Run it on refs locked with
 * lockMessages in the same transaction; the transitions are the domain's to judge.
 */
export async function updateMessageStatuses(db: Queryable, tenantId: string, changes: { id: string; status: string }[]): Promise<MessageRow[]> {
  if (changes.length === 0) return [];
  const { rows } = await db.query<MessageRow>(
    `update inbox_message_refs set status = u.new_status, updated = now()
       from unnest($2::uuid[], $3::varchar[]) as u(mid, new_status)
      where tenant_id = $1 and id = u.mid
      returning ${MESSAGE_COLUMNS}`,
    [tenantId, changes.map((c) => c.id), changes.map((c) => c.status)],
  );
  return rows;
}
