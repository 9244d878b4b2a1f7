import { MESSAGE_COLUMNS, type MessageRow, type Queryable } from './rows';

/**
 * Hand-written: `coalesce(processed, …)` sets `processed` once in a single statement (a repeat
 * keeps the first time, with no read-then-write race). Undefined if the tenant has no such ref.
 */
export async function markMessageProcessed(db: Queryable, tenantId: string, id: string, at: Date | undefined): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>(
    `update inbox_message_refs set processed = coalesce(processed, $3::timestamptz, now())
      where tenant_id = $1 and id = $2 returning ${MESSAGE_COLUMNS}`,
    [tenantId, id, at ?? null],
  );
  return rows[0];
}
