import type { PackageDefinition } from '@grpc/proto-loader';
import type { FieldViolation } from '../errors';

/**
 * Checks every decoded request before its handler runs, for what no column of any store can
 * hold and what no handler should have to remember:
 * - text with NUL (PostgreSQL's text and jsonb refuse U+0000) or a lone surrogate (not
 *   Unicode; it cannot be stored as UTF-8 and would corrupt every message that echoes it);
 * - a google.protobuf.Timestamp outside 0001-01-01..9999-12-31 (ts-proto hands it to us as a
 *   Date; beyond that range PostgreSQL stores it but the drivers cannot read it back, and the
 *   proto's own definition of Timestamp excludes it);
 * - nesting deeper than {@link MAX_DEPTH} (a google.protobuf.Struct can nest without end).
 *
 * It walks the object ts-proto decoded, so it sees every string wherever it is: fields,
 * repeated fields, map keys and values, Struct keys and values. Field paths are given the way
 * the caller spells them in the proto (`messages[3].from_email`, `custom_fields.plan`).
 *
 * Hand-written: validation libraries check a schema the service declares; this is the one
 * rule that holds for every field of every message, so it walks the data instead.
 */

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, the range google.protobuf.Timestamp allows. */
export const MIN_TIMESTAMP_MS = -62_135_596_800_000;
export const MAX_TIMESTAMP_MS = 253_402_300_799_999;
const MAX_DEPTH = 32;
/** Stop collecting after this many: the status carries a bounded number anyway. */
const MAX_VIOLATIONS = 50;

// A NUL, or a high surrogate not followed by a low one, or a low one not preceded by a high one.
const BAD_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function textProblem(s: string): string | undefined {
  // The common case first: V8's native checks are ~25x faster than the regex on a 30 KB body
  // (1.8 vs 47 µs, measured 2026-11-26), and every string of every request passes here.
  if (s.isWellFormed() && !s.includes('\u0000')) return undefined;
  const m = BAD_TEXT.exec(s);
  if (!m) return undefined;
  return m[0] === '\u0000'
    ? `contains a NUL character (U+0000) at position ${m.index}; text may not contain NUL`
    : `is not valid UTF-8 at position ${m.index} (a malformed byte sequence or an encoded lone surrogate); protobuf strings must be UTF-8`;
}

/** How a field of a message is decoded by ts-proto, for naming paths the way the caller does. */
interface FieldShape {
  /** The proto name, e.g. `from_email` (ts-proto's object key is its camelCase). */
  name: string;
  /** A message field's full type name; undefined for scalars. */
  type?: string;
  /** A google.protobuf.Struct or a map: its keys are the caller's data, not field names. */
  freeKeys: boolean;
}

const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Field shapes of every message in the contracts' descriptor set, looked up by full type name.
 * Built once per server from the same FileDescriptorSet that serves reflection.
 */
export class MessageShapes {
  private readonly cache = new Map<string, Map<string, FieldShape>>();
  constructor(private readonly pkg: PackageDefinition) {}

  /** The fields of `typeName` keyed by ts-proto's camelCase key. */
  fields(typeName: string): Map<string, FieldShape> {
    const hit = this.cache.get(typeName);
    if (hit) return hit;
    const out = new Map<string, FieldShape>();
    this.cache.set(typeName, out);
    const def = this.pkg[typeName] as { type?: { field?: DescriptorField[] } } | undefined;
    const pkgName = typeName.slice(0, typeName.lastIndexOf('.'));
    for (const f of def?.type?.field ?? []) {
      if (f.type !== 'TYPE_MESSAGE') {
        out.set(camel(f.name), { name: f.name, freeKeys: false });
        continue;
      }
      const full = this.resolve(f.typeName, pkgName, typeName);
      const entry = this.pkg[full] as { type?: { options?: { mapEntry?: boolean } } } | undefined;
      const freeKeys = full === 'google.protobuf.Struct' || Boolean(entry?.type?.options?.mapEntry);
      out.set(camel(f.name), { name: f.name, type: freeKeys ? undefined : full, freeKeys });
    }
    return out;
  }

