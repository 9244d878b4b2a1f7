import { MESSAGE_COLUMNS, type MessageRow, type Queryable } from './rows';

/**
 * Hand-written: the message refs are the hot table, read with MESSAGE_COLUMNS like every other
 * ref query here; `lock` adds `for update` so a status transition is judged on a row no one
 * else can change until the transaction ends. Undefined if the tenant has no such ref.
 */
export async function selectMessage(db: Queryable, tenantId: string, id: string, lock = false): Promise<MessageRow | undefined> {
  const { rows } = await db.query<MessageRow>(
    `select ${MESSAGE_COLUMNS} from inbox_message_refs where tenant_id = $1 and id = $2${lock ? ' for update' : ''}`,
    [tenantId, id],
  );
  return rows[0];
}
