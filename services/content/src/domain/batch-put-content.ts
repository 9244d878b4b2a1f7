import { contentV1 } from '@penguinmails/contracts';
import { withTransaction, type EventNames } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { deleteExpiredContentKeys } from '../db/delete-expired-content-keys';
import { findContentForBatchReplay } from '../db/find-content-for-batch-replay';
import { insertContentBatch } from '../db/insert-content-batch';
import type { ContentRow } from '../db/rows';
import type { PutContentInput } from './content';
import { emitContentDeleted, emitContentStoredMany } from './events';

/** What happened to one item of a batch (BatchPutOutcome). */
export type BatchPutOutcome = 'created' | 'existing' | 'conflict';

export interface BatchPutResult {
  storageKey: string;
  outcome: BatchPutOutcome;
  /** The stored object (created, existing) or the one holding the key (conflict; undefined if it vanished meanwhile). */
  content?: ContentRow;
  /** conflict: PutContent's ALREADY_EXISTS message for this key. */
  message?: string;
}

/**
 * PutContent's ALREADY_EXISTS text for a key that holds other content (domain/content.ts
 * putContent builds the same; test/batch-put.test.ts compares the two, so they cannot drift).
 */
export function conflictMessage(storageKey: string, differ: string[] | undefined): string {
  if (!differ) return `content_object ${storageKey} already exists`;
  return `storage_key ${storageKey} already holds different content (${differ.join(', ')} differ); content is immutable: use a new key, or DeleteContent first`;
}

/**
 * Stores many objects of one tenant in one transaction: PutContent's rules per item, in a
 * constant number of statements (expired keys cleared, one multi-row insert, one multi-row
 * ContentStored outbox insert, one replay comparison for the keys that were taken).
 *
 * Per item, exactly as PutContent: a new key is stored (`created`, ContentStored); the same
 * text, html and headers under a stored key is `existing` (nothing written, no event); other
 * content is `conflict` with PutContent's message (nothing written for it), and the other
 * items are stored all the same. An expired object under a key is deleted first with its
 * ContentDeleted (EXPIRED), so the key is reusable. Keys are distinct (the handler checks it)
 * and of `tenantId` (the prefix check). Results in input order.
 */
export async function batchPutContent(
  deps: { pool: Pool; names: EventNames },
  tenantId: string,
  items: PutContentInput[],
): Promise<BatchPutResult[]> {
  // Sorted by key: concurrent batches with overlapping keys lock them in one order (no deadlock).
  const sorted = [...items].sort((a, b) => (a.storageKey < b.storageKey ? -1 : a.storageKey > b.storageKey ? 1 : 0));
  return withTransaction(deps.pool, async (client) => {
    const expired = await deleteExpiredContentKeys(client, tenantId, sorted.map((i) => i.storageKey));
    await emitContentDeleted(client, deps.names, expired, contentV1.DeletionReason.DELETION_REASON_EXPIRED);

    const inserted = new Map((await insertContentBatch(client, sorted)).map((r) => [r.storageKey, r]));
    const input = new Map(items.map((i) => [i.storageKey, i]));
    await emitContentStoredMany(
      client,
      deps.names,
      tenantId,
      [...inserted.values()].map((row) => {
        const sizes = input.get(row.storageKey)!.sizes;
        return {
          storageKey: row.storageKey,
          rawSizeBytes: BigInt(row.rawSizeBytes),
          textSizeBytes: BigInt(sizes.text),
          htmlSizeBytes: BigInt(sizes.html),
          headersSizeBytes: BigInt(sizes.headers),
          created: row.created,
          expires: row.expires ?? undefined,
        };
      }),
    );

    const taken = sorted.filter((i) => !inserted.has(i.storageKey));
    const stored = new Map((await findContentForBatchReplay(client, tenantId, taken)).map((r) => [r.storageKey, r]));
    return items.map((item): BatchPutResult => {
      const row = inserted.get(item.storageKey);
      if (row) return { storageKey: item.storageKey, outcome: 'created', content: row };
      const existing = stored.get(item.storageKey);
      // Taken but not found: deleted by another transaction between our insert and this read.
      if (!existing) return { storageKey: item.storageKey, outcome: 'conflict', message: conflictMessage(item.storageKey, undefined) };
      const { sameText, sameHtml, sameHeaders, ...content } = existing;
      const differ = [sameText ? '' : 'content_text', sameHtml ? '' : 'content_html', sameHeaders ? '' : 'headers'].filter(Boolean);
      if (differ.length) return { storageKey: item.storageKey, outcome: 'conflict', content, message: conflictMessage(item.storageKey, differ) };
      return { storageKey: item.storageKey, outcome: 'existing', content };
    });
  });
}
