import { firstSeen, withTransaction } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { lockContentKeys } from '../db/lock-content-keys';
import { updateContentStates } from '../db/update-content-states';
import { upsertContentKeys, type ContentKeyState } from '../db/upsert-content-keys';

// content_keys: what the content tier's events (ContentStored, ContentDeleted) last said about
// each storage key, and the content_state of the refs that name it. Written only by the
// content-events consumer (consumers/content-events.ts); read by insertMessages.

/** One content event, as the consumer decoded it. */
export interface ContentKeyChange extends ContentKeyState {
  eventId: string;
}

/** `a` replaces `b`: later, or as late and `stored` (upsertContentKeys' rule; else stream order). */
function newer(a: ContentKeyChange, b: ContentKeyChange): boolean {
  const d = a.at.getTime() - b.at.getTime();
  return d > 0 || (d === 0 && (a.state === 'stored' || b.state !== 'stored'));
}

/**
 * Applies a batch of content events in one transaction, exactly once per event id: the kit's
 * `firstSeen` records the ids in consumed_events in this same transaction, so a redelivered
 * batch (a crash before the ack) changes nothing. Per key the newest change wins (by the time
 * the content tier made it; see newer), in content_keys and then in every ref naming
 * the key. The keys' advisory locks order this against recordMessages' inserts.
 */
export async function applyContentKeyChanges(pool: Pool, consumer: string, changes: ContentKeyChange[]): Promise<{ applied: number; refs: number }> {
  if (changes.length === 0) return { applied: 0, refs: 0 };
  return withTransaction(pool, async (c) => {
    const fresh = await firstSeen(c, consumer, [...new Set(changes.map((ch) => ch.eventId))]);
    const newest = new Map<string, ContentKeyChange>();
    let applied = 0;
    for (const ch of changes) {
      if (!fresh.delete(ch.eventId)) continue; // seen before, or a second copy in this batch
      applied++;
      const key = `${ch.tenantId}\n${ch.storageKey}`;
      const prev = newest.get(key);
      if (!prev || newer(ch, prev)) newest.set(key, ch);
    }
    const keys = [...newest.values()];
    if (keys.length === 0) return { applied: 0, refs: 0 };
    await lockContentKeys(c, keys.map((k) => k.storageKey));
    await upsertContentKeys(c, keys);
    const refs = await updateContentStates(c, keys);
    return { applied, refs };
  });
}
