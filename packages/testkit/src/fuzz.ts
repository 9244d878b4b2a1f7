/**
 * Hostile-input fuzzing of gRPC services, generated from the contract's FileDescriptorSet.
 *
 * For each method of a service, requests are generated with fast-check from the request
 * message's descriptor (every field kind: hostile and plausible strings, integer extremes
 * beyond int32/2^53/int64, unknown enum numbers, out-of-range Timestamps, repeated fields of
 * thousands of elements, maps, nested messages, bytes), encoded on the wire with our own
 * protobufjs Writer walk (independent of ts-proto: any value a foreign client could put on the
 * wire gets there), and sent as raw bytes through a generic grpc-js client. Some inputs are
 * random bytes or a valid encoding corrupted. A third of the generated messages are plausible:
 * every field the test gave a pool of values (`pools`, `numberPools`: real tenant and job ids,
 * an attempt number) takes one of them, so calls get past the existence and fencing checks and
 * the paths that store something meet the hostile values of the other fields.
 *
 * Per call: the status is one a client can act on (never UNKNOWN, INTERNAL, UNAVAILABLE,
 * UNIMPLEMENTED, or DEADLINE_EXCEEDED = a hang), the answer arrives within the bound, health
 * still says SERVING, and a refused call left the store's digest unchanged.
 *
 * Seeded and replayable: FUZZ_SEED (default 20240601), FUZZ_RUNS per method, FUZZ_REPLAY
 * ("Method:path" from a failure report) replays one input; FUZZ_SHRINK=1 shrinks failures
 * (slow against a live server, off by default); FUZZ_TIMEOUT_MS bounds one call (5000).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { descriptorSetPath as contractsDescriptorSetPath } from '@penguinmails/contracts';
import fc from 'fast-check';
import * as protobuf from 'protobufjs';
// Adds Root.fromDescriptor (decodes a FileDescriptorSet).
import 'protobufjs/ext/descriptor';
import type { Pool, PoolClient } from 'pg';

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

export interface FuzzSettings {
  seed: number;
  runs: number;
  timeoutMs: number;
  shrink: boolean;
  /** "Method:path": replay one input of one method. */
  replay?: { method: string; path: string };
  /** Where each fuzz file writes its figures (JSON) for the campaign script. */
  resultsDir?: string;
  /**
   * Keep fuzzing a method after a failure (default): the report then lists each distinct kind
   * of failure with its replay path. FUZZ_KEEP_GOING=0 stops at the first (and FUZZ_SHRINK=1
   * shrinks it). A method still stops after 3 hangs or once the server stops SERVING.
   */
  keepGoing: boolean;
}

export function fuzzSettings(defaults: { runs?: number } = {}): FuzzSettings {
  const env = process.env;
  const replay = env.FUZZ_REPLAY ? /^([^:]+):(.+)$/.exec(env.FUZZ_REPLAY) : null;
  return {
    seed: env.FUZZ_SEED ? Number(env.FUZZ_SEED) : 20240601,
    runs: env.FUZZ_RUNS ? Number(env.FUZZ_RUNS) : (defaults.runs ?? 40),
    timeoutMs: env.FUZZ_TIMEOUT_MS ? Number(env.FUZZ_TIMEOUT_MS) : 5_000,
    shrink: ['1', 'true', 'yes'].includes((env.FUZZ_SHRINK ?? '').toLowerCase()),
    replay: replay ? { method: replay[1], path: replay[2] } : undefined,
    resultsDir: env.FUZZ_RESULTS_DIR || undefined,
    keepGoing: !['0', 'false', 'no'].includes((env.FUZZ_KEEP_GOING ?? '').toLowerCase()),
  };
}

/** Codes a hostile request may get. Anything else (UNKNOWN, INTERNAL, UNAVAILABLE, ...) fails. */
export const ACCEPTABLE_CODES: ReadonlySet<number> = new Set([
  Status.OK,
  Status.INVALID_ARGUMENT,
  Status.NOT_FOUND,
  Status.ALREADY_EXISTS,
  Status.FAILED_PRECONDITION,
  Status.PERMISSION_DENIED,
  Status.OUT_OF_RANGE,
  Status.RESOURCE_EXHAUSTED,
]);

// ---------------------------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------------------------

export interface FuzzMethod {
  /** e.g. "CreateTenant" */
  name: string;
  /** e.g. "/penguinmails.metadata.v1.MetadataService/CreateTenant" */
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
}

export interface ServiceSpec {
  service: string;
  root: protobuf.Root;
  methods: FuzzMethod[];
}

const roots = new Map<string, protobuf.Root>();

/** The contract's descriptor set as a protobufjs Root (cached per path). */
export function loadDescriptorRoot(path: string = contractsDescriptorSetPath): protobuf.Root {
  let root = roots.get(path);
  if (!root) {
    root = (protobuf.Root as unknown as { fromDescriptor(b: Uint8Array): protobuf.Root }).fromDescriptor(readFileSync(path));
    root.resolveAll();
    roots.set(path, root);
  }
  return root;
}

/** Every method of a fully-qualified service, in descriptor order (streaming ones refused). */
export function loadServiceSpec(service: string, descriptorSetPath?: string): ServiceSpec {
  const root = loadDescriptorRoot(descriptorSetPath);
  const svc = root.lookupService(service);
  const methods = svc.methodsArray.map((m) => {
    if (m.requestStream || m.responseStream) throw new Error(`${service}.${m.name}: streaming methods are not fuzzed yet`);
    return {
      name: m.name,
      path: `/${service}/${m.name}`,
      requestType: root.lookupType(m.resolvedRequestType?.fullName ?? m.requestType),
      responseType: root.lookupType(m.resolvedResponseType?.fullName ?? m.responseType),
    };
  });
  return { service, root, methods };
}

