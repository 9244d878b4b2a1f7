import { randomUUID } from 'node:crypto';
import type { ServiceError } from '@grpc/grpc-js';
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { queueV1 } from '@penguinmails/contracts';
import {
  OutboxRelay,
  PageTokens,
  connect,
  createLogger,
  createPgPool,
  decodeStatus,
  ensureStream,
  type DecodedStatus,
  type GrpcLimits,
} from '@penguinmails/service-kit';
import { freshDatabase, natsTestContext, type FreshDatabase, type NatsTestContext } from '@penguinmails/testkit';
import type { Pool } from 'pg';
import type { QueueLimits } from '../src/config';
import { createPrisma, type PrismaClient } from '../src/db/prisma';
import { MIGRATIONS_DIR as migrationsDir } from '../src/migrations-dir';
import { RunnableWakeups } from '../src/domain/wake-ups';
import { createServer } from '../src/server';

export const defaultLimits: QueueLimits = {
  pageSizeDefault: 50,
  pageSizeMax: 500,
  leaseSecondsDefault: 300,
  leaseSecondsMax: 3600,
  claimBatchMax: 100,
  batchMax: 1000,
  claimWaitMaxMs: 30_000,
  claimWaitPollMs: 1000,
  maxAttemptsDefault: 5,
  retryBaseMs: 1000,
  retryMaxMs: 3_600_000,
  payloadMaxBytes: 64 * 1024,
};

/** One queue service for a test file (see startQueue). */
export interface Queue {
  db: FreshDatabase;
  nats: NatsTestContext;
  /** The server's own pool: tests read and seed rows through it. */
  pool: Pool;
  prisma: PrismaClient;
  /** host:port of the server (for raw clients: health, reflection, callRaw). */
  address: string;
  client: queueV1.QueueServiceClient;
  /** The PM_QUEUE stream of this test file's JetStream names. */
  stream: string;
  relay: OutboxRelay;
  /** Rows in jobs, job_logs and outbox_events (to prove a refused call wrote nothing). */
  counts(): Promise<{ jobs: number; logs: number; outbox: number }>;
  /**
   * Count and digest of every row of every table: also catches an UPDATE that should not
   * have happened (a lease extended, a job failed or cancelled for the wrong tenant).
   */
  snapshot(): Promise<Record<string, string>>;
  /** Relays the outbox, then reads the last event published on `subject`. */
  lastEvent(subject: string): Promise<StoredMsg | null>;
  stop(): Promise<void>;
}

/**
 * One queue service for a test file: a fresh migrated database, isolated JetStream names,
 * the real server on a free port, and a real gRPC client.
 */
export async function startQueue(limits: Partial<QueueLimits> = {}, opts: { authTokens?: string[]; grpcLimits?: Partial<GrpcLimits> } = {}): Promise<Queue> {
  const db = await freshDatabase({ migrationsDir });
  const nats = await natsTestContext();
  const stream = nats.names.stream('queue');
  await ensureStream(nats.nc, { name: stream, subjects: [nats.names.tierSubjects('queue')], duplicateWindowMs: 60_000 });
  const { pool, prisma, logger, address, stop } = await serve(db.url, nats.names, limits, { authTokens: opts.authTokens ?? [], limits: opts.grpcLimits }, 12, 'queue-test');
  const client = connect(queueV1.QueueServiceClient, address, { token: opts.authTokens?.[0] });
  const relay = new OutboxRelay({ pool, nc: nats.nc, logger });

  return {
    db,
    nats,
    pool,
    prisma,
    address,
    client,
    stream,
    relay,
    counts: async () => {
      const { rows } = await pool.query<{ jobs: number; logs: number; outbox: number }>(
        `select (select count(*) from jobs)::int as jobs, (select count(*) from job_logs)::int as logs,
                (select count(*) from outbox_events)::int as outbox`,
      );
      return rows[0];
    },
    snapshot: async () => {
      const { rows } = await pool.query<{ t: string; s: string }>(
        ['jobs', 'job_logs', 'outbox_events', 'job_holds', 'group_limits', 'platform_group_limits']
          .map((t) => `select '${t}' as t, count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as s from ${t} x`)
          .join(' union all '),
      );
      return Object.fromEntries(rows.map((r) => [r.t, r.s]));
    },
    lastEvent: async (subject: string) => {
      await relay.drainOnce();
      const jsm = await jetstreamManager(nats.nc);
      return jsm.streams.getMessage(stream, { last_by_subj: subject });
    },
    stop: async () => {
      client.close();
      await stop();
      await nats.cleanup();
      await db.drop();
    },
  };
}

/**
 * What one service process holds on `dbUrl`: its pool, Prisma client, LISTEN connection
 * (RunnableWakeups) and gRPC server on a free port, and `stop` for them all.
 */
async function serve(dbUrl: string, names: NatsTestContext['names'], limits: Partial<QueueLimits>, grpc: { authTokens: string[]; limits?: Partial<GrpcLimits> }, poolMax: number, service: string) {
  const pool = createPgPool(dbUrl, { max: poolMax });
  const prisma = createPrisma(pool);
  const logger = createLogger({ service, level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const wakeups = new RunnableWakeups(pool, logger);
  await wakeups.started();
  const server = createServer({
    pool,
    prisma,
    logger,
    names,
    pageTokens: new PageTokens('test-page-token-secret-0123456789'),
    limits: { ...defaultLimits, ...limits },
    grpc,
    wakeups,
  });
  const port = await server.listen('127.0.0.1', 0);
  return {
    pool,
    prisma,
    logger,
    address: `127.0.0.1:${port}`,
    stop: async () => {
      await wakeups.stop();
      await server.shutdown(1000);
      await prisma.$disconnect().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

/**
 * A second replica of `q`'s service: its own pool, LISTEN connection and port on the same
 * database and NATS names, as a second container would be (cross-replica wake-ups).
 */
export async function startReplica(q: Queue, limits: Partial<QueueLimits> = {}): Promise<{ client: queueV1.QueueServiceClient; stop(): Promise<void> }> {
  const replica = await serve(q.db.url, q.nats.names, limits, { authTokens: [] }, 6, 'queue-test-replica');
  const client = connect(queueV1.QueueServiceClient, replica.address);
  return {
    client,
    stop: async () => {
      client.close();
      await replica.stop();
    },
  };
}

/** Awaits a call expected to fail and returns its decoded status. */
export async function failure(p: Promise<unknown>): Promise<DecodedStatus> {
  try {
    await p;
  } catch (err) {
    return decodeStatus(err as ServiceError);
  }
  throw new Error('expected the call to fail, it succeeded');
}

export const tenant = (): string => randomUUID();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The job-feature fields of EnqueueJobRequest / NewJob left unset (ts-proto wants every field). */
export const NO_KEYS = { groupKey: '', groupLimit: 0, singletonKey: '', debounce: false, throttleSeconds: 0, holdKey: '' } as const;
