import fs from 'node:fs';
import { credentials as grpcCredentials, type ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';

/** The four services of the platform, in the order the CLI prints them. */
export const SERVICE_NAMES = ['metadata', 'content', 'queue', 'analytics'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** The ports `npm start` uses unless told otherwise. */
export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = Object.freeze({
  metadata: 50051,
  content: 50052,
  queue: 50053,
  analytics: 50054,
});

/**
 * How failed calls are retried (only calls that are safe to repeat; see `retry.ts`).
 * The wait before retry n (1-based) is a random value in [0, min(maxBackoffMs, initialBackoffMs * multiplier^(n-1))]
 * ("full jitter"), and no retry starts after the call's deadline.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included (1 = never retry). Default 5. */
  maxAttempts: number;
  /** Default 100 ms. */
  initialBackoffMs: number;
  /** Default 5000 ms. */
  maxBackoffMs: number;
  /** Default 2. */
  multiplier: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  multiplier: 2,
});

/** TLS material, as PEM contents or file paths (a string that names an existing file is read). */
export interface TlsSettings {
  /** CA that signed the services' certificates (default: the system roots). */
  ca?: string | Buffer;
  /** Client certificate and key for mTLS (the services' TLS_CLIENT_CA). */
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** Everything the SDK needs to reach the platform, in one place. */
export interface PlatformSettings {
  /** `host:port` of each service (a `grpc://` or `grpcs://` prefix is accepted and dropped). Default: localhost and the default ports. */
  addresses?: Partial<Record<ServiceName, string>>;
  /** Bearer token sent as `authorization: Bearer <token>` on every call (the services' AUTH_TOKENS). */
  token?: string;
  /** TLS for every channel; omit for plaintext. Ignored when `credentials` is given. */
  tls?: TlsSettings | boolean;
  /** Ready-made grpc-js channel credentials (overrides `tls`). */
  credentials?: ChannelCredentials;
  /** Deadline of one SDK call, retries included, in ms. Default 10 000. */
  deadlineMs?: number;
  /** Retry policy, or `false` to never retry. */
  retry?: Partial<RetryPolicy> | false;
  /** Extra grpc-js channel options (e.g. `grpc.max_receive_message_length` for large attachments). */
  channelOptions?: ChannelOptions;
}

/** Settings with every default filled in. */
export interface ResolvedSettings {
  addresses: Record<ServiceName, string>;
  token?: string;
  credentials: ChannelCredentials;
  deadlineMs: number;
  retry: RetryPolicy;
  channelOptions: ChannelOptions;
}

export const DEFAULT_DEADLINE_MS = 10_000;

/** `grpc://h:p`, `grpcs://h:p`, `http://h:p` or `h:p` → `h:p`; a bare port → `127.0.0.1:port`. */
export function normalizeAddress(value: string, what = 'address'): string {
  const v = value.trim();
  const stripped = v.replace(/^(grpcs?|https?):\/\//i, '').replace(/\/+$/, '');
  if (/^\d+$/.test(stripped)) return `127.0.0.1:${stripped}`;
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/.test(stripped)) {
    throw new SettingsError(`${what} must be host:port (e.g. localhost:50051), got "${value}"`);
  }
  return stripped;
}

/** A setting the SDK cannot use (a bad env value, a missing TLS file). */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

function pem(value: string | Buffer | undefined): Buffer | undefined {
  if (value === undefined) return undefined;
  if (Buffer.isBuffer(value)) return value;
  if (value.includes('-----BEGIN')) return Buffer.from(value);
  try {
    return fs.readFileSync(value);
  } catch (err) {
    throw new SettingsError(`cannot read the TLS file ${value}: ${(err as Error).message}`);
  }
}

/** Fills in the defaults and builds the channel credentials. */
export function resolveSettings(settings: PlatformSettings = {}): ResolvedSettings {
  const addresses = {} as Record<ServiceName, string>;
  for (const name of SERVICE_NAMES) {
    const given = settings.addresses?.[name];
    addresses[name] = given ? normalizeAddress(given, `the ${name} address`) : `127.0.0.1:${DEFAULT_PORTS[name]}`;
  }
  let creds = settings.credentials;
  if (!creds) {
    if (settings.tls) {
      const tls = settings.tls === true ? {} : settings.tls;
      const cert = pem(tls.cert);
      const key = pem(tls.key);
      if (Boolean(cert) !== Boolean(key)) throw new SettingsError('TLS needs both a client certificate and its key (or neither)');
      creds = grpcCredentials.createSsl(pem(tls.ca) ?? null, key ?? null, cert ?? null);
    } else {
      creds = grpcCredentials.createInsecure();
    }
  }
  const deadlineMs = settings.deadlineMs ?? DEFAULT_DEADLINE_MS;
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0) throw new SettingsError(`deadlineMs must be a positive number of ms, got ${deadlineMs}`);
  const retry: RetryPolicy = settings.retry === false ? { ...DEFAULT_RETRY_POLICY, maxAttempts: 1 } : { ...DEFAULT_RETRY_POLICY, ...settings.retry };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) throw new SettingsError(`retry.maxAttempts must be an integer >= 1, got ${retry.maxAttempts}`);
  return { addresses, token: settings.token || undefined, credentials: creds, deadlineMs, retry, channelOptions: settings.channelOptions ?? {} };
}