/**
 * The order a suite fuzzes its methods in: descriptor order, the Delete* methods after the others
 * (so the seeded rows the others aim at are there while they run), then `last` (methods whose
 * calls close what the rest need, e.g. a campaign archived for good).
 */
export function fuzzOrder(spec: ServiceSpec, last: readonly string[] = []): string[] {
  const names = spec.methods.map((m) => m.name);
  const deletes = names.filter((n) => n.startsWith('Delete') && !last.includes(n));
  return [...names.filter((n) => !deletes.includes(n) && !last.includes(n)), ...deletes, ...last];
}

// ---------------------------------------------------------------------------------------------
// Values and their wire encoding
// ---------------------------------------------------------------------------------------------

/** A generated message: field name -> value (undefined = absent). Integers are bigint or number. */
export type FuzzValue = { [field: string]: unknown };

const MASK64 = (1n << 64n) - 1n;
function longBits(v: bigint | number | boolean): { low: number; high: number } {
  const b = typeof v === 'bigint' ? v : BigInt(typeof v === 'boolean' ? Number(v) : Math.trunc(v));
  const u = b & MASK64;
  return { low: Number(u & 0xffffffffn) | 0, high: Number(u >> 32n) | 0 };
}

const WIRE: Record<string, number> = {
  double: 1, fixed64: 1, sfixed64: 1,
  float: 5, fixed32: 5, sfixed32: 5,
  string: 2, bytes: 2,
};
const wireType = (f: protobuf.Field) => (f.resolvedType instanceof protobuf.Type ? 2 : (WIRE[f.type] ?? 0));

function writeScalar(w: protobuf.Writer, f: protobuf.Field, v: unknown): void {
  if (f.resolvedType instanceof protobuf.Type) {
    w.fork();
    encodeInto(w, f.resolvedType, v as FuzzValue);
    w.ldelim();
    return;
  }
  switch (f.type) {
    case 'string':
      // protobufjs writes lone surrogates as 3-byte sequences (invalid UTF-8), as a careless client would.
      w.string(String(v));
      return;
    case 'bytes':
      w.bytes(v as Uint8Array);
      return;
    case 'double':
      w.double(Number(v));
      return;
    case 'float':
      w.float(Number(v));
      return;
    case 'fixed32':
    case 'sfixed32':
      w.fixed32(Number(BigInt.asUintN(32, BigInt(typeof v === 'bigint' ? v : Math.trunc(Number(v))))));
      return;
    case 'fixed64':
    case 'sfixed64':
      w.fixed64(longBits(v as bigint) as never);
      return;
    case 'sint32':
    case 'sint64': {
      const b = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
      // zigzag over 64 bits: values beyond int32 reach a sint32 field as they would from any client
      const zz = ((b << 1n) ^ (b < 0n ? MASK64 : 0n)) & MASK64;
      w.uint64(longBits(zz) as never);
      return;
    }
    default:
      // int32, int64, uint32, uint64, bool, enum: a varint of whatever 64-bit value we hold
      w.uint64(longBits(v as bigint | number | boolean) as never);
  }
}

function encodeInto(w: protobuf.Writer, type: protobuf.Type, value: FuzzValue): void {
  for (const f of type.fieldsArray) {
    const v = value[f.name];
    if (v === undefined) continue;
    if (f.map) {
      const mf = f as unknown as protobuf.MapField;
      for (const [k, val] of v as [unknown, unknown][]) {
        w.uint32((f.id << 3) | 2).fork();
        const keyField = { type: mf.keyType, resolvedType: null } as unknown as protobuf.Field;
        w.uint32((1 << 3) | (WIRE[mf.keyType] ?? 0));
        writeScalar(w, keyField, k);
        w.uint32((2 << 3) | wireType(f));
        writeScalar(w, f, val);
        w.ldelim();
      }
      continue;
    }
    if (f.repeated) {
      const items = v as { packed?: boolean; items: unknown[] };
      const wt = wireType(f);
      if (items.packed && wt !== 2) {
        w.uint32((f.id << 3) | 2).fork();
        for (const item of items.items) writeScalar(w, f, item);
        w.ldelim();
      } else {
        for (const item of items.items) {
          w.uint32((f.id << 3) | wt);
          writeScalar(w, f, item);
        }
      }
      continue;
    }
    w.uint32((f.id << 3) | wireType(f));
    writeScalar(w, f, v);
  }
}

