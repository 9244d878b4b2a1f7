import { contentV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import * as content from '../domain/content';
import { checkNewStorageKey, checkStorageKey, newStorageKey } from '../domain/storage-keys';
import { bytesText, toContentObject } from './mappers';

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
