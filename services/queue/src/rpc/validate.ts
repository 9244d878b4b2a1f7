import { PermissionDeniedError, type CallContext, type Validator } from '@penguinmails/service-kit';
import { isUtf8 } from 'node:buffer';

// Checks shared by the queue's RPCs, on top of the kit's Validator.

const NAME_RE = /^[A-Za-z0-9._:-]+$/;

/**
 * The request's tenant, or undefined (every tenant) when it is empty and the token has service
 * scope: a platform worker's claims and ends of jobs, the queue-wide stats, the platform's group
 * limits. The kit's guard already refuses an empty tenant_id from a tenant-bound token
 * (PERMISSION_DENIED); this is the same rule said where it is used.
 */
export function tenantOrEvery(v: Validator, tenantId: string, ctx: CallContext): string | undefined {
  if (tenantId !== '') return v.uuid('tenant_id', tenantId);
  if (ctx.principal.scope !== 'service')
    throw new PermissionDeniedError('an empty tenant_id (every tenant) needs a token with service scope; this token is bound to tenants');
  return undefined;
}

/** A queue or task name: 1..100 characters of letters, digits and `._:-`. */
export function name(v: Validator, field: string, value: string | undefined, opts: { required?: boolean } = {}): string {
  const s = v.string(field, value, { max: 100, required: opts.required ?? true });
  if (s && s.length <= 100 && !NAME_RE.test(s))
    v.add(field, 'MALFORMED', `${field} may hold only letters, digits and . _ : - (e.g. "campaign.send_step"), got "${s.slice(0, 60)}"`);
  return s;
}

/** A JSON object no larger than `maxBytes` once serialised. */
export function jsonSize(v: Validator, field: string, value: object | undefined, maxBytes: number): void {
  if (!value) return;
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > maxBytes)
    v.add(
      field,
      'TOO_LARGE',
      `${field} is ${bytes} bytes as JSON, more than the ${maxBytes} allowed; pass ids and keys (e.g. a content storage key), not content`,
    );
}

/** A proto Timestamp that ts-proto turned into a Date; absent is allowed. */
export function optionalTime(v: Validator, field: string, value: Date | undefined): Date | undefined {
  if (!value) return undefined;
  if (Number.isNaN(value.getTime())) v.add(field, 'MALFORMED', `${field} is not a valid timestamp`);
  return value;
}

/** How deep a payload_json may nest (PostgreSQL's jsonb input recurses per level). */
const JSON_DEPTH_MAX = 100;

/**
 * A payload given as JSON bytes (NewJob.payload_json): a JSON object in valid UTF-8, at most
 * `maxBytes`, that PostgreSQL's jsonb accepts — no `\u0000` and no lone surrogate escapes
 * (raw NULs and control characters are invalid JSON already), nesting ≤ 100. The kit's request
 * guard does not look inside bytes, so this is the whole check. Returns the text as it is
 * stored (undefined when absent or refused).
 *
 * The cost per job is one `isUtf8`, one decode and one `JSON.parse` of the bytes; the value is
 * walked only when the text has a `\u` escape or is large enough to nest deeply, so the usual
 * small payload of ids costs no walk (measured in the README, "Measured").
 */