/** Wire bytes of a generated value of `type`. */
export function encodeFuzzValue(type: protobuf.Type, value: FuzzValue): Uint8Array {
  const w = protobuf.Writer.create();
  encodeInto(w, type, value);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

export interface ArbitraryOptions {
  /**
   * Plausible values by field name, so calls get past tenant and existence checks and reach
   * deeper validation: exact names ("tenant_id") or suffixes ("*_id"). Typically real ids the
   * test seeded.
   */
  pools?: Record<string, readonly string[]>;
  /**
   * Plausible values of integer fields by exact field name ("attempt"), drawn as often as a
   * pooled string: without them a job's attempt number is 1 in about one draw of 60, so
   * requests that must name the right attempt (completions, lease checks) are almost never valid
   * and the success paths behind them never see hostile values in their other fields.
   */
  numberPools?: Record<string, readonly number[]>;
  /**
   * Pools that take the place of `pools` in plausible messages only (by field name, as `pools`):
   * values that belong together, typically one tenant's ids. `pools` mixing two tenants' ids
   * probe the tenant checks, but a plausible request drawing each id from them names the same
   * tenant in every field once in 2^k draws for k ids, so the write behind those checks (a
   * message ref naming a mailbox, a campaign, a lead and a step) was almost never reached.
   */
  plausiblePools?: Record<string, readonly string[]>;
  /** Longest hostile string (code units). Default 100_000. */
  maxStringLength?: number;
  /** Most elements of a repeated field. Default 6_000. */
  maxRepeated?: number;
  /** Deepest nesting of messages (google.protobuf.Value recurses). Default 4. */
  maxDepth?: number;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

const CONTROL = [...Array(32).keys()].map((c) => String.fromCharCode(c)).concat(['\u007f', '\u0085', '\u2028', '\u2029', '\u202e', '\ufeff', '\ufffe', '\uffff']);
const INJECTION = ["' or '1'='1", "'; drop table x; --", '%s%n%x', '${jndi:x}', '{{7*7}}', '../../../etc/passwd', '\\', '"', '%00', '%ZZ', '%E0%A4%A', '<script>', 'NaN', '-0', '1e309', 'null', 'undefined'];
const ASTRAL = ['😀', '𝕏', '👩‍👩‍👧‍👦', '🇫🇷', '𠀀'];

function poolFor(field: protobuf.Field, pools: Record<string, readonly string[]>): readonly string[] | undefined {
  if (pools[field.name]) return pools[field.name];
  for (const [k, values] of Object.entries(pools)) if (k.startsWith('*') && field.name.endsWith(k.slice(1))) return values;
  return undefined;
}

function hostileString(max: number, small: boolean): fc.Arbitrary<string> {
  const huge = small ? 300 : max;
  const repeatOf = (unit: fc.Arbitrary<string>, min: number, maxLen: number) =>
    fc.tuple(unit, fc.integer({ min, max: Math.max(min, maxLen) }), fc.boolean()).map(([u, n, shift]) => (shift ? 'a' : '') + u.repeat(Math.max(1, Math.floor(n / u.length))));
  return fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength: 30 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    // astral text around typical limits (an odd cut splits a surrogate pair)
    { weight: 3, arbitrary: repeatOf(fc.constantFrom(...ASTRAL), 1, Math.min(huge, 3000)) },
    // lone surrogates
    { weight: 2, arbitrary: fc.array(fc.constantFrom('\ud800', '\udfff', '\udc00', 'a', '😀', '\ud83d'), { minLength: 1, maxLength: 20 }).map((a) => a.join('')) },
    // NUL and control characters
    { weight: 2, arbitrary: fc.array(fc.oneof(fc.constantFrom(...CONTROL), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 20 }).map((a) => a.join('')) },
    { weight: 1, arbitrary: fc.constantFrom(...INJECTION) },
    // huge strings of one unit, up to `max` code units
    { weight: 2, arbitrary: repeatOf(fc.constantFrom('a', 'é', '😀', '\u0000', '%', ' ', '\ud800'), 200, huge) },
  );
}

function stringArb(field: protobuf.Field, o: Required<ArbitraryOptions>, small: boolean): fc.Arbitrary<string> {
  const hostile = hostileString(o.maxStringLength, small);
  const pool = poolFor(field, o.pools);
  const plausible: fc.Arbitrary<string>[] = [];
  if (pool && pool.length) plausible.push(fc.constantFrom(...pool));
  if (/(^|_)id$/.test(field.name)) plausible.push(fc.uuid());
  if (/email/.test(field.name) && !/_id$/.test(field.name)) plausible.push(fc.emailAddress());
  if (plausible.length === 0) plausible.push(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,15}$/));
  const plain = fc.oneof(...plausible);
  const variants: fc.WeightedArbitrary<string>[] = [
    { weight: 5, arbitrary: plain },
    { weight: 5, arbitrary: hostile },
    // a plausible value with something hostile around it
    { weight: 2, arbitrary: fc.tuple(plain, fc.constantFrom('\u0000', ' ', '\ud800', '😀', '\n', '%')).map(([p, s]) => p + s) },
    { weight: 1, arbitrary: fc.constant('') },
  ];
  if (pool && pool.length) variants.push({ weight: 8, arbitrary: fc.constantFrom(...pool) });
  return fc.oneof(...variants);
}

function int32Arb(): fc.Arbitrary<number | bigint> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: -2, max: 120 }) },
    { weight: 2, arbitrary: fc.integer() },
    { weight: 3, arbitrary: fc.constantFrom(INT32_MIN, INT32_MAX, -1, 0, 1, 24, 59, 60, 100, 101, 500, 501, 1000, 1001, 1440, 5000, 5001, 10_080, 100_000, 100_001) },
    // beyond int32 on the wire: what a foreign client's int64 written into an int32 field looks like
    { weight: 1, arbitrary: fc.constantFrom(2n ** 31n, 2n ** 32n, 2n ** 53n + 1n, I64_MAX, I64_MIN, -1n) },
  );
}

function int64Arb(): fc.Arbitrary<number | bigint> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: -2, max: 10_000 }) },
    { weight: 2, arbitrary: fc.bigInt({ min: I64_MIN, max: I64_MAX }) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, I64_MAX, I64_MIN, -1n,
        BigInt(INT32_MAX) + 1n, 10n * 1024n * 1024n, 10n * 1024n * 1024n + 1n, 253402300800n, -62135596801n,
      ),
    },
  );
}

function enumArb(e: protobuf.Enum): fc.Arbitrary<number | bigint> {
  const known = Object.values(e.values);
  const maxKnown = Math.max(...known);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.constantFrom(maxKnown + 1, 99, -1, INT32_MAX, INT32_MIN) },
    { weight: 1, arbitrary: fc.constantFrom(2n ** 40n, I64_MIN) },
  );
}

/** A plausible message's enum: a known value, not the zero UNSPECIFIED one (refused by every RPC that needs the field). */
function plausibleEnumArb(e: protobuf.Enum): fc.Arbitrary<number> {
  const known = Object.values(e.values);
  const set = known.filter((v) => v !== 0);
  return fc.constantFrom(...(set.length ? set : known));
}

/**
 * A plausible message's Timestamp: an instant within 30 days of the current hour (a replay within
 * the hour draws the same values), so ranges, event times and expiries can pass; or one of
 * `seconds` (numberPools.seconds), with one of `nanos` (numberPools.nanos) when given.
 */
