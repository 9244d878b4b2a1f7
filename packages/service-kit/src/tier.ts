import type { NatsConnection } from '@nats-io/transport-node';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { ConfigError } from './config';
import type { GrpcServerSettings } from './grpc/server';
import { postgresCheck, type DependencyCheck } from './health-monitor';
import { EventNames, type Tier } from './events';
import { connectNats } from './nats/connect';
import { ensureStream } from './nats/streams';
import { OutboxRelay } from './outbox/relay';
import { migratePostgres } from './pg/migrate';
import { redact, redactText } from './redact';
import { createPgPool, registerPoolMetrics } from './pg/pool';

/** The settings `openPostgresTier` reads (postgresSettings + natsSettings + commonSettings). */
export interface PostgresTierSettings {
  SERVICE_NAME: string;
  DATABASE_URL: string;
  DATABASE_POOL_MAX: number;
  MIGRATE_ON_START: boolean;
  NATS_URL: string;
  EVENTS_SUBJECT_PREFIX: string;
  EVENTS_STREAM_PREFIX: string;
  EVENTS_DUPLICATE_WINDOW_MS: number;
  /** Age limit of the tier's stream (natsSettings gives every service one; default 7 days). */
  EVENTS_MAX_AGE_MS?: number;
  EVENTS_MAX_BYTES?: number;
  OUTBOX_POLL_MS?: number;
  /** Caps every statement of the pool (no query outlives the longest call it can serve). */
  GRPC_MAX_CALL_MS?: number;
  /** EVENTS_STREAM_REPLICAS: JetStream replicas of the tier's stream (a NATS cluster: 3). */
  EVENTS_STREAM_REPLICAS?: number;
}

/** What a PostgreSQL tier's main.ts wires into its server. */
export interface PostgresTier {
  pool: Pool;
  nc: NatsConnection;
  names: EventNames;
  /** Not started: main starts it once the server listens. */
  relay: OutboxRelay;
  /**
   * Health probes for a {@link DependencyMonitor}: PostgreSQL only. NATS is left out on
   * purpose: while it is down, writes still commit (their events wait in the outbox and the
   * relay retries), so the service can serve; turning NOT_SERVING would only refuse calls that
   * would succeed. The relay and the connection log the outage instead.
   */
  checks: DependencyCheck[];
  /** Stops the relay after its batch, drains NATS, closes the pool (in that order). */
  close(): Promise<void>;
}

/**
 * The start-up every PostgreSQL tier shares, in order: migrate (unless MIGRATE_ON_START=false),
 * open the pool and prove the database answers (a wrong DATABASE_URL fails here, in one line,
 * not on the first call), connect NATS, declare the tier's stream, build the outbox relay.
 * Each step is a kit function a service may also call itself; this only fixes their order.
 */
export async function openPostgresTier(
  tier: Tier,
  s: PostgresTierSettings,
  opts: { migrationsDir: string; logger: Logger },
): Promise<PostgresTier> {
  const { logger } = opts;
  if (s.MIGRATE_ON_START) await migratePostgres({ databaseUrl: s.DATABASE_URL, migrationsDir: opts.migrationsDir, logger });
  const pool = createPgPool(s.DATABASE_URL, { max: s.DATABASE_POOL_MAX, logger, statementTimeoutMs: s.GRPC_MAX_CALL_MS });
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new Error(`PostgreSQL at ${redact(s.DATABASE_URL)} did not answer (${redactText((err as Error).message)}); start it or fix DATABASE_URL`, { cause: err });
  }
  const names = new EventNames(s.EVENTS_SUBJECT_PREFIX, s.EVENTS_STREAM_PREFIX);
  let nc: NatsConnection;
  try {
    nc = await connectNats({ url: s.NATS_URL, name: s.SERVICE_NAME, logger });
    await ensureStream(nc, {
      name: names.stream(tier),
      subjects: [names.tierSubjects(tier)],
      duplicateWindowMs: s.EVENTS_DUPLICATE_WINDOW_MS,
      maxAgeMs: s.EVENTS_MAX_AGE_MS,
      maxBytes: s.EVENTS_MAX_BYTES,
      replicas: s.EVENTS_STREAM_REPLICAS,
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
  const relay = new OutboxRelay({ pool, nc, logger, pollIntervalMs: s.OUTBOX_POLL_MS });
  const unregisterPool = registerPoolMetrics(pool);
  return {
    pool,
    nc,
    names,
    relay,
    checks: [postgresCheck(pool)],
    close: async () => {
      await relay.stop();
      unregisterPool();
      await nc.drain().catch((err: Error) => logger.warn({ err: redactText(err.message) }, 'NATS drain failed'));
      await pool.end().catch((err: Error) => logger.warn({ err: redactText(err.message) }, 'closing the pool failed'));
    },
  };
}

/** TLS options for `createGrpcServer` from TLS_CERT / TLS_KEY / TLS_CLIENT_CA (undefined = plaintext). */
export function tlsFromSettings(s: { TLS_CERT?: string; TLS_KEY?: string; TLS_CLIENT_CA?: string }):
  | { cert: string; key: string; clientCa?: string }
  | undefined {
  if (!s.TLS_CERT && !s.TLS_KEY) {
    if (s.TLS_CLIENT_CA) throw new ConfigError([{ variable: 'TLS_CLIENT_CA', problem: 'needs TLS_CERT and TLS_KEY (mTLS is TLS plus client certificates)' }]);
    return undefined;
  }
  // Half a TLS setting would silently serve plaintext: refuse it.
  if (!s.TLS_CERT) throw new ConfigError([{ variable: 'TLS_CERT', problem: 'is required when TLS_KEY is set' }]);
  if (!s.TLS_KEY) throw new ConfigError([{ variable: 'TLS_KEY', problem: 'is required when TLS_CERT is set' }]);
  return { cert: s.TLS_CERT, key: s.TLS_KEY, clientCa: s.TLS_CLIENT_CA };
}

/** The gRPC server settings of {@link commonSettings}, as `createGrpcServer` takes them. */
export function grpcServerSettings(s: {
  AUTH_TOKENS: string[];
  GRPC_MAX_CALL_MS: number;
  GRPC_REFLECTION: boolean;
  GRPC_MAX_RECEIVE_BYTES: number;
  GRPC_MAX_SEND_BYTES: number;
  GRPC_MAX_CONCURRENT_STREAMS: number;
  GRPC_KEEPALIVE_TIME_MS: number;
  GRPC_KEEPALIVE_TIMEOUT_MS: number;
  TLS_CERT?: string;
  TLS_KEY?: string;
  TLS_CLIENT_CA?: string;
}): GrpcServerSettings {
  return {
    authTokens: s.AUTH_TOKENS,
    maxCallMs: s.GRPC_MAX_CALL_MS,
    tls: tlsFromSettings(s),
    reflection: s.GRPC_REFLECTION,
    limits: {
      maxReceiveBytes: s.GRPC_MAX_RECEIVE_BYTES,
      maxSendBytes: s.GRPC_MAX_SEND_BYTES,
      maxConcurrentStreams: s.GRPC_MAX_CONCURRENT_STREAMS,
      keepaliveTimeMs: s.GRPC_KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: s.GRPC_KEEPALIVE_TIMEOUT_MS,
    },
  };
}
