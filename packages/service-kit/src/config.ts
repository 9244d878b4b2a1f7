import { z } from 'zod';
import { describeSettingValue } from './redact';

/**
 * A setting that failed validation. `main.ts` prints `message` (one line per variable) and
 * exits 1; no stack trace, since the fix is in the environment, not the code.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(public readonly problems: { variable: string; problem: string }[]) {
    super(
      'invalid configuration:\n' +
        problems.map((p) => `  ${p.variable}: ${p.problem}`).join('\n'),
    );
  }
}

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const csv = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

const port = z.coerce.number().int().min(0).max(65535);

/** A URL with one of the given protocols, e.g. `url('postgres:', 'postgresql:')`. */
export const url = (...protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}` },
  );

/**
 * Settings every service reads. Spread into a service's own schema:
 * `z.object({ ...commonSettings('metadata', 50051), DATABASE_URL: url('postgres:') })`.
 */
export function commonSettings(service: string, defaultPort: number) {
  return {
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    GRPC_HOST: z.string().min(1).default('0.0.0.0'),
    GRPC_PORT: port.default(defaultPort),
    /**
     * Comma-separated bearer tokens. `<token>` or `*:<token>` may act for every tenant (platform
     * workers); `<tenant-uuid>|<tenant-uuid>:<token>` only for those tenants (PERMISSION_DENIED
     * otherwise). Empty disables auth (refused when NODE_ENV=production).
     */
    AUTH_TOKENS: csv.default([]),
    /** Serve gRPC server reflection (grpcurl, Postman). Production may switch it off; health stays open either way. */
    GRPC_REFLECTION: bool.default(true),
    /** Largest request and response message, in bytes (grpc-js answers RESOURCE_EXHAUSTED beyond). */
    GRPC_MAX_RECEIVE_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
    GRPC_MAX_SEND_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
    /** Concurrent calls on one HTTP/2 connection. */
    GRPC_MAX_CONCURRENT_STREAMS: z.coerce.number().int().positive().default(100),
    /** Ping an idle connection this often, and drop the peer when a ping is not answered in the timeout. */
    GRPC_KEEPALIVE_TIME_MS: z.coerce.number().int().positive().default(60_000),
    GRPC_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(20_000),
    /** PEM files; when TLS_CERT and TLS_KEY are set the server speaks TLS, and with TLS_CLIENT_CA it requires client certificates (mTLS). */
    TLS_CERT: z.string().optional(),
    TLS_KEY: z.string().optional(),
    TLS_CLIENT_CA: z.string().optional(),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    LOG_PRETTY: bool.default(false),
    SERVICE_NAME: z.string().default(service),
    /** Upper bound for a call's deadline; calls without a deadline get this one. */
    GRPC_MAX_CALL_MS: z.coerce.number().int().positive().default(30_000),
    SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().default(10_000),
    /** How often the stores are probed to keep gRPC health true (NOT_SERVING while one is down). */
    HEALTH_CHECK_INTERVAL_MS: z.coerce.number().int().positive().default(5_000),
    /** Port of the Prometheus `/metrics` endpoint (HTTP); unset = no endpoint. Conventionally 9464. */
    METRICS_PORT: port.optional(),
    /** Interface of the `/metrics` endpoint (default: GRPC_HOST). */
    METRICS_HOST: z.string().min(1).optional(),
  };
}

/**
 * Default age limit of every event stream: 7 days, a week-end plus a working week of consumer
 * outage. See the kit README, "Personal data in events".
 */
export const DEFAULT_EVENTS_MAX_AGE_MS = 7 * 24 * 3600_000;

/** Settings of services that publish or consume events. */
export const natsSettings = {
  NATS_URL: url('nats:', 'tls:', 'ws:', 'wss:').default('nats://127.0.0.1:4222'),
  /** First token of every subject (`pm.<tier>.<tenant>.<event>`); tests use unique prefixes. */
  EVENTS_SUBJECT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('pm'),
  /** Prefix of stream names (`PM_METADATA`, ...). */
  EVENTS_STREAM_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('PM'),
  /** JetStream duplicate window; must exceed the outbox relay's worst lag. */
  EVENTS_DUPLICATE_WINDOW_MS: z.coerce.number().int().positive().default(10 * 60_000),
  /**
   * How long the tier's stream keeps an event. Events carry personal data (lead emails, names,
   * custom fields), so the broker must not keep them for ever; this must exceed the longest
   * outage of a consumer we are prepared to absorb (a consumer down for longer misses events).
   * At least the duplicate window (nats-server refuses a shorter max age).
   */
  EVENTS_MAX_AGE_MS: z.coerce.number().int().positive().default(DEFAULT_EVENTS_MAX_AGE_MS),
  /** Optional size cap of the tier's stream (bytes); the oldest events go first. Unset: no cap. */
  EVENTS_MAX_BYTES: z.coerce.number().int().positive().optional(),
  /**
   * JetStream replicas of the stream this tier owns (1 on one server; 3 on a 3-node NATS cluster,
   * deploy/clusters.md). Applied when the stream is created and when it differs; a tier that only
   * declares another tier's stream when absent leaves its replica count alone.
   */
  EVENTS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
};

/** Settings of the PostgreSQL services. */
export const postgresSettings = {
  DATABASE_URL: url('postgres:', 'postgresql:'),
  DATABASE_POOL_MAX: z.coerce.number().int().positive().default(10),
  MIGRATE_ON_START: bool.default(true),
  /** Outbox relay's fallback poll; NOTIFY wakes it at once on new rows. */
  OUTBOX_POLL_MS: z.coerce.number().int().positive().default(1_000),
};

/** Settings of RPCs that list. */
export const paginationSettings = {
  /** Signs page tokens. Replicas of one service must share it. */
  PAGE_TOKEN_SECRET: z.string().min(16).default('development-only-page-token-secret'),
  PAGE_SIZE_DEFAULT: z.coerce.number().int().positive().default(50),
  PAGE_SIZE_MAX: z.coerce.number().int().positive().default(500),
};

/**
 * Validates `env` against `schema`. Throws {@link ConfigError} naming every bad variable.
 * Also refuses, in production, settings that are only safe in development.
 */
export function loadConfig<T extends z.ZodRawShape>(
  shape: T,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<z.ZodObject<T>> {
  // Empty strings mean "unset" so that `FOO= node main.js` falls back to the default.
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const variable = String(i.path[0] ?? '?');
        const given = cleaned[variable];
        // zod 4 does not echo the input in issues; say what was given so the fix is obvious,
        // except for secrets: this message goes to stderr and from there to log collectors.
        return { variable, problem: given === undefined ? 'is required' : `${i.message} ${describeSettingValue(variable, given)}` };
      }),
    );
  }
  const config = result.data as Record<string, unknown>;
  if (config.NODE_ENV === 'production') {
    const problems: { variable: string; problem: string }[] = [];
    if (Array.isArray(config.AUTH_TOKENS) && config.AUTH_TOKENS.length === 0)
      problems.push({ variable: 'AUTH_TOKENS', problem: 'is required in production (comma-separated bearer tokens)' });
    if (config.PAGE_TOKEN_SECRET === 'development-only-page-token-secret')
      problems.push({ variable: 'PAGE_TOKEN_SECRET', problem: 'must be set in production (16+ characters, shared by replicas)' });
    if (problems.length) throw new ConfigError(problems);
  }
  return result.data as z.infer<z.ZodObject<T>>;
}
