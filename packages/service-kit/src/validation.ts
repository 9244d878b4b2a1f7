import { InvalidArgumentError, type FieldViolation } from './errors';
import { quoteValue } from './grpc/safe-text';

// Hand-written rather than zod: requests are already typed by ts-proto, and what we need is
// a list of google.rpc.BadRequest field violations with the caller's field paths and a
// sentence telling them what to send. A few dozen lines do that exactly.

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Pragmatic address check (WHATWG's input[type=email] pattern), plus the 254 limit from the seed.
const EMAIL_RE =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;

export const isUuid = (v: string): boolean => UUID_RE.test(v);

/**
 * Collects every violation of a request, then throws them together, so the caller fixes all
 * fields in one round trip. Every check returns the (normalised) value for convenience.
 *
 * ```ts
 * const v = new Validator();
 * const tenantId = v.uuid('tenant_id', req.tenantId);
 * const email = v.email('email', req.email);
 * v.done(); // throws InvalidArgumentError if anything was wrong
 * ```
 */
export class Validator {
  readonly violations: FieldViolation[] = [];

  add(field: string, reason: string, description: string): void {
    this.violations.push({ field, reason, description });
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  /** Throws an {@link InvalidArgumentError} with every violation collected so far. */
  done(): void {
    if (this.violations.length) throw new InvalidArgumentError(this.violations);
  }

  /** A required UUID (any version). */
  uuid(field: string, value: string | undefined | null): string {
    if (!value) this.add(field, 'REQUIRED', `${field} is required (a UUID)`);
    else if (!UUID_RE.test(value)) this.add(field, 'NOT_A_UUID', `${field} must be a UUID like 3f1c2b0e-8d4a-4c1e-9b7a-2a6f0c5d9e11, got ${quoteValue(value)}`);
    return (value ?? '').toLowerCase();
  }

  /** An optional UUID: empty string means absent and returns undefined. */
  optionalUuid(field: string, value: string | undefined | null): string | undefined {
    if (!value) return undefined;
    return this.uuid(field, value);
  }

  /** A string with bounds; `required` rejects the empty string. Returns it trimmed when `trim`. */
  string(
    field: string,
    value: string | undefined | null,
    opts: { max: number; min?: number; required?: boolean; trim?: boolean },
  ): string {
    const v = opts.trim === false ? (value ?? '') : (value ?? '').trim();
    if (!v) {
      if (opts.required) this.add(field, 'REQUIRED', `${field} is required`);
      return v;
    }
    if (v.length > opts.max) this.add(field, 'TOO_LONG', `${field} must be at most ${opts.max} characters, got ${v.length}`);
    if (opts.min !== undefined && v.length < opts.min)
      this.add(field, 'TOO_SHORT', `${field} must be at least ${opts.min} characters, got ${v.length}`);
    return v;
  }

  /** An email address of at most `max` (254) characters, lower-cased. */
  email(field: string, value: string | undefined | null, opts: { required?: boolean; max?: number } = {}): string {
    const max = opts.max ?? 254;
    const v = (value ?? '').trim();
    if (!v) {
      if (opts.required !== false) this.add(field, 'REQUIRED', `${field} is required (an email address)`);
      return v;
    }
    if (v.length > max) this.add(field, 'TOO_LONG', `${field} must be at most ${max} characters, got ${v.length}`);
    else if (!EMAIL_RE.test(v)) this.add(field, 'NOT_AN_EMAIL', `${field} must be an email address like name@example.com, got ${quoteValue(v)}`);
    return v.toLowerCase();
  }

  /** One of the listed values. */
  oneOf<T extends string>(field: string, value: string | undefined | null, allowed: readonly T[], opts: { required?: boolean } = {}): T {
    if (!value) {
      if (opts.required !== false) this.add(field, 'REQUIRED', `${field} is required: one of ${allowed.join(', ')}`);
      return value as T;
    }
    if (!allowed.includes(value as T)) this.add(field, 'UNKNOWN_VALUE', `${field} must be one of ${allowed.join(', ')}, got ${quoteValue(value)}`);
    return value as T;
  }

  /**
   * A protobuf enum value: rejects UNSPECIFIED (0) when required and anything not in the
   * enum (ts-proto maps unknown wire values to UNRECOGNIZED = -1).
   */
  enumValue<E extends number>(field: string, value: E | undefined, names: Record<number, string>, opts: { required?: boolean } = {}): E {
    const n = Number(value ?? 0);
    const valid = Object.keys(names).map(Number).filter((k) => Number.isInteger(k) && k > 0);
    if (n === 0) {
      if (opts.required !== false) this.add(field, 'REQUIRED', `${field} is required: one of ${valid.map((k) => names[k]).join(', ')}`);
    } else if (!valid.includes(n)) {
      this.add(field, 'UNKNOWN_VALUE', `${field} must be one of ${valid.map((k) => names[k]).join(', ')}, got ${n}`);
    }
    return n as E;
  }

  /** An integer in [min, max]. */
  int(field: string, value: number | undefined | null, opts: { min?: number; max?: number; required?: boolean } = {}): number {
    const v = value ?? 0;
    if (!Number.isInteger(v)) this.add(field, 'NOT_AN_INTEGER', `${field} must be a whole number, got ${v}`);
    else if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max))
      this.add(field, 'OUT_OF_RANGE', `${field} must be between ${opts.min ?? '-∞'} and ${opts.max ?? '∞'}, got ${v}`);
    return v;
  }

  /**
   * An int64 field (ts-proto decodes int64 as bigint, so no wire value can make decoding throw):
   * an integer in [min, max], returned as a number (the bounds keep it exact).
   */
  int64(field: string, value: bigint | number | undefined | null, opts: { min?: number; max?: number } = {}): number {
    const v = BigInt(value ?? 0);
    if ((opts.min !== undefined && v < BigInt(opts.min)) || (opts.max !== undefined && v > BigInt(opts.max))) {
      this.add(field, 'OUT_OF_RANGE', `${field} must be between ${opts.min ?? '-∞'} and ${opts.max ?? '∞'}, got ${v}`);
      return 0;
    }
    return Number(v);
  }

  /** A page size: 0 means the default; above `max` is rejected (never silently truncated). */
  pageSize(field: string, value: number | undefined, opts: { default: number; max: number }): number {
    const v = value ?? 0;
    if (v === 0) return opts.default;
    this.int(field, v, { min: 1, max: opts.max });
    return v;
  }

  /** A custom rule. */
  check(condition: boolean, field: string, reason: string, description: string): void {
    if (!condition) this.add(field, reason, description);
  }
}
