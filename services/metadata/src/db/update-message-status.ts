import { MESSAGE_COLUMNS, type MessageRow, type Queryable } from './rows';

/**
 * Hand-written: runs in the transaction that locked the ref with selectMessage(…, lock), on
 * the same client, and returns the new row for the event. The transition is the domain's to judge.
 */
export async function updateMessageStatus(db: Queryable, tenantId: string, id: string, status: string): Promise<MessageRow> {
  const { rows } = await db.query<MessageRow>(
    `update inbox_message_refs set status = $3, updated = now() where tenant_id = $1 and id = $2 returning ${MESSAGE_COLUMNS}`,
    [tenantId, id, status],
  );
  return rows[0];
}
