import type { Queryable } from './rows';

/** Advisory lock class of storage keys (two-key form, so it never meets the kit's one-key locks). */
const CONTENT_KEY_LOCK_CLASS = 0x636b;

/**
 * Hand-written: transaction-scoped advisory locks on storage keys (hashed), taken in sorted
 * order so two holders never wait on each other in a cycle. The writers of a key's state take
 * them before they read or write it: recordMessages before inserting refs (which read
 * content_keys), the content-events consumer before updating content_keys and the refs.
 * Without them a ref inserted while the consumer commits would read content_keys before the
 * event and be missed by the consumer's update (still uncommitted): PENDING for ever. No rows
 * are written; a hash collision only makes two unrelated keys wait for each other.
 */
export async function lockContentKeys(db: Queryable, storageKeys: string[]): Promise<void> {
  if (storageKeys.length === 0) return;
  await db.query(
    `select pg_advisory_xact_lock($1::int, h)
       from (select distinct hashtext(k) as h from unnest($2::text[]) as k order by 1) s`,
    [CONTENT_KEY_LOCK_CLASS, storageKeys],
  );
}