function plausibleTimestampArb(seconds?: readonly number[], nanos?: readonly number[]): fc.Arbitrary<FuzzValue> {
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600;
  // numberPools.seconds, when the test gives it, replaces the window (e.g. past instants only);
  // numberPools.nanos the fraction (one instant for two fields that must be in order).
  const s = seconds?.length ? fc.constantFrom(...seconds) : fc.integer({ min: hour - 30 * 86_400, max: hour + 30 * 86_400 });
  return fc.record({ seconds: s, nanos: nanos?.length ? fc.constantFrom(...nanos) : fc.integer({ min: 0, max: 999_999_999 }) });
}

/** google.protobuf.Timestamp: valid instants and every kind of out-of-range. */
function timestampArb(): fc.Arbitrary<FuzzValue> {
  const now = 1_750_000_000;
  const seconds = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: now - 86_400 * 400, max: now + 86_400 * 400 }) },
    {
      weight: 4,
      arbitrary: fc.constantFrom<number | bigint>(
        0, -1, 253402300799, 253402300800, 253402300801, -62135596800, -62135596801, 2 ** 31, -(2 ** 31),
        2n ** 53n + 1n, -(2n ** 53n) - 1n, I64_MAX, I64_MIN, 8_640_000_000_000, 8_640_000_000_001,
      ),
    },
    { weight: 1, arbitrary: fc.bigInt({ min: I64_MIN, max: I64_MAX }) },
  );
  const nanos = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 999_999_999 }) },
    { weight: 2, arbitrary: fc.constantFrom(-1, 1_000_000_000, INT32_MAX, INT32_MIN) },
  );
  return fc.record({ seconds: fc.option(seconds, { freq: 8, nil: undefined }), nanos: fc.option(nanos, { freq: 3, nil: undefined }) });
}

interface ArbContext {
  o: Required<ArbitraryOptions>;
  cache: Map<string, fc.Arbitrary<FuzzValue>>;
  /** The context of plausible messages: `o` with `plausiblePools` over `pools` (the cache is shared: its keys say plausible or not). */
  plausible?: ArbContext;
}

function fieldArb(f: protobuf.Field, ctx: ArbContext, depth: number, small: boolean, plausible = false): fc.Arbitrary<unknown> {
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) return messageArb(t, ctx, depth + 1, small, plausible);
  if (t instanceof protobuf.Enum) {
    if (!plausible) return enumArb(t);
    // numberPools name an enum's plausible values when the zero is the right one (a bounce type
    // only on bounces).
    const pool = ctx.o.numberPools[f.name];
    return pool?.length ? fc.constantFrom(...pool) : plausibleEnumArb(t);
  }
  switch (f.type) {
    case 'string':
      return stringArb(f, ctx.o, small);
    case 'bytes':
      return fc.oneof(
        { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: small ? 256 : 5 * 1024 * 1024 }).map((n) => new Uint8Array(n).fill(0x41)) },
      );
    case 'bool':
      return fc.oneof({ weight: 6, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom<number | bigint>(2, 255, 2n ** 63n) });
    case 'double':
    case 'float':
      return fc.oneof(fc.double(), fc.constantFrom(NaN, Infinity, -Infinity, -0, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2));
    case 'int32':
    case 'sint32':
    case 'sfixed32':
    case 'uint32':
    case 'fixed32':
      return pooledNumber(f, ctx.o, int32Arb());
    default:
      return pooledNumber(f, ctx.o, int64Arb());
  }
}

/** The pool of a string, bytes or integer field, if it has one. */
function pooledValues(f: protobuf.Field, o: Required<ArbitraryOptions>): readonly (string | number | Uint8Array)[] | undefined {
  if (f.resolvedType) return undefined;
  // A bytes field's pool is strings too (their UTF-8): a `payload_json`'s JSON texts.
  const pool =
    f.type === 'string' ? poolFor(f, o.pools)
    : f.type === 'bytes' ? poolFor(f, o.pools)?.map((t) => Buffer.from(t))
    : f.type === 'bool' || f.type === 'double' || f.type === 'float' ? undefined
    : o.numberPools[f.name];
  return pool && pool.length ? pool : undefined;
}

/** `hostile`, or (as often as a pooled string is) one of the field's plausible numbers, if it has a pool. */
function pooledNumber(f: protobuf.Field, o: Required<ArbitraryOptions>, hostile: fc.Arbitrary<number | bigint>): fc.Arbitrary<number | bigint> {
  const pool = o.numberPools[f.name];
  if (!pool || pool.length === 0) return hostile;
  return fc.oneof({ weight: 10, arbitrary: hostile }, { weight: 8, arbitrary: fc.constantFrom(...pool) });
}

function repeatedArb(elem: fc.Arbitrary<unknown>, smallElem: fc.Arbitrary<unknown>, depth: number, max: number): fc.Arbitrary<{ packed: boolean; items: unknown[] }> {
  const variants: fc.WeightedArbitrary<unknown[]>[] = [
    { weight: 6, arbitrary: fc.array(elem, { maxLength: 3 }) },
    { weight: 2, arbitrary: fc.array(smallElem, { minLength: 4, maxLength: 40 }) },
  ];
  // thousands of elements: one small element repeated (cheap to generate, still thousands on the wire)
  if (depth <= 1) {
    variants.push({
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(smallElem, { minLength: 1, maxLength: 3 }), fc.integer({ min: Math.min(90, max), max }))
        .map(([seed, n]) => Array.from({ length: n }, (_, i) => seed[i % seed.length])),
    });
  }
  return fc.tuple(fc.oneof(...variants), fc.boolean()).map(([items, packed]) => ({ packed, items }));
}

const PLAUSIBLE = Symbol('plausible');

