import { contentV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import * as content from '../domain/content';
import { checkNewStorageKey, checkStorageKey, newStorageKey } from '../domain/storage-keys';
import { bytesText, checkFutureTime, toContentObject } from './mappers';

// Thin handlers: validate (every violation at once, nothing written), call the domain, map.

const INT4_MAX = 2_147_483_647;
const DAY_MS = 86_400_000;

/** PostgreSQL text and jsonb cannot hold U+0000; say so instead of failing with INTERNAL. */
function checkNoNul(v: Validator, field: string, value: string | undefined): void {
  if (value !== undefined && value.includes('\u0000'))
    v.add(field, 'MALFORMED', `${field} contains a NUL character (U+0000), which cannot be stored; remove it`);
}

export function putContent(deps: ServerDeps) {
  return async (req: contentV1.PutContentRequest): Promise<contentV1.PutContentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const tenantOk = v.ok;
    let storageKey = req.storageKey ?? '';
    if (storageKey) checkNewStorageKey(v, 'storage_key', storageKey, tenantOk ? tenantId : undefined);
    else if (tenantOk) storageKey = newStorageKey(tenantId);

    checkNoNul(v, 'content_text', req.contentText);
    checkNoNul(v, 'content_html', req.contentHtml);
    const headersJson = req.headers === undefined ? null : JSON.stringify(req.headers);
    // JSON escapes NUL as \u0000, which jsonb refuses.
    if (headersJson !== null && headersJson.includes('\\u0000'))
      v.add('headers', 'MALFORMED', 'headers contain a NUL character (U+0000), which cannot be stored; remove it');

    const sizes = {
      text: req.contentText === undefined ? 0 : Buffer.byteLength(req.contentText, 'utf8'),
      html: req.contentHtml === undefined ? 0 : Buffer.byteLength(req.contentHtml, 'utf8'),
      headers: headersJson === null ? 0 : Buffer.byteLength(headersJson, 'utf8'),
    };
    const total = sizes.text + sizes.html + sizes.headers;
    const max = deps.limits.contentMaxBytes;
    if (total > max) {
      // Name the largest part: that is the one to shrink (or to move into an attachment).
      const largest = (['content_text', 'content_html', 'headers'] as const)[
        [sizes.text, sizes.html, sizes.headers].indexOf(Math.max(sizes.text, sizes.html, sizes.headers))
      ];
      v.add(
        largest,
        'TOO_LARGE',
        `content_text + content_html + headers are ${total} bytes (${largest} is the largest); the limit (CONTENT_MAX_BYTES) is ${bytesText(max)}`,
      );
    }
    const rawSizeBytes = v.int64('raw_size_bytes', req.rawSizeBytes, { min: 0, max: INT4_MAX });

    let expires: Date | null = null;
    if (req.expires) {
      if (Number.isNaN(req.expires.getTime()) || req.expires.getTime() <= Date.now())
        v.add('expires', 'OUT_OF_RANGE', 'expires must be in the future (or absent: the default retention applies)');
      else expires = req.expires;
    } else if (deps.limits.defaultRetentionDays > 0) {
      expires = new Date(Date.now() + deps.limits.defaultRetentionDays * DAY_MS);
    }
    v.done();

    const res = await content.putContent(deps, {
      storageKey,
      tenantId,
      contentText: req.contentText ?? null,
      contentHtml: req.contentHtml ?? null,
      headersJson,
      rawSizeBytes: rawSizeBytes || Math.min(total, INT4_MAX),
      expires,
      sizes,
    });
    return { content: toContentObject(res.content), created: res.created };
  };
}

export function getContent(deps: ServerDeps) {
  return async (req: contentV1.GetContentRequest): Promise<contentV1.GetContentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const storageKey = checkStorageKey(v, 'storage_key', req.storageKey);
    v.done();
    const row = await content.getContent(deps.pool, tenantId, storageKey);
    return {
      content: toContentObject(row),
      contentText: row.contentText ?? undefined,
      contentHtml: row.contentHtml ?? undefined,
      headers: row.headers ?? undefined,
    };
  };
}

export function deleteContent(deps: ServerDeps) {
  return async (req: contentV1.DeleteContentRequest): Promise<contentV1.DeleteContentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const storageKey = checkStorageKey(v, 'storage_key', req.storageKey);
    v.done();
    const deleted = await content.deleteContent(deps, tenantId, storageKey);
    return { attachmentsDeleted: deleted.attachmentsDeleted };
  };
}

/** BatchGetContent's key limit: one call, one primary-key probe per key, one answer. */
export const BATCH_GET_MAX_KEYS = 100;

export function batchGetContent(deps: ServerDeps) {
  return async (req: contentV1.BatchGetContentRequest): Promise<contentV1.BatchGetContentResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const keys = req.storageKeys ?? [];
    if (keys.length === 0) v.add('storage_keys', 'REQUIRED', `storage_keys is required: 1 to ${BATCH_GET_MAX_KEYS} keys`);
    else if (keys.length > BATCH_GET_MAX_KEYS)
      v.add('storage_keys', 'TOO_MANY', `storage_keys holds ${keys.length} keys; at most ${BATCH_GET_MAX_KEYS} per call: split the request`);
    else keys.forEach((k, i) => checkStorageKey(v, `storage_keys[${i}]`, k));
    const parts = new Set<contentV1.ContentPart>();
    (req.parts ?? []).forEach((p, i) => parts.add(v.enumValue(`parts[${i}]`, p, contentV1.ContentPart)));
    v.done();
    const all = parts.size === 0;
    const P = contentV1.ContentPart;
    const items = await content.batchGetContent(deps.pool, {
      tenantId,
      keys,
      text: all || parts.has(P.CONTENT_PART_TEXT),
      html: all || parts.has(P.CONTENT_PART_HTML),
      headers: all || parts.has(P.CONTENT_PART_HEADERS),
      maxBytes: deps.limits.contentMaxBytes,
    });
    return {
      results: items.map(({ storageKey, row }) =>
        row
          ? {
              storageKey,
              found: true,
              content: toContentObject(row),
              contentText: row.contentText ?? undefined,
              contentHtml: row.contentHtml ?? undefined,
              headers: row.headers ?? undefined,
              partsOmitted: !row.included,
            }
          : { storageKey, found: false, content: undefined, contentText: undefined, contentHtml: undefined, headers: undefined, partsOmitted: false },
      ),
    };
  };
}

export function setExpiry(deps: ServerDeps) {
  return async (req: contentV1.SetExpiryRequest): Promise<contentV1.SetExpiryResponse> => {
    const v = new Validator();
    const tenantId = v.uuid('tenant_id', req.tenantId);
    const storageKey = checkStorageKey(v, 'storage_key', req.storageKey);
    const expires = checkFutureTime(v, 'expires', req.expires);
    v.done();
    const row = await content.setExpiry(deps, { tenantId, storageKey, expires: expires ?? null, policyExempt: !req.followPolicy });
    return { content: toContentObject(row), policyExempt: row.policyExempt };
  };
}
