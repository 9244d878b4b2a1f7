import type { commonV1 } from '@penguinmails/contracts';
import type { Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';

// Request fields every handler reads the same way. Each only adds violations to the handler's
// Validator; the handler calls v.done() itself.

/** Validates `tenant_id` (present on every request) and returns it lower-cased. */
export function tenantOf(v: Validator, tenantId: string): string {
  return v.uuid('tenant_id', tenantId);
}

/** `page.page_size` of a List request: the default when unset, INVALID_ARGUMENT above the max. */
export function pageSizeOf(v: Validator, deps: ServerDeps, page: commonV1.PageRequest | undefined): number {
  return v.pageSize('page.page_size', page?.pageSize, { default: deps.limits.pageSizeDefault, max: deps.limits.pageSizeMax });
}

/** `''` → NULL for optional text columns (proto3 strings have no absent value). */
export const nullIfEmpty = (s: string | undefined | null): string | null => (s ? s : null);
