import { MESSAGE_COLUMNS, type MessageRow, type Queryable } from './rows';

/**
 * Hand-written: `for update` on several refs in id order (the parents a batch of replies and
 * bounces changes), so two batches touching the same parents lock them in the same order and
 * never deadlock; the content-events consumer locks refs in id order too.
 */
export async function lockMessages(db: Queryable, tenantId: string, ids: string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<MessageRow>(
    `select ${MESSAGE_COLUMNS} from inbox_message_refs where tenant_id = $1 and id = any($2::uuid[]) order by id for update`,
    [tenantId, ids],
  );
  return rows;
}