  // proto-loader keeps type names as written (`LeadInput`, `common.v1.PageRequest`, a nested
  // `Outer.Inner`, or fully qualified): resolve them as protoc does, innermost scope first.
  private resolve(name: string, pkgName: string, from: string): string {
    const bare = name.replace(/^\./, '');
    if (name.startsWith('.')) return bare;
    for (let scope = from; scope; scope = scope.slice(0, Math.max(0, scope.lastIndexOf('.')))) {
      if (this.pkg[`${scope}.${bare}`]) return `${scope}.${bare}`;
      if (!scope.includes('.')) break;
    }
    if (this.pkg[`${pkgName}.${bare}`]) return `${pkgName}.${bare}`;
    return bare;
  }
}

interface DescriptorField {
  name: string;
  type: string;
  typeName: string;
}

/**
 * Every violation of the rules above in `request` (a ts-proto object of type `typeName`),
 * at most {@link MAX_VIOLATIONS}.
 */
export function guardRequest(request: unknown, typeName: string, shapes: MessageShapes): FieldViolation[] {
  const out: FieldViolation[] = [];
  const add = (field: string, reason: string, description: string) => {
    if (out.length < MAX_VIOLATIONS) out.push({ field, reason, description });
  };
  const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

  // `type` is the message type of `value` when it is a message; undefined inside a Struct,
  // a map, or a scalar list, where keys are data. `json` is true below a Struct (or map), whose
  // values are stored as JSON.
  const visit = (value: unknown, path: string, type: string | undefined, depth: number, json: boolean): void => {
    if (out.length >= MAX_VIOLATIONS) return;
    if (value === null || value === undefined) {
      // ts-proto unwraps a google.protobuf.Value with no kind set to undefined; JSON has no such
      // value and the stores refuse it inside a list.
      if (json && value === undefined)
        add(path, 'MALFORMED_VALUE', `${path} is a google.protobuf.Value with no kind set; send null_value for a null`);
      return;
    }
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) add(path, 'MALFORMED_TEXT', `${path} ${problem}`);
      return;
    }
    if (typeof value === 'number') {
      if (json && !Number.isFinite(value)) add(path, 'MALFORMED_VALUE', `${path} is ${value}; JSON numbers must be finite`);
      return;
    }
    if (typeof value !== 'object') return;
    if (depth > MAX_DEPTH) return add(path, 'TOO_DEEP', `${path} is nested more than ${MAX_DEPTH} levels deep`);
    if (value instanceof Date) {
      const ms = value.getTime();
      if (!(ms >= MIN_TIMESTAMP_MS && ms <= MAX_TIMESTAMP_MS))
        add(path, 'OUT_OF_RANGE', `${path} must be a timestamp between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z`);
      return;
    }
    if (value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length && out.length < MAX_VIOLATIONS; i++) visit(value[i], `${path}[${i}]`, type, depth + 1, json);
      return;
    }
    const fields = type ? shapes.fields(type) : undefined;
    // for…in over ts-proto's plain objects, not Object.entries: no array of pairs per message
    // (a batch of 1000 jobs is 1000 messages; measured in services/queue/README.md, "Measured").
    for (const key in value) {
      const child = (value as Record<string, unknown>)[key];
      if (!fields) {
        // Struct or map keys are the caller's data: check them like any text.
        const problem = textProblem(key);
        if (problem) add(path, 'MALFORMED_TEXT', `a key of ${path} ${problem}`);
        else visit(child, join(path, key.length > 100 ? `${key.slice(0, 100).toWellFormed()}…` : key), undefined, depth + 1, json);
        continue;
      }
      // An absent Struct field is fine; what is inside a present one is JSON.
      if (child === undefined) continue;
      // The common leaves of a message field, checked here so that a field that passes costs
      // no path string (the path is built only for a violation or to descend).
      if (typeof child === 'boolean' || (typeof child === 'number' && !json)) continue;
      if (typeof child === 'string' && textProblem(child) === undefined) continue;
      // A field the descriptors do not know (a type outside the contracts): name it as protoc would.
      const f = fields.get(key);
      visit(child, join(path, f?.name ?? key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)), f?.type, depth + 1, json || Boolean(f?.freeKeys));
    }
  };
  visit(request, '', typeName, 0, false);
  return out;
}
