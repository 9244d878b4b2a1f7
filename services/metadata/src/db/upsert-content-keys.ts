import type { Queryable } from './rows';

/** What one content event says about a storage key. */
export interface ContentKeyState {
  tenantId: string;
  storageKey: string;
  /** stored | expired | deleted */
  state: string;
  /** When the content tier made the change (the event's occurred_at). */
  at: Date;
}

/**
 * Hand-written: an upsert of several keys in one statement that keeps the newest: a row is
 * replaced only by a more recent change, so an old event redelivered after a newer one (a
 * failed batch is retried later) cannot bring back a stale state. On a tie `stored` wins: the
 * content tier deletes an expired object and stores a new one under its key in one
 * transaction, within the same millisecond. Each key at most once per call (the domain keeps
 * the newest of a batch, by the same rule).
 */
export async function upsertContentKeys(db: Queryable, keys: ContentKeyState[]): Promise<void> {
  if (keys.length === 0) return;
  await db.query(
    `insert into content_keys (tenant_id, storage_key, state, updated)
     select * from unnest($1::uuid[], $2::varchar[], $3::varchar[], $4::timestamptz[])
     on conflict (tenant_id, storage_key) do update set state = excluded.state, updated = excluded.updated
      where content_keys.updated < excluded.updated or (content_keys.updated = excluded.updated and excluded.state = 'stored')`,
    [keys.map((k) => k.tenantId), keys.map((k) => k.storageKey), keys.map((k) => k.state), keys.map((k) => k.at)],
  );
}