function messageArb(type: protobuf.Type, ctx: ArbContext, depth: number, small: boolean, plausible = false): fc.Arbitrary<FuzzValue> {
  if (plausible && ctx.plausible) ctx = ctx.plausible;
  const key = `${type.fullName}|${depth}|${small}|${plausible}`;
  const cached = ctx.cache.get(key);
  if (cached) return cached;
  if (depth > ctx.o.maxDepth) return fc.constant({});
  if (type.fullName === '.google.protobuf.Timestamp') return plausible ? plausibleTimestampArb(ctx.o.numberPools.seconds, ctx.o.numberPools.nanos) : timestampArb();
  // Placeholder for recursion through fc.constant would be wrong; build eagerly (depth bounds it).
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of type.fieldsArray) {
    const pool = pooledValues(f, ctx.o);
    let arb: fc.Arbitrary<unknown>;
    if (f.map) {
      const mf = f as unknown as protobuf.MapField;
      const keyField = { name: f.name + '_key', type: mf.keyType, resolvedType: null } as unknown as protobuf.Field;
      const entry = fc.tuple(fieldArb(keyField, ctx, depth, small, plausible), fieldArb(f, ctx, depth, small, plausible));
      const smallEntry = fc.tuple(fieldArb(keyField, ctx, depth, true, plausible), fieldArb(f, ctx, depth, true, plausible));
      arb = repeatedArb(entry, smallEntry, depth, ctx.o.maxRepeated).map((r) => r.items);
    } else if (f.repeated && plausible) {
      const elem = pool ? fc.constantFrom(...pool) : fieldArb(f, ctx, depth, true, true);
      arb = fc.array(elem, { minLength: 1, maxLength: 3 }).map((items) => ({ packed: false, items }));
    } else if (f.repeated) {
      arb = repeatedArb(fieldArb(f, ctx, depth, small), fieldArb(f, ctx, depth, true), depth, ctx.o.maxRepeated);
    } else if (pool && plausible) {
      arb = fc.constantFrom(...pool);
    } else {
      arb = fieldArb(f, ctx, depth, small, plausible);
    }
    if (plausible) {
      // Every pooled, repeated and enum field set (an unset enum is its UNSPECIFIED zero), every
      // Timestamp and every nested message of our own (a request's `message`, `lead`,
      // `time_range`); each other field (scalars, Structs) in half the messages, so a request is
      // not always refused for a field it did not need to set.
      const always =
        pool ||
        f.repeated ||
        f.resolvedType instanceof protobuf.Enum ||
        (f.resolvedType instanceof protobuf.Type && (!f.resolvedType.fullName.startsWith('.google.protobuf.') || f.resolvedType.fullName === '.google.protobuf.Timestamp'));
      model[f.name] = always ? arb : fc.oneof({ weight: 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
    } else {
      model[f.name] = fc.option(arb, { freq: pool ? 12 : 3, nil: undefined });
    }
  }
  let arb = fc.record(model) as fc.Arbitrary<FuzzValue>;
  // A third of the messages are plausible instead: every pooled field one of its
  // pool's values, nested messages plausible too. With each pooled field hostile on its own, a
  // request that must name a real tenant, job, worker AND attempt was almost never drawn, so the
  // paths behind those checks (a stored output, a failure's retry) never met hostile values.
  if (!plausible) {
    // The top level's plausible messages are marked (not enumerable, not encoded), so the stats
    // can tell what still refuses them.
    const p = messageArb(type, ctx, depth, small, true);
    arb = fc.oneof({ weight: 2, arbitrary: arb }, { weight: 1, arbitrary: depth === 0 ? p.map((v) => Object.defineProperty({ ...v }, PLAUSIBLE, { value: true })) : p });
  }
  ctx.cache.set(key, arb);
  return arb;
}

/** One fuzz input: a generated message, a corrupted encoding of one, or random bytes. */
export interface FuzzInput {
  kind: 'message' | 'plausible' | 'corrupted' | 'random';
  bytes: Uint8Array;
  value?: FuzzValue;
}

/** Requests for `type`: mostly generated messages, some corrupted encodings, some random bytes. */
export function requestArbitrary(type: protobuf.Type, options: ArbitraryOptions = {}): fc.Arbitrary<FuzzInput> {
  const o: Required<ArbitraryOptions> = { pools: {}, numberPools: {}, plausiblePools: {}, maxStringLength: 100_000, maxRepeated: 6_000, maxDepth: 4, ...options };
  const ctx: ArbContext = { o, cache: new Map() };
  ctx.plausible = { o: { ...o, pools: { ...o.pools, ...o.plausiblePools } }, cache: ctx.cache };
  const message = messageArb(type, ctx, 0, false);
  const encoded = message.map((value): FuzzInput => withDescription({ kind: PLAUSIBLE in value ? 'plausible' : 'message', value, bytes: encodeFuzzValue(type, value) }));
  const corrupted = fc
    .tuple(message, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('truncate', 'flip', 'append', 'length'))
    .map(([value, at, byte, how]): FuzzInput => {
      const b = Buffer.from(encodeFuzzValue(type, value));
      let out: Uint8Array;
      if (b.length === 0) out = Uint8Array.of(byte, 0xff);
      else if (how === 'truncate') out = b.subarray(0, at % b.length);
      else if (how === 'flip') {
        b[at % b.length] ^= byte || 0x80;
        out = b;
      } else if (how === 'append') out = Buffer.concat([b, Buffer.from([byte, 0xff, 0xff, 0xff, 0xff, 0x0f])]);
      else out = Buffer.concat([Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x07]), b]); // a length beyond the buffer
      return withDescription({ kind: 'corrupted', value, bytes: out });
    });
  const random = fc.uint8Array({ maxLength: 2_000 }).map((bytes): FuzzInput => withDescription({ kind: 'random', bytes }));
  return fc.oneof({ weight: 16, arbitrary: encoded }, { weight: 2, arbitrary: corrupted }, { weight: 2, arbitrary: random });
}

