import { randomUUID } from 'node:crypto';
import type { Validator } from '@penguinmails/service-kit';

/** The seed's varchar(500). */
const STORAGE_KEY_MAX = 500;

// Visible ASCII only: keys end up in logs, URLs and object-store paths (a later tier may move
// bodies to S3-like storage under the same key), where spaces and control characters hurt.
const KEY_CHARS = /^[\x21-\x7e]+$/;

/**
 * A new key for a caller that sent none: `<tenant_id>/<yyyy>/<mm>/<uuid>` (UTC). The tenant
 * prefix makes the key tenant-scoped by construction (see README); year and month group one
 * tenant's keys by age, which keeps a future export or archive of "a tenant's mail of a month"
 * a key-prefix scan.
 */
export function newStorageKey(tenantId: string, now = new Date()): string {
  const yyyy = String(now.getUTCFullYear()).padStart(4, '0');
  const mm = String(now.getUTCMonth() + 1).padStart(2, '0');
  return `${tenantId}/${yyyy}/${mm}/${randomUUID()}`;
}

/**
 * Checks a storage key a caller wants to write: at most 500 visible ASCII characters, starting
 * with `<tenant_id>/` and something after it. `tenantId` is undefined when the tenant id itself
 * was invalid (its own violation says so; a prefix complaint would only confuse).
 */
export function checkNewStorageKey(v: Validator, field: string, key: string, tenantId: string | undefined): void {
  if (key.length > STORAGE_KEY_MAX) {
    v.add(field, 'TOO_LONG', `${field} must be at most ${STORAGE_KEY_MAX} characters, got ${key.length}`);
    return;
  }
  if (!KEY_CHARS.test(key)) {
    v.add(field, 'MALFORMED', `${field} may only hold visible ASCII characters (no spaces or control characters)`);
    return;
  }
  if (tenantId !== undefined && !(key.startsWith(tenantId + '/') && key.length > tenantId.length + 1)) {
    v.add(
      field,
      'MALFORMED',
      `${field} must start with the tenant id and a slash, e.g. "${tenantId}/2026/01/<id>"; or leave it empty and the service makes one`,
    );
  }
}

/**
 * Checks a key a caller reads or deletes: required and at most 500 characters. No prefix check
 * here: a key of another tenant is NOT_FOUND, exactly as a key that does not exist.
 */
export function checkStorageKey(v: Validator, field: string, key: string): string {
  if (!key) v.add(field, 'REQUIRED', `${field} is required (the storage key PutContent returned)`);
  else if (key.length > STORAGE_KEY_MAX) v.add(field, 'TOO_LONG', `${field} must be at most ${STORAGE_KEY_MAX} characters, got ${key.length}`);
  return key;
}
