import { createHash } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { isUuid } from '../validation';

/**
 * Who a bearer token acts for. A platform worker (send workers, inbox sync) serves every tenant:
 * its token has service scope. A tenant's integration has a token bound to that tenant (or a
 * few): naming any other `tenant_id` is PERMISSION_DENIED.
 */
export type Principal = { scope: 'service' } | { scope: 'tenants'; tenants: ReadonlySet<string> };

/**
 * Parses AUTH_TOKENS entries. Each entry is one of:
 * - `<token>`: service scope (every tenant), as before tenant binding existed;
 * - `*:<token>`: service scope, said explicitly;
 * - `<tenant-uuid>|<tenant-uuid>...:<token>`: bound to those tenants.
 * The scope comes first because tokens may contain any character, UUIDs and `*` never a `:`.
 */
export function parseAuthTokens(entries: readonly string[]): Map<string, Principal> {
  const out = new Map<string, Principal>();
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const colon = entry.indexOf(':');
    const scope = colon > 0 ? entry.slice(0, colon) : '';
    const scopeParts = scope.split('|');
    let principal: Principal = { scope: 'service' };
    let token = entry;
    if (scope === '*') token = entry.slice(colon + 1);
    else if (scope && scopeParts.every(isUuid)) {
      token = entry.slice(colon + 1);
      principal = { scope: 'tenants', tenants: new Set(scopeParts.map((t) => t.toLowerCase())) };
    }
    if (!token) throw new Error('AUTH_TOKENS has an entry with a scope and no token');
    out.set(tokenKey(token), principal);
  }
  return out;
}

/**
 * Tokens are kept by their SHA-256, so a lookup compares digests: the time it takes says
 * nothing about how much of a presented token matched a real one.
 */
export function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The bearer token of a call's metadata, or undefined. */
export function bearerToken(metadata: Metadata): string | undefined {
  const header = String(metadata.get('authorization')[0] ?? '');
  const m = /^Bearer\s+(.+)$/i.exec(header);
  return m ? m[1].trim() : undefined;
}
