import type { Queryable } from './rows';

/**
 * Hand-written: sets the content_state of every ref naming one of the keys to what
 * content_keys now holds for it (so the order events were applied in does not matter), in one
 * statement through the (tenant_id, content_storage_key) index. The refs are locked in id
 * order, like every other multi-ref writer. Returns how many refs changed.
 */
export async function updateContentStates(db: Queryable, keys: { tenantId: string; storageKey: string }[]): Promise<number> {
  if (keys.length === 0) return 0;
  const res = await db.query(
    `with k as (
       select c.tenant_id, c.storage_key, c.state
         from content_keys c join unnest($1::uuid[], $2::varchar[]) as u(tenant_id, storage_key)
           on c.tenant_id = u.tenant_id and c.storage_key = u.storage_key),
     t as (
       select r.id, k.state from inbox_message_refs r
         join k on r.tenant_id = k.tenant_id and r.content_storage_key = k.storage_key
        where r.content_state <> k.state
        order by r.id for update of r)
     update inbox_message_refs r set content_state = t.state from t where r.id = t.id`,
    [keys.map((k) => k.tenantId), keys.map((k) => k.storageKey)],
  );
  return res.rowCount ?? 0;
}
