import { credentials, type ServiceError } from '@grpc/grpc-js';
import { contentV1 } from '@penguinmails/contracts';
import { EventNames, PageTokens, bearerTokenInterceptor, createLogger, createPgPool, decodeStatus, type DecodedStatus, type GrpcServer } from '@penguinmails/service-kit';
import { freshDatabase, type FreshDatabase } from '@penguinmails/testkit';
import type { Pool } from 'pg';
import { createPrisma, type PrismaClient } from '../src/db/prisma';
import { MIGRATIONS_DIR as migrationsDir } from '../src/migrations-dir';
import { createServer, type Limits } from '../src/server';

export const MiB = 1024 * 1024;

/** Row counts of every table. */
export interface Counts {
  content: number;
  attachments: number;
  outbox: number;
  blobs: number;
  refs: number;
  transactionalEmails: number;
  notifications: number;
  policies: number;
  /** tenant_usage rows (a shard row appears on a tenant's first write through a backend). */
  usageRows: number;
}

export interface Harness {
  db: FreshDatabase;
  pool: Pool;
  prisma: PrismaClient;
  server: GrpcServer;
  address: string;
  client: contentV1.ContentServiceClient;
  names: EventNames;
  limits: Limits;
  /** Row counts of every table, to prove a refused call wrote nothing. */
  counts(): Promise<Counts>;
  close(): Promise<void>;
}

/** A content server on a fresh database, port 0, reached through a real gRPC client. */
export async function startContent(
  opts: { authTokens?: string[]; token?: string; limits?: Partial<Limits>; names?: EventNames; outboxWritten?: () => void; db?: FreshDatabase } = {},
): Promise<Harness> {
  // `db`: an already migrated database to serve (e.g. one upgraded from an earlier version); close() drops it too.
  const db = opts.db ?? (await freshDatabase({ migrationsDir }));
  const logger = createLogger({ service: 'content-test', level: process.env.LOG_LEVEL ?? 'silent' });
  const pool = createPgPool(db.url, { max: 5, logger });
  const prisma = createPrisma(pool);
  const names = opts.names ?? new EventNames('pmtest', 'PMTEST');
  const limits: Limits = {
    attachmentMaxBytes: 25 * MiB,
    contentMaxBytes: 10 * MiB,
    defaultRetentionDays: 0,
    pageSizeDefault: 50,
    pageSizeMax: 500,
    retention: { maxAgeDays: 0, maxTotalBytes: 0 },
    ...opts.limits,
  };
  const server = createServer({
    pool,
    prisma,
    logger,
    names,
    pageTokens: new PageTokens('test-page-token-secret'),
    limits,
    grpc: { authTokens: opts.authTokens ?? [] },
    outboxWritten: opts.outboxWritten,
  });
  const port = await server.listen('127.0.0.1', 0);
  const address = `127.0.0.1:${port}`;
  const client = new contentV1.ContentServiceClient(address, credentials.createInsecure(), {
    // A client fetching big attachments must raise its receive limit (grpc-js default 4 MiB).
    'grpc.max_receive_message_length': 64 * MiB,
    'grpc.max_send_message_length': 64 * MiB,
    interceptors: opts.token ? [bearerTokenInterceptor(opts.token)] : [],
  });
  return {
    db,
    pool,
    prisma,
    server,
    address,
    client,
    names,
    limits,
    counts: async () => {
      const { rows } = await pool.query<Counts>(
        `select (select count(*) from content_objects)::int as content,
                (select count(*) from attachments)::int as attachments,
                (select count(*) from outbox_events)::int as outbox,
                (select count(*) from blobs)::int as blobs,
                (select count(*) from content_refs)::int as refs,
                (select count(*) from transactional_emails)::int as "transactionalEmails",
                (select count(*) from notifications)::int as notifications,
                (select count(*) from retention_policies)::int as policies,
                (select count(*) from tenant_usage)::int as "usageRows"`,
      );
      return rows[0];
    },
    close: async () => {
      client.close();
      await server.shutdown(1_000);
      await prisma.$disconnect();
      await pool.end();
      await db.drop();
    },
  };
}

/** Awaits a call that must fail; returns its decoded status (code, field violations, ...). */
export async function failure(p: Promise<unknown>): Promise<DecodedStatus> {
  try {
    await p;
  } catch (err) {
    return decodeStatus(err as ServiceError);
  }
  throw new Error('the call succeeded but was expected to fail');
}

export const fields = (s: DecodedStatus) => s.fieldViolations.map((f) => f.field).sort();

/** A GetUsage answer (or the domain's Usage) with its 64-bit counts as strings, comparable to {@link recount}. */
export const asStrings = (u: object) => JSON.parse(JSON.stringify(u, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));

/** Every figure of GetUsage, counted from the tables themselves. */
export async function recount(pool: Pool, tenantId: string) {
  const { rows } = await pool.query(
    `select
       (select count(*) from content_objects where tenant_id = $1)::text as bodies_count,
       (select coalesce(sum(coalesce(octet_length(content_text), 0) + coalesce(octet_length(content_html), 0) + coalesce(octet_length(headers::text), 0)), 0)
          from content_objects where tenant_id = $1)::text as bodies_bytes,
       (select count(*) from content_objects where tenant_id = $1 and storage_key like $1 || '/transactional/%')::text as tx_count,
       (select coalesce(sum(coalesce(octet_length(content_text), 0) + coalesce(octet_length(content_html), 0) + coalesce(octet_length(headers::text), 0)), 0)
          from content_objects where tenant_id = $1 and storage_key like $1 || '/transactional/%')::text as tx_bytes,
       (select count(*) from attachments where tenant_id = $1)::text as att_count,
       (select coalesce(sum(size_bytes), 0) from attachments where tenant_id = $1)::text as att_bytes,
       (select count(*) from blobs where tenant_id = $1)::text as blob_count,
       (select coalesce(sum(length(content)), 0) from blobs where tenant_id = $1)::text as blob_bytes,
       (select count(*) from transactional_emails where tenant_id = $1)::text as emails,
       (select count(*) from content_objects where tenant_id = $1 and expires > now() and expires <= now() + interval '1 day')::text as day,
       (select count(*) from content_objects where tenant_id = $1 and expires > now() and expires <= now() + interval '7 days')::text as week,
       (select count(*) from content_objects where tenant_id = $1 and expires > now() and expires <= now() + interval '30 days')::text as month`,
    [tenantId],
  );
  const r = rows[0];
  return {
    bodies: { count: r.bodies_count, bytes: r.bodies_bytes },
    transactionalBodies: { count: r.tx_count, bytes: r.tx_bytes },
    attachments: { count: r.att_count, bytes: r.att_bytes },
    attachmentBlobs: { count: r.blob_count, bytes: r.blob_bytes },
    transactionalEmails: r.emails,
    totalLogicalBytes: String(BigInt(r.bodies_bytes) + BigInt(r.att_bytes)),
    totalStoredBytes: String(BigInt(r.bodies_bytes) + BigInt(r.blob_bytes)),
    expiring: { nextDay: r.day, nextWeek: r.week, nextMonth: r.month },
  };
}
