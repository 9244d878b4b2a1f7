import { createHash } from 'node:crypto';
import { contentV1 } from '@penguinmails/contracts';
import { DeadlineExceededError, remainingMs, type EventNames } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { selectMessagesByKeys } from '../db/select-messages-by-keys';
import { checkReferences, recordMessages, type MessageInsert, type MessageRow } from './messages';

/**
 * The content tier as IngestMessage needs it: the two writes, each with the time it may take.
 * rpc/ passes the gRPC client (clients/content.ts, which also turns the content tier's statuses
 * into the kit's errors); a test may pass one that fails on purpose.
 */
export interface ContentStore {
  putContent(req: contentV1.PutContentRequest, deadlineMs: number): Promise<contentV1.PutContentResponse>;
  addAttachment(req: contentV1.AddAttachmentRequest, deadlineMs: number, index: number): Promise<contentV1.AddAttachmentResponse>;
}

/** A validated IngestMessage: the body and attachments as the content tier takes them (less the tenant and keys). */
export interface IngestBody {
  contentText?: string;
  contentHtml?: string;
  headers?: { [key: string]: unknown };
  rawSizeBytes: number;
  expires?: Date;
}

export interface IngestAttachment {
  filename: string;
  mimeType: string;
  content: Buffer;
  inline: boolean;
}

/** When the call has no deadline of its own (outside a gRPC call: tests, tools). */
const DEFAULT_CONTENT_CALL_MS = 10_000;

/** RFC 4122 name-based UUID, version 5 (SHA-1), as the `uuid` package's v5 makes it. */
export function uuidV5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/**
 * The storage key of an ingested message: `<tenant_id>/msg/<uuid v5>`, the uuid named by the
 * message's idempotency key (provider_message_id, else client_key) in the tenant's namespace.
 * The same message always gets the same key, so a retry stores into the object the first
 * attempt made (content's PutContent is idempotent on key + content) instead of a second one.
 * The content tier's own keys put `<yyyy>/<mm>` after the tenant; a date taken from the clock
 * would differ between an attempt and its retry across a month's end, so `msg/` is fixed here.
 */
export function ingestStorageKey(tenantId: string, input: Pick<MessageInsert, 'providerMessageId' | 'clientKey'>): string {
  const name = input.providerMessageId ? `provider_message_id:${input.providerMessageId}` : `client_key:${input.clientKey}`;
  return `${tenantId}/msg/${uuidV5(name, tenantId)}`;
}

/** The attachment id of the index-th attachment of the object `storageKey`: the same on every retry. */
export function ingestAttachmentId(tenantId: string, storageKey: string, index: number): string {
  return uuidV5(`${storageKey}#${index}`, tenantId);
}

/** Milliseconds the next content call may take: what is left of this call's deadline. */
function budget(): number {
  const left = remainingMs();
  if (left === undefined) return DEFAULT_CONTENT_CALL_MS;
  if (left <= 0) throw new DeadlineExceededError('the deadline passed before the content tier was called; nothing was recorded');
  return left;
}

/**
 * IngestMessage: one call for a whole message, idempotent end to end on its idempotency key.
 * 1. A ref with the key exists: return it (created = false); the content tier is not called.
 * 2. The references are checked first (a foreign or unknown id is NOT_FOUND before anything is
 *    stored anywhere).
 * 3. PutContent under the derived key, then AddAttachment for each with derived ids: both are
 *    idempotent on those, so a retry after a failure at any point finds what the failed
 *    attempt stored and adds the rest.
 * 4. The ref is recorded exactly as RecordMessage does (same transaction, events and effects),
 *    with content_storage_key set and content_state `stored` unless content_keys knows more.
 * A failure between 3 and 4 that is never retried leaves a content object without a ref: the
 * content tier collects it (ContentDeleted, reason ORPHANED).
 */
export async function ingestMessage(
  deps: { pool: Pool; names: EventNames; content: ContentStore },
  tenantId: string,
  input: MessageInsert,
  body: IngestBody,
  attachments: IngestAttachment[],
): Promise<{ row: MessageRow; created: boolean }> {
  const known = await selectMessagesByKeys(deps.pool, tenantId, input.providerMessageId ? [input.providerMessageId] : [], input.clientKey ? [input.clientKey] : []);
  const mine = known.find((r) => (input.providerMessageId && r.providerMessageId === input.providerMessageId) || (input.clientKey && r.clientKey === input.clientKey));
  if (mine) return { row: mine, created: false };
  await checkReferences(deps.pool, tenantId, [input]);

  const storageKey = ingestStorageKey(tenantId, input);
  await deps.content.putContent(
    {
      tenantId,
      storageKey,
      contentText: body.contentText,
      contentHtml: body.contentHtml,
      headers: body.headers,
      rawSizeBytes: BigInt(body.rawSizeBytes),
      expires: body.expires,
    },
    budget(),
  );
  for (const [i, a] of attachments.entries()) {
    await deps.content.addAttachment(
      {
        tenantId,
        parentStorageKey: storageKey,
        filename: a.filename,
        mimeType: a.mimeType,
        content: a.content,
        storageDisposition: a.inline ? contentV1.StorageDisposition.STORAGE_DISPOSITION_INLINE : contentV1.StorageDisposition.STORAGE_DISPOSITION_ATTACHMENT,
        attachmentId: ingestAttachmentId(tenantId, storageKey, i),
      },
      budget(),
      i,
    );
  }
  const [r] = await recordMessages(deps.pool, deps.names, tenantId, [{ ...input, contentStorageKey: storageKey, contentState: 'stored' }]);
  return r;
}
