import { status } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { batchPutContent as storeBatch, type BatchPutOutcome } from '../domain/batch-put-content';
import type { PutContentInput } from '../domain/content';
import { checkNewStorageKey } from '../domain/storage-keys';
import { bytesText, toContentObject } from './mappers';

/** Items per BatchPutContent call at most: one transaction, one statement, one answer. */
export const BATCH_PUT_MAX_ITEMS = 500;
/** CONTENT_BATCH_MAX_BYTES's default: text + html + headers of one call. */
export const BATCH_PUT_DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

const INT4_MAX = 2_147_483_647;
const DAY_MS = 86_400_000;

const OUTCOMES: Record<BatchPutOutcome, contentV1.BatchPutOutcome> = {
  created: contentV1.BatchPutOutcome.BATCH_PUT_OUTCOME_CREATED,
  existing: contentV1.BatchPutOutcome.BATCH_PUT_OUTCOME_EXISTING,
  conflict: contentV1.BatchPutOutcome.BATCH_PUT_OUTCOME_KEY_CONFLICT,
};

/**
 * BatchPutContent: every item checked as PutContent checks its request, fields named
 * `items[i].<field>`; any violation refuses the whole call (all or nothing: a bulk loader fixes
 * or drops the item and resends, nothing half-stored to reconcile). Key conflicts with stored
 * content are per item (the response), not errors of the call.
 */
export function batchPutContent(deps: ServerDeps) {
  return async (req: contentV1.BatchPutContentRequest): Promise<contentV1.BatchPutContentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const tenantOk = v.ok;
    const items = req.items ?? [];
    const maxItemBytes = deps.limits.contentMaxBytes;
    const maxBatchBytes = deps.limits.batchPutMaxBytes ?? BATCH_PUT_DEFAULT_MAX_BYTES;
    if (items.length === 0) v.add('items', 'REQUIRED', `items is required: 1 to ${BATCH_PUT_MAX_ITEMS} objects`);
    else if (items.length > BATCH_PUT_MAX_ITEMS)
      v.add('items', 'TOO_MANY', `items holds ${items.length} objects; at most ${BATCH_PUT_MAX_ITEMS} per call: split the request`);

    const firstAt = new Map<string, number>();
    const inputs: PutContentInput[] = [];
    let batchBytes = 0;
    const now = Date.now();
    // Items are checked only when their number is right (501 items would bury the one violation that matters).
    (items.length > BATCH_PUT_MAX_ITEMS ? [] : items).forEach((it, i) => {
      const f = (name: string) => `items[${i}].${name}`;
      const storageKey = it.storageKey ?? '';
      if (!storageKey) v.add(f('storage_key'), 'REQUIRED', `${f('storage_key')} is required in a batch (it makes a retried batch idempotent), e.g. "${tenantOk ? tenantId : '<tenant_id>'}/2026/01/<id>"`);
      else {
        checkNewStorageKey(v, f('storage_key'), storageKey, tenantOk ? tenantId : undefined);
        const first = firstAt.get(storageKey);
        if (first !== undefined) v.add(f('storage_key'), 'DUPLICATE', `${f('storage_key')} repeats items[${first}].storage_key; each key once per batch`);
        else firstAt.set(storageKey, i);
      }
      for (const [name, value] of [['content_text', it.contentText], ['content_html', it.contentHtml]] as const)
        if (value !== undefined && value.includes('\u0000'))
          v.add(f(name), 'MALFORMED', `${f(name)} contains a NUL character (U+0000), which cannot be stored; remove it`);
      const headersJson = it.headers === undefined ? null : JSON.stringify(it.headers);
      if (headersJson !== null && headersJson.includes('\\u0000'))
        v.add(f('headers'), 'MALFORMED', `${f('headers')} contain a NUL character (U+0000), which cannot be stored; remove it`);
      const sizes = {
        text: it.contentText === undefined ? 0 : Buffer.byteLength(it.contentText, 'utf8'),
        html: it.contentHtml === undefined ? 0 : Buffer.byteLength(it.contentHtml, 'utf8'),
        headers: headersJson === null ? 0 : Buffer.byteLength(headersJson, 'utf8'),
      };
      const total = sizes.text + sizes.html + sizes.headers;
      batchBytes += total;
      if (total > maxItemBytes) {
        const largest = (['content_text', 'content_html', 'headers'] as const)[
          [sizes.text, sizes.html, sizes.headers].indexOf(Math.max(sizes.text, sizes.html, sizes.headers))
        ];
        v.add(f(largest), 'TOO_LARGE', `content_text + content_html + headers of items[${i}] are ${total} bytes (${largest} is the largest); the limit (CONTENT_MAX_BYTES) is ${bytesText(maxItemBytes)}`);
      }
      const rawSizeBytes = v.int64(f('raw_size_bytes'), it.rawSizeBytes, { min: 0, max: INT4_MAX });
      let expires: Date | null = null;
      if (it.expires) {
        if (Number.isNaN(it.expires.getTime()) || it.expires.getTime() <= now)
          v.add(f('expires'), 'OUT_OF_RANGE', `${f('expires')} must be in the future (or absent: the default retention applies)`);
        else expires = it.expires;
      } else if (deps.limits.defaultRetentionDays > 0) {
        expires = new Date(now + deps.limits.defaultRetentionDays * DAY_MS);
      }
      inputs.push({
        storageKey,
        tenantId,
        contentText: it.contentText ?? null,
        contentHtml: it.contentHtml ?? null,
        headersJson,
        rawSizeBytes: rawSizeBytes || Math.min(total, INT4_MAX),
        expires,
        sizes,
      });
    });
    if (batchBytes > maxBatchBytes)
      v.add('items', 'TOO_LARGE', `the items' content_text + content_html + headers are ${batchBytes} bytes in all; the limit of one call (CONTENT_BATCH_MAX_BYTES) is ${bytesText(maxBatchBytes)}: split the request`);
    v.done();

    const results = await storeBatch(deps, tenantId, inputs);
    return {
      results: results.map((r) => ({
        storageKey: r.storageKey,
        outcome: OUTCOMES[r.outcome],
        content: r.content ? toContentObject(r.content) : undefined,
        error: r.message === undefined ? undefined : { code: status.ALREADY_EXISTS, message: r.message, details: [] },
      })),
      createdCount: results.filter((r) => r.outcome === 'created').length,
    };
  };
}