export function jsonBytes(v: Validator, field: string, bytes: Uint8Array, maxBytes: number): string | undefined {
  if (bytes.length === 0) return undefined;
  if (bytes.length > maxBytes) {
    v.add(field, 'TOO_LARGE', `${field} is ${bytes.length} bytes, more than the ${maxBytes} allowed; pass ids and keys (e.g. a content storage key), not content`);
    return undefined;
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (!isUtf8(buf)) {
    v.add(field, 'MALFORMED', `${field} is not valid UTF-8`);
    return undefined;
  }
  const text = buf.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    v.add(field, 'MALFORMED', `${field} is not valid JSON: ${(e as Error).message.slice(0, 120)}`);
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    v.add(field, 'MALFORMED', `${field} must be a JSON object ({"lead_id": "..."}), got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
    return undefined;
  }
  if (text.includes('\\u') || text.length > JSON_DEPTH_MAX) {
    const bad = unstorable(value, 0);
    if (bad) {
      v.add(field, 'MALFORMED', `${field} ${bad}`);
      return undefined;
    }
  }
  return text;
}

/** Why PostgreSQL's jsonb would refuse this parsed JSON value, or undefined. */
function unstorable(value: unknown, depth: number): string | undefined {
  if (depth > JSON_DEPTH_MAX) return `nests deeper than ${JSON_DEPTH_MAX} levels`;
  if (typeof value === 'string') return badString(value);
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (const x of value) {
      const bad = unstorable(x, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const [k, x] of Object.entries(value)) {
    const bad = badString(k) ?? unstorable(x, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

function badString(s: string): string | undefined {
  if (s.includes('\u0000')) return 'holds a NUL character (\\u0000), which PostgreSQL cannot store';
  if (!s.isWellFormed()) return 'holds an unpaired surrogate escape (\\ud800-\\udfff alone), which PostgreSQL cannot store';
  return undefined;
}

/** The keys of a job beyond idempotency, as EnqueueJobRequest and NewJob carry them. */
export interface JobKeysInput {
  idempotencyKey: string;
  groupKey: string;
  groupLimit: number;
  singletonKey: string;
  debounce: boolean;
  throttleSeconds: number;
  holdKey: string;
}

/**
 * Concurrency group, singleton, debounce, throttle and hold key of one job (`prefix` = '' or 'jobs[i].'):
 * each field checked on its own, then the combinations that mean nothing (a limit without a
 * group, debounce or a throttle window without a singleton key, debounce with a throttle
 * window or an idempotency key) are refused naming the field that should not be set.
 */
export function jobKeys(
  v: Validator,
  prefix: string,
  j: JobKeysInput,
): { groupKey?: string; groupLimit?: number; singletonKey?: string; debounce?: boolean; throttleSeconds?: number; holdKey?: string } {
  const f = (field: string) => `${prefix}${field}`;
  // Keys are compared exactly: no trimming.
  const groupKey = v.string(f('group_key'), j.groupKey, { max: 200, trim: false }) || undefined;
  let groupLimit: number | undefined;
  if (groupKey) groupLimit = j.groupLimit === 0 ? 1 : v.int(f('group_limit'), j.groupLimit, { min: 1, max: 1000 });
  else if (j.groupLimit !== 0) v.add(f('group_limit'), 'NOT_ALLOWED', `${f('group_limit')} needs ${f('group_key')}: a limit applies to a concurrency group`);
  const singletonKey = v.string(f('singleton_key'), j.singletonKey, { max: 200, trim: false }) || undefined;
  let throttleSeconds: number | undefined;
  if (j.throttleSeconds !== 0) {
    throttleSeconds = v.int(f('throttle_seconds'), j.throttleSeconds, { min: 1, max: 86_400 });
    if (!singletonKey) v.add(f('throttle_seconds'), 'NOT_ALLOWED', `${f('throttle_seconds')} needs ${f('singleton_key')}: the window is per key`);
  }
  if (j.debounce) {
    if (!singletonKey) v.add(f('debounce'), 'NOT_ALLOWED', `${f('debounce')} needs ${f('singleton_key')}: it replaces the waiting job of that key`);
    if (j.throttleSeconds !== 0) v.add(f('debounce'), 'CONFLICT', `set ${f('debounce')} or ${f('throttle_seconds')}, not both`);
    if (j.idempotencyKey !== '')
      v.add(f('debounce'), 'CONFLICT', `${f('debounce')} replaces the waiting job, so it cannot be combined with ${f('idempotency_key')}; the singleton key already names the job`);
  }
  const holdKey = v.string(f('hold_key'), j.holdKey, { max: 200, trim: false }) || undefined;
  return { groupKey, groupLimit, singletonKey, debounce: j.debounce || undefined, throttleSeconds, holdKey };
}

/** A cron expression: 5 fields, 6 (seconds first) or a nickname (@daily, ...); croner checks the rest. */
export const CRON_SHAPE = /^(@[a-z]+|\S+(\s+\S+){4,5})$/i;
