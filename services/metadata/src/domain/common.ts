import { Validator } from '@penguinmails/service-kit';
import type { commonV1 } from '@penguinmails/contracts';
import type { ServerDeps } from '../deps';
import type { Cursor } from '../db/keyset';

/** Validates `tenant_id` (present on every request) and returns it lower-cased. */
export function tenantOf(v: Validator, tenantId: string): string {
  return v.uuid('tenant_id', tenantId);
}

/** Page size and decoded cursor of a List request; the token is bound to tenant + filters. */
export function pageOf(
  deps: ServerDeps,
  v: Validator,
  page: commonV1.PageRequest | undefined,
  binding: string,
): { size: number; cursor?: Cursor } {
  const size = v.pageSize('page.page_size', page?.pageSize, { default: deps.limits.pageSizeDefault, max: deps.limits.pageSizeMax });
  v.done();
  const cursor = deps.pageTokens.decode<Cursor>(page?.pageToken, binding);
  if (cursor && (typeof cursor.c !== 'string' || !/^-?\d{1,20}$/.test(cursor.c) || typeof cursor.i !== 'string')) {
    // A correctly signed token always has this shape; anything else is a bug or a forged secret.
    deps.pageTokens.decode('x.y', binding);
  }
  return { size, cursor };
}

export function nextToken(deps: ServerDeps, next: Cursor | undefined, binding: string): commonV1.PageResponse {
  return { nextPageToken: next ? deps.pageTokens.encode(next, binding) : '' };
}

/** `''` ↔ NULL for optional text columns. */
export const nullIfEmpty = (s: string | undefined | null): string | null => (s ? s : null);
