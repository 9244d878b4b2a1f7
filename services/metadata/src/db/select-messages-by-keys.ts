import { MESSAGE_COLUMNS, type MessageRow, type Queryable } from './rows';

/**
 * Hand-written: `= any(array)` over both idempotency keys in one statement. The existing refs
 * for keys insertMessages skipped as duplicates (unique indexes (tenant_id, provider_message_id)
 * and (tenant_id, client_key)).
 */
export async function selectMessagesByKeys(db: Queryable, tenantId: string, providerMessageIds: string[], clientKeys: string[]): Promise<MessageRow[]> {
  const { rows } = await db.query<MessageRow>(
    `select ${MESSAGE_COLUMNS} from inbox_message_refs
      where tenant_id = $1 and (provider_message_id = any($2::varchar[]) or client_key = any($3::varchar[]))`,
    [tenantId, providerMessageIds, clientKeys],
  );
  return rows;
}
