import type { Queryable } from './rows';

/**
 * Hand-written: who holds these ids, in any tenant (the primary key is global). ImportMessages
 * asks before inserting refs whose ids the caller keeps: an id held by another tenant's ref, or
 * by a ref of this tenant with another client_key, is refused instead of being skipped by the
 * insert's `on conflict do nothing`. The caller names neither the other tenant nor its ref.
 */
export async function selectMessageIds(db: Queryable, ids: string[]): Promise<{ id: string; tenantId: string; clientKey: string | null }[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query<{ id: string; tenantId: string; clientKey: string | null }>(
    `select id, tenant_id as "tenantId", client_key as "clientKey" from inbox_message_refs where id = any($1::uuid[])`,
    [ids],
  );
  return rows;
}