// Reports print a short description instead of 100 kB strings and 6 000-element arrays.
function withDescription(input: FuzzInput): FuzzInput {
  Object.defineProperty(input, fc.toStringMethod, { value: () => describeInput(input), enumerable: false });
  return input;
}

function describeString(s: string): string {
  const flags: string[] = [];
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)) flags.push('lone-surrogate');
  if (/[\ud800-\udbff][\udc00-\udfff]/.test(s)) flags.push('astral');
  if (s.includes('\u0000')) flags.push('NUL');
  if (s.length <= 80) return JSON.stringify(s) + (flags.length ? ` (${flags.join(',')})` : '');
  return `<string of ${s.length} code units${flags.length ? ', ' + flags.join(',') : ''}: ${JSON.stringify(s.slice(0, 24))}…>`;
}

export function describeValue(v: unknown, depth = 0): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return describeString(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof Uint8Array) return v.length <= 32 ? `bytes(${Buffer.from(v).toString('hex')})` : `<${v.length} bytes>`;
  if (Array.isArray(v)) {
    if (v.length > 4) return `[${v.length} items, first: ${describeValue(v[0], depth + 1)}]`;
    return `[${v.map((x) => describeValue(x, depth + 1)).join(', ')}]`;
  }
  if (typeof v === 'object' && v && 'items' in v && 'packed' in v) return describeValue((v as { items: unknown[] }).items, depth);
  if (typeof v === 'object' && v) {
    if (depth > 5) return '{…}';
    const parts = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${k}: ${describeValue(x, depth + 1)}`);
    return `{${parts.join(', ')}}`;
  }
  return String(v);
}

export function describeInput(input: FuzzInput): string {
  const head = `${input.kind}, ${input.bytes.length} bytes`;
  if (input.kind === 'random') return `${head}: ${describeValue(input.bytes)}`;
  return `${head}: ${describeValue(input.value)}`;
}

// ---------------------------------------------------------------------------------------------
// A raw client
// ---------------------------------------------------------------------------------------------

export interface RawResult {
  code: number;
  details: string;
  ms: number;
  response?: Buffer;
}

const identity = (b: Buffer) => b;

/** Sends bytes as they are to any method (identity serialisers), and asks health. */
export class RawClient {
  readonly client: Client;
  constructor(readonly address: string) {
    this.client = new Client(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      'grpc.max_send_message_length': 256 * 1024 * 1024,
    });
  }

  call(path: string, bytes: Uint8Array, timeoutMs: number): Promise<RawResult> {
    const started = performance.now();
    return new Promise((resolve) => {
      this.client.makeUnaryRequest<Buffer, Buffer>(
        path,
        identity,
        identity,
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        new Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err: ServiceError | null, res?: Buffer) => {
          const ms = performance.now() - started;
          if (err) resolve({ code: err.code, details: err.details ?? err.message, ms });
          else resolve({ code: Status.OK, details: '', ms, response: res });
        },
      );
    });
  }

  /** grpc.health.v1 Check of the whole server: 'SERVING', 'NOT_SERVING', ..., or the error code name. */
  async health(timeoutMs = 5_000): Promise<string> {
    const r = await this.call('/grpc.health.v1.Health/Check', new Uint8Array(0), timeoutMs);
    if (r.code !== Status.OK) return `error ${Status[r.code]}: ${r.details}`;
    const reader = protobuf.Reader.create(r.response!);
    let s = 0;
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 1) s = reader.int32();
      else reader.skipType(tag & 7);
    }
    return ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][s] ?? String(s);
  }

  close(): void {
    this.client.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Store digests
// ---------------------------------------------------------------------------------------------

/**
 * Count and md5 of every row of every table of a PostgreSQL database (tables found in
 * pg_catalog), in one statement: "a refused call wrote nothing" is digest before == after.
 */
export async function pgDigest(db: Pool | PoolClient): Promise<string> {
  const { rows: tables } = await db.query<{ q: string }>(
    `select format('%I.%I', n.nspname, c.relname) as q from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
      order by 1`,
  );
  if (tables.length === 0) return '';
  const sql = tables
    .map(
      ({ q }) =>
        `select ${escapeLiteral(q)} as t, count(*)::text || ':' || coalesce(md5(string_agg(md5(x::text), '' order by md5(x::text))), '') as s from ${q} x`,
    )
    .join(' union all ');
  const { rows } = await db.query<{ t: string; s: string }>(sql);
  return rows.map((r) => `${r.t}=${r.s}`).join(' ');
}

const escapeLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

// ---------------------------------------------------------------------------------------------
// The campaign
// ---------------------------------------------------------------------------------------------

export interface MethodStats {
  method: string;
  inputs: number;
  byKind: Record<string, number>;
  codes: Record<string, number>;
  maxMs: number;
  totalMs: number;
  hangs: number;
  bad: number;
  /** Uncaught exceptions in this process while a call of the method was in flight. */
  crashes: number;
  failures: string[];
  /** Refusals of plausible inputs by code and the field (or first words) their details name: what keeps them off the success path. */
  refusals: Record<string, number>;
}

interface FailureClass {
  signature: string;
  count: number;
  examples: { path: string; message: string; input: string }[];
}

/** What kind of failure a message is, without the parts that vary from input to input. */
function signatureOf(message: string): string {
  return message
    .split('\n')[0]
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/\d+/g, 'N')
    .slice(0, 160);
}

export interface FuzzerOptions extends ArbitraryOptions {
  address: string;
  /**
   * Pools for one method only, over `pools` / `numberPools` / `plausiblePools` (e.g.
   * GetTimeSeries takes one of three ids: the others pooled as '' so its plausible requests name
   * just one). A field in the method's `pools` is no longer in the suite's `plausiblePools` for
   * that method: what the method names wins.
   */
  methodPools?: Record<
    string,
    { pools?: Record<string, readonly string[]>; numberPools?: Record<string, readonly number[]>; plausiblePools?: Record<string, readonly string[]> }
  >;
  /** Digest of the whole store; unchanged by every refused call. */
  digest: () => Promise<string>;
  settings?: FuzzSettings;
}

function methodSeed(base: number, method: string): number {
  return createHash('sha256').update(`${base}:${method}`).digest().readInt32LE(0);
}

/** Runs the campaign of each method of one service and keeps the figures. */
export class ServiceFuzzer {
  client: RawClient;
  readonly settings: FuzzSettings;
  readonly stats = new Map<string, MethodStats>();
  private lastDigest: string | undefined;
  private unhealthy = false;

  constructor(
    readonly spec: ServiceSpec,
    private readonly opts: FuzzerOptions,
  ) {
    this.client = new RawClient(opts.address);
    this.settings = opts.settings ?? fuzzSettings();
  }

  /** Methods that are fuzzed in this run (all, or the one FUZZ_REPLAY names). */
  get methodNames(): string[] {
    return this.spec.methods.map((m) => m.name);
  }


  private statsFor(method: string): MethodStats {
    let s = this.stats.get(method);
    if (!s) {
      s = { method, inputs: 0, byKind: {}, codes: {}, maxMs: 0, totalMs: 0, hangs: 0, bad: 0, crashes: 0, failures: [], refusals: {} };
      this.stats.set(method, s);
    }
    return s;
  }

  /** One call with every check; throws (with what was sent) when an invariant breaks. */
  async check(method: FuzzMethod, input: FuzzInput): Promise<RawResult> {
    const st = this.statsFor(method.name);
    const before = this.lastDigest ?? (await this.opts.digest());
    let crash: Error | undefined;
    const onCrash = (e: Error) => {
      crash = e;
      st.crashes++;
      process.stderr.write(`fuzz: uncaught exception during ${method.name} (${describeInput(input).slice(0, 300)}): ${e?.stack ?? e}\n`);
    };
    process.on('uncaughtException', onCrash);
    let r: RawResult;
    try {
      r = await this.client.call(method.path, input.bytes, this.settings.timeoutMs);
    } finally {
      // a crash surfaces a moment after the call fails
      await new Promise((res) => setImmediate(res));
      process.off('uncaughtException', onCrash);
    }
    st.inputs++;
    st.byKind[input.kind] = (st.byKind[input.kind] ?? 0) + 1;
    const code = Status[r.code] ?? String(r.code);
    st.codes[code] = (st.codes[code] ?? 0) + 1;
    if (r.code !== Status.OK && input.kind === 'plausible') {
      const why = `${code} ${refusalKey(r.details)}`;
      st.refusals[why] = (st.refusals[why] ?? 0) + 1;
    }
    st.maxMs = Math.max(st.maxMs, r.ms);
    st.totalMs += r.ms;
    const problems: string[] = [];
    if (crash) problems.push(`the process threw an uncaught exception: ${truncate(String(crash.stack ?? crash), 400)}`);
    if (r.code === Status.DEADLINE_EXCEEDED || r.ms > this.settings.timeoutMs) {
      st.hangs++;
      problems.push(`no answer within ${this.settings.timeoutMs} ms (${code} after ${Math.round(r.ms)} ms)`);
    } else if (!ACCEPTABLE_CODES.has(r.code)) {
      problems.push(`status ${code}: ${truncate(r.details, 300)}`);
    }
    const health = await this.client.health().catch((e: Error) => `health failed: ${e.message}`);
    if (health !== 'SERVING') {
      problems.push(`health after the call: ${health}`);
      // The connection may be wedged rather than the server dead: ask again on a new one.
      this.client.close();
      this.client = new RawClient(this.opts.address);
      const again = await this.client.health().catch((e: Error) => `health failed: ${e.message}`);
      if (again !== 'SERVING') {
        this.unhealthy = true;
        problems.push(`health on a new connection: ${again}`);
      }
    }
    if (r.code === Status.OK) {
      this.lastDigest = undefined;
    } else {
      const after = await this.opts.digest();
      this.lastDigest = after;
      if (after !== before) problems.push(`refused with ${code} but the store changed:\n  before ${truncate(before, 600)}\n  after  ${truncate(after, 600)}`);
    }
    if (problems.length) {
      st.bad++;
      throw new Error(`${method.name}: ${problems.join('; ')}`);
    }
    return r;
  }

  /** The seeded campaign of one method: FUZZ_RUNS inputs; the failure report says how to replay. */
  async fuzzMethod(name: string): Promise<MethodStats> {
    const method = this.spec.methods.find((m) => m.name === name);
    if (!method) throw new Error(`${this.spec.service} has no method ${name}`);
    const st = this.statsFor(name);
    if (this.unhealthy) throw new Error(`${name}: not fuzzed, the server stopped SERVING during an earlier method`);
    const own = this.opts.methodPools?.[method.name];
    // The method's own pools win over the suite-wide plausiblePools too: a create's pool of new
    // ids must not give way to the existing rows plausible requests name elsewhere.
    const plausiblePools = Object.fromEntries(Object.entries(this.opts.plausiblePools ?? {}).filter(([field]) => !own?.pools?.[field]));
    const arb = requestArbitrary(method.requestType, {
      ...this.opts,
      pools: { ...this.opts.pools, ...own?.pools },
      numberPools: { ...this.opts.numberPools, ...own?.numberPools },
      plausiblePools: { ...plausiblePools, ...own?.plausiblePools },
    });
    const seed = methodSeed(this.settings.seed, name);
    const replay = this.settings.replay?.method === name ? this.settings.replay.path : undefined;
    const keepGoing = this.settings.keepGoing && !replay && !this.settings.shrink;
    const classes = new Map<string, FailureClass>();
    let index = replay ? Number(replay.split(':')[0]) : 0;
    const replayHint = (path: string) => `FUZZ_SEED=${this.settings.seed} FUZZ_REPLAY='${name}:${path}'`;
    const details = await fc.check(
      fc.asyncProperty(arb, async (input) => {
        const path = String(index++);
        if (!keepGoing) return void (await this.check(method, input));
        // Without shrinking, the path of the i-th run is "i".
        if (this.unhealthy || st.hangs >= 3) return; // the rest would only time out
        try {
          await this.check(method, input);
        } catch (e) {
          const message = (e as Error).message;
          const signature = signatureOf(message);
          const c = classes.get(signature) ?? { signature, count: 0, examples: [] };
          c.count++;
          if (c.examples.length < 2) c.examples.push({ path, message, input: truncate(describeInput(input), 600) });
          classes.set(signature, c);
        }
      }),
      {
        seed,
        numRuns: replay ? 1 : this.settings.runs,
        path: replay,
        endOnFailure: !this.settings.shrink,
        // the inputs are big; fast-check's own report would print them whole
        includeErrorInReport: false,
      },
    );
    if (details.failed) {
      const input = details.counterexample?.[0] as FuzzInput | undefined;
      const err = details.errorInstance as Error | undefined;
      const msg = [
        `${this.spec.service}/${name} failed after ${details.numRuns} inputs: ${err?.message ?? String(details.errorInstance)}`,
        `  input: ${input ? truncate(describeInput(input), 2000) : '?'}`,
        `  replay: ${replayHint(details.counterexamplePath ?? '?')} (fast-check seed ${details.seed}, path ${details.counterexamplePath})`,
      ].join('\n');
      st.failures.push(msg);
      throw new Error(msg);
    }
    if (classes.size > 0) {
      const lines = [`${this.spec.service}/${name}: ${st.bad} of ${st.inputs} inputs broke an invariant, ${classes.size} kind(s):`];
      for (const c of classes.values()) {
        lines.push(`- ${c.count}x ${c.signature}`);
        for (const ex of c.examples) lines.push(`    input: ${ex.input}`, `    replay: ${replayHint(ex.path)}`);
      }
      if (st.hangs >= 3 || this.unhealthy) lines.push(`  (stopped early: ${this.unhealthy ? 'the server stopped SERVING' : '3 hangs'})`);
      const msg = lines.join('\n');
      st.failures.push(msg);
      throw new Error(msg);
    }
    return st;
  }

  /** A table of the figures (also written as JSON to FUZZ_RESULTS_DIR when set). */
  summary(label = this.spec.service): string {
    const rows = [...this.stats.values()];
    const codes = [...new Set(rows.flatMap((r) => Object.keys(r.codes)))].sort();
    const head = ['method', 'inputs', 'random/corrupt', 'max ms', 'hangs', 'crashes', 'bad', ...codes];
    const lines = rows.map((r) => [
      r.method,
      String(r.inputs),
      String((r.byKind.random ?? 0) + (r.byKind.corrupted ?? 0)),
      String(Math.round(r.maxMs)),
      String(r.hangs),
      String(r.crashes),
      String(r.bad),
      ...codes.map((c) => String(r.codes[c] ?? 0)),
    ]);
    const total = (f: (r: MethodStats) => number) => String(rows.reduce((a, r) => a + f(r), 0));
    lines.push([
      'TOTAL',
      total((r) => r.inputs),
      total((r) => (r.byKind.random ?? 0) + (r.byKind.corrupted ?? 0)),
      String(Math.round(Math.max(0, ...rows.map((r) => r.maxMs)))),
      total((r) => r.hangs),
      total((r) => r.crashes),
      total((r) => r.bad),
      ...codes.map((c) => total((r) => r.codes[c] ?? 0)),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
    const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    // Methods whose calls (almost) never succeed: their success paths met few hostile values,
    // and the refusals say which pool the test could add.
    const rare = rows
      .filter((r) => (r.byKind.plausible ?? 0) > 0 && (r.codes.OK ?? 0) < Math.max(1, r.inputs / 100))
      .map((r) => {
        const top = Object.entries(r.refusals).sort((a, b) => b[1] - a[1]).slice(0, 3);
        return `  ${r.method}: ${r.codes.OK ?? 0} OK of ${r.inputs}; its ${r.byKind.plausible} plausible inputs refused most for ${top.map(([k, n]) => `${k} (${n})`).join(', ')}`;
      });
    return [
      `fuzz ${label} (seed ${this.settings.seed}, ${this.settings.runs} runs per method, bound ${this.settings.timeoutMs} ms)`,
      fmt(head),
      ...lines.map(fmt),
      ...(rare.length ? ['methods that (almost) never got through:', ...rare] : []),
    ].join('\n');
  }

  writeResults(name: string): void {
    if (!this.settings.resultsDir) return;
    mkdirSync(this.settings.resultsDir, { recursive: true });
    writeFileSync(
      join(this.settings.resultsDir, `${name}.json`),
      JSON.stringify({ service: this.spec.service, seed: this.settings.seed, runs: this.settings.runs, methods: [...this.stats.values()] }, null, 2),
    );
  }

  close(): void {
    this.client.close();
  }
}

/**
 * The part of a refusal's details that names what was wrong (the field before the first ':',
 * else its first words), made a signature as failures are (signatureOf: ids and numbers out).
 */
function refusalKey(details: string): string {
  const first = details.split('\n')[0];
  const colon = first.indexOf(':');
  return signatureOf(colon > 0 && colon <= 80 ? first.slice(0, colon) : first.split(' ').slice(0, 6).join(' ')).slice(0, 80);
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}… (${s.length} chars)`;
}

/** A code no call may answer (INTERNAL, UNKNOWN, UNAVAILABLE, DEADLINE_EXCEEDED, ...): for read-back checks. */
export function isBadCode(code: number): boolean {
  return !ACCEPTABLE_CODES.has(code);
}
