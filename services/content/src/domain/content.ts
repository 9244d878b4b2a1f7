import { contentV1 } from '@penguinmails/contracts';
import { AlreadyExistsError, DeadlineExceededError, NotFoundError, inStatementTransactionSpan, remainingMs, withTransaction, type EventNames } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { batchGetContent as batchGetContentRows, type BatchContentRow } from '../db/batch-get-content';
import { deleteContent as deleteContentRow } from '../db/delete-content';
import { findContentForReplay } from '../db/find-content-for-replay';
import { getContent as getContentRow, type ContentWithBodies } from '../db/get-content';
import type { NewContent } from '../db/insert-content';
import { insertContentWithEvent } from '../db/insert-content-with-event';
import type { ContentRow, DeletedContent } from '../db/rows';
import { setExpiry as setExpiryRow } from '../db/set-expiry';
import { contentStoredEventRow, emitContentDeleted, emitContentExpirySet } from './events';
import { deleteExpired } from './retention';

export type { BatchContentRow, ContentRow, ContentWithBodies };

/** The rules of `content_objects`: idempotent writes, tenant-scoped reads, deletes with events. */

/** A validated PutContent (see rpc/content.ts), sizes already measured. */
export interface PutContentInput extends NewContent {
  sizes: { text: number; html: number; headers: number };
}

/**
 * Stores a new object and its ContentStored event atomically, or answers a replay.
 *
 * Same key + same text, html and headers: the stored object, created = false, no event. Same
 * key + anything else: ALREADY_EXISTS naming the fields that differ. An expired object under
 * the key (not yet swept) is deleted first, with its ContentDeleted event, so the key is reusable
 * as soon as it expires.
 *
 * A new key (the common case) is one statement, no transaction (src/db/insert-content-with-event.ts);
 * only a taken key takes the transaction that frees an expired object or compares a replay. Like
 * withTransaction, it refuses to start after the call's deadline; the statement itself is capped
 * by the pool's statement_timeout (GRPC_MAX_CALL_MS), so the window in which a caller that got
 * DEADLINE_EXCEEDED finds the object stored is that one statement (a retry with the same key is
 * then a replay).
 */
export async function putContent(
  deps: { pool: Pool; names: EventNames; outboxWritten?: () => void },
  input: PutContentInput,
): Promise<{ content: ContentRow; created: boolean }> {
  const created = new Date();
  // Built where the outbox row is written, so a traced row carries that span's context.
  const eventRow = () =>
    contentStoredEventRow(deps.names, input.tenantId, {
      storageKey: input.storageKey,
      rawSizeBytes: BigInt(input.rawSizeBytes),
      textSizeBytes: BigInt(input.sizes.text),
      htmlSizeBytes: BigInt(input.sizes.html),
      headersSizeBytes: BigInt(input.sizes.headers),
      created,
      expires: input.expires ?? undefined,
    });
  const left = remainingMs();
  if (left !== undefined && left <= 0) throw new DeadlineExceededError('the deadline passed before the object could be stored; nothing was written');
  const inserted = await inStatementTransactionSpan(() => insertContentWithEvent(deps.pool, { ...input, created }, eventRow()));
  if (inserted) {
    deps.outboxWritten?.(); // committed without a NOTIFY: wake the relay here
    return { content: inserted, created: true };
  }

  const res = await withTransaction(deps.pool, async (client) => {
    if (await deleteExpired(client, deps.names, { limit: 1, storageKey: input.storageKey })) {
      const again = await insertContentWithEvent(client, { ...input, created }, eventRow());
      if (again) return { content: again, created: true };
    }
    const existing = await findContentForReplay(client, input);
    // Keys start with their tenant's id (a check constraint), so a taken key is this tenant's.
    if (!existing) throw new AlreadyExistsError('content_object', input.storageKey);
    const differ = [
      existing.sameText ? '' : 'content_text',
      existing.sameHtml ? '' : 'content_html',
      existing.sameHeaders ? '' : 'headers',
    ].filter(Boolean);
    if (differ.length) {
      throw new AlreadyExistsError(
        'content_object',
        input.storageKey,
        `storage_key ${input.storageKey} already holds different content (${differ.join(', ')} differ); content is immutable: use a new key, or DeleteContent first`,
      );
    }
    const { sameText: _t, sameHtml: _h, sameHeaders: _hd, ...content } = existing;
    return { content, created: false };
  });
  if (res.created) deps.outboxWritten?.();
  return res;
}

/** The tenant's live object with its bodies; NOT_FOUND for a missing, expired or foreign key. */
export async function getContent(pool: Pool, tenantId: string, storageKey: string): Promise<ContentWithBodies> {
  const row = await getContentRow(pool, tenantId, storageKey);
  if (!row) throw new NotFoundError('content_object', storageKey);
  return row;
}

/** Deletes the object and its attachments, and emits ContentDeleted, in one transaction. */
export async function deleteContent(
  deps: { pool: Pool; names: EventNames },
  tenantId: string,
  storageKey: string,
): Promise<DeletedContent> {
  return withTransaction(deps.pool, async (client) => {
    const deleted = await deleteContentRow(client, tenantId, storageKey);
    if (!deleted) throw new NotFoundError('content_object', storageKey);
    await emitContentDeleted(client, deps.names, [deleted], contentV1.DeletionReason.DELETION_REASON_REQUESTED);
    return deleted;
  });
}

/** One BatchGetContent answer per requested key, in request order. */
export interface BatchItem {
  storageKey: string;
  row?: BatchContentRow;
}

/**
 * The tenant's live objects among `keys`, one answer per key in request order (a missing,
 * expired or foreign key has no row: the caller reports it as not found, the call succeeds).
 * Parts beyond `maxBytes` of answer are left out (row.included false).
 */
export async function batchGetContent(
  pool: Pool,
  opts: { tenantId: string; keys: string[]; text: boolean; html: boolean; headers: boolean; maxBytes: number },
): Promise<BatchItem[]> {
  const rows = await batchGetContentRows(pool, opts);
  const byKey = new Map(rows.map((r) => [r.storageKey, r]));
  return opts.keys.map((storageKey) => ({ storageKey, row: byKey.get(storageKey) }));
}

/**
 * Sets (or clears: null) a live object's expiry and its exemption from the retention policy,
 * with ContentExpirySet, in one transaction; NOT_FOUND for a missing, expired or foreign key.
 */
export async function setExpiry(
  deps: { pool: Pool; names: EventNames },
  input: { tenantId: string; storageKey: string; expires: Date | null; policyExempt: boolean },
): Promise<ContentRow & { policyExempt: boolean }> {
  return withTransaction(deps.pool, async (client) => {
    const row = await setExpiryRow(client, input);
    if (!row) throw new NotFoundError('content_object', input.storageKey);
    await emitContentExpirySet(client, deps.names, input.tenantId, {
      storageKey: row.storageKey,
      expires: row.expires ?? undefined,
      policyExempt: row.policyExempt,
      changed: new Date(),
    });
    return row;
  });
}