const ENV_ADDRESS: Record<ServiceName, { url: string; port: string }> = {
  metadata: { url: 'PM_METADATA_URL', port: 'PM_METADATA_PORT' },
  content: { url: 'PM_CONTENT_URL', port: 'PM_CONTENT_PORT' },
  queue: { url: 'PM_QUEUE_URL', port: 'PM_QUEUE_PORT' },
  analytics: { url: 'PM_ANALYTICS_URL', port: 'PM_ANALYTICS_PORT' },
};

/** The env variable names of each service's address (`PM_<SERVICE>_URL`, `PM_<SERVICE>_PORT`). */
export const ADDRESS_ENV = ENV_ADDRESS;

function positiveNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new SettingsError(`${name} must be a positive number, got "${raw}"`);
  return n;
}

/**
 * Settings from the environment (every variable optional):
 *
 * | variable | setting |
 * |---|---|
 * | `PM_METADATA_URL`, `PM_CONTENT_URL`, `PM_QUEUE_URL`, `PM_ANALYTICS_URL` | a service's `host:port` (or `grpc://host:port`) |
 * | `PM_HOST` + `PM_METADATA_PORT` ... | host (default 127.0.0.1) and port, when the URL is not set |
 * | `PM_TOKEN` | bearer token |
 * | `PM_TLS=1`, `PM_TLS_CA`, `PM_TLS_CERT`, `PM_TLS_KEY` | TLS (PEM file paths); any of the files turns TLS on |
 * | `PM_DEADLINE_MS` | deadline of one call, retries included (default 10000) |
 * | `PM_RETRY_MAX_ATTEMPTS` | attempts in all (default 5; 1 = no retries) |
 *
 * Only the addresses that are set appear in `addresses`; the others keep their defaults.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): PlatformSettings {
  const addresses: Partial<Record<ServiceName, string>> = {};
  for (const name of SERVICE_NAMES) {
    const { url, port } = ENV_ADDRESS[name];
    if (env[url]) addresses[name] = normalizeAddress(env[url]!, url);
    else if (env[port]) {
      if (!/^\d{1,5}$/.test(env[port]!)) throw new SettingsError(`${port} must be a port number, got "${env[port]}"`);
      addresses[name] = `${env.PM_HOST || '127.0.0.1'}:${env[port]}`;
    } else if (env.PM_HOST) addresses[name] = `${env.PM_HOST}:${DEFAULT_PORTS[name]}`;
  }
  const settings: PlatformSettings = { addresses };
  if (env.PM_TOKEN) settings.token = env.PM_TOKEN;
  const tlsOn = ['1', 'true', 'yes'].includes((env.PM_TLS ?? '').toLowerCase());
  if (tlsOn || env.PM_TLS_CA || env.PM_TLS_CERT || env.PM_TLS_KEY) {
    settings.tls = { ca: env.PM_TLS_CA || undefined, cert: env.PM_TLS_CERT || undefined, key: env.PM_TLS_KEY || undefined };
  }
  const deadline = positiveNumber(env, 'PM_DEADLINE_MS');
  if (deadline !== undefined) settings.deadlineMs = deadline;
  const attempts = positiveNumber(env, 'PM_RETRY_MAX_ATTEMPTS');
  if (attempts !== undefined) settings.retry = { maxAttempts: Math.floor(attempts) };
  return settings;
}

/** `base` overlaid with `over` (addresses merged per service). */
export function mergeSettings(base: PlatformSettings, over: PlatformSettings): PlatformSettings {
  const retry = over.retry === false || base.retry === false ? (over.retry ?? base.retry) : { ...base.retry, ...over.retry };
  return { ...base, ...over, addresses: { ...base.addresses, ...over.addresses }, retry };
}
