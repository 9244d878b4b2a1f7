import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { createServer as createContentServer } from '@penguinmails/content';
import { createPrisma as createContentPrisma } from '@penguinmails/content/dist/db/prisma';
import { MIGRATIONS_DIR as CONTENT_MIGRATIONS_DIR } from '@penguinmails/content/dist/migrations-dir';
import { contentV1, metadataV1 } from '@penguinmails/contracts';
import {
  EventNames,
  OutboxRelay,
  PageTokens,
  call,
  connect,
  createLogger,
  createPgPool,
  decodeStatus,
  ensureStream,
  type GrpcServer,
  type GrpcServerSettings,
} from '@penguinmails/service-kit';
import { freshDatabase, natsTestContext, type NatsTestContext } from '@penguinmails/testkit';
import type { Pool } from 'pg';
import { createPrisma } from '../src/db/prisma';
import { MIGRATIONS_DIR } from '../src/migrations-dir';
import { createServer } from '../src/server';

export { Status };
export type Client = metadataV1.MetadataServiceClient;

type Service = metadataV1.MetadataServiceService;
/** An RPC of MetadataService, by its client method name (`createTenant`). */
export type Method = keyof Service;
export type RequestOf<M extends Method> = ReturnType<Service[M]['requestDeserialize']>;
export type ResponseOf<M extends Method> = ReturnType<Service[M]['responseDeserialize']>;

type Builtin = Date | ((...args: never[]) => unknown) | Uint8Array | string | number | boolean | bigint | undefined;
/** ts-proto's DeepPartial (what `fromPartial` takes): every field optional, nested too. */
export type DeepPartial<T> = T extends Builtin
  ? T
  : T extends Array<infer U>
    ? Array<DeepPartial<U>>
    : T extends ReadonlyArray<infer U>
      ? ReadonlyArray<DeepPartial<U>>
      : T extends object
        ? { [K in keyof T]?: DeepPartial<T[K]> }
        : Partial<T>;
export type PartialRequest<M extends Method> = DeepPartial<RequestOf<M>>;

/**
 * A number outside a proto enum, as a newer or hostile client may send (proto3 enums are
 * open on the wire); the service must answer INVALID_ARGUMENT naming the field.
 */
export const outOfEnum = (n: number): number => n;

/** The generated request type of `method` (`createTenant` → CreateTenantRequest), for its fromPartial. */
function requestType<M extends Method>(method: M): { fromPartial(o: PartialRequest<M>): RequestOf<M> } {
  const name = `${method[0].toUpperCase()}${method.slice(1)}Request`;
  return (metadataV1 as unknown as Record<string, { fromPartial(o: PartialRequest<M>): RequestOf<M> }>)[name];
}

/**
 * A real content tier beside the metadata server (IngestMessage's dependency): its own fresh
 * database, the same NATS names, and an outbox relay that publishes its events to the test's
 * content stream.
 */
export interface ContentTier {
  address: string;
  pool: Pool;
  client: contentV1.ContentServiceClient;
  /** Stops the content server (the metadata server's calls then fail: UNAVAILABLE). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  counts(): Promise<{ content: number; attachments: number }>;
  close(): Promise<void>;
}

async function startContentTier(names: EventNames, nats: NatsTestContext): Promise<ContentTier> {
  const db = await freshDatabase({ migrationsDir: CONTENT_MIGRATIONS_DIR });
  const pool = createPgPool(db.url, { max: 4 });
  const prisma = createContentPrisma(pool);
  const logger = createLogger({ service: 'content-test', level: 'silent' });
  await ensureStream(nats.nc, { name: names.stream('content'), subjects: [names.tierSubjects('content')], duplicateWindowMs: 60_000 });
  const relay = new OutboxRelay({ pool, nc: nats.nc, logger, pollIntervalMs: 100 });
  relay.start();
  const build = (): GrpcServer =>
    createContentServer({
      pool,
      prisma,
      logger,
      names,
      pageTokens: new PageTokens('content-test-page-token-secret'),
      limits: { attachmentMaxBytes: 1024 * 1024, contentMaxBytes: 1024 * 1024, defaultRetentionDays: 0, pageSizeDefault: 50, pageSizeMax: 500, retention: { maxAgeDays: 0, maxTotalBytes: 0 } },
    });
  let server: GrpcServer | undefined = build();
  const port = await server.listen('127.0.0.1', 0);
  const address = `127.0.0.1:${port}`;
  const client = connect(contentV1.ContentServiceClient, address);
  return {
    address,
    pool,
    client,
    async stop() {
      await server?.shutdown(500);
      server = undefined;
    },
    async start() {
      server = build();
      await server.listen('127.0.0.1', port);
    },
    async counts() {
      const { rows } = await pool.query<{ content: number; attachments: number }>(
        'select (select count(*) from content_objects)::int as content, (select count(*) from attachments)::int as attachments',
      );
      return rows[0];
    },
    async close() {
      client.close();
      await server?.shutdown(500);
      await relay.stop();
      await prisma.$disconnect();
      await pool.end();
      await db.drop();
    },
  };
}

export interface Harness {
  client: Client;
  /** host:port of the server (for raw clients: health, fuzzing). */
  address: string;
  pool: Pool;
  nats: NatsTestContext;
  dbUrl: string;
  /** The content tier, when started with `{ content: true }`. */
  content?: ContentTier;
  /** One call; unset request fields get proto defaults (ts-proto's fromPartial), as a real client sends. */
  rpc<M extends Method>(method: M, req: PartialRequest<M>): Promise<ResponseOf<M>>;
  stop(): Promise<void>;
}

/** A fresh database, unique NATS names, and the real server on a free port with a real client. */
export async function startHarness(
  limits: Partial<{ pageSizeMax: number; importLeadsMax: number; batchRecordMax: number }> = {},
  grpc: GrpcServerSettings = { authTokens: [] },
  opts: { content?: boolean } = {},
): Promise<Harness> {
  const db = await freshDatabase({ migrationsDir: MIGRATIONS_DIR });
  const nats = await natsTestContext();
  const content = opts.content ? await startContentTier(nats.names, nats) : undefined;
  const contentClient = content ? connect(contentV1.ContentServiceClient, content.address) : undefined;
  const pool = createPgPool(db.url, { max: 8 });
  const prisma = createPrisma(pool);
  const logger = createLogger({ service: 'metadata-test', level: 'silent' });
  const server = createServer({
    pool,
    prisma,
    logger,
    names: nats.names,
    pageTokens: new PageTokens('metadata-test-page-token-secret'),
    limits: { pageSizeDefault: 50, pageSizeMax: limits.pageSizeMax ?? 100, importLeadsMax: limits.importLeadsMax ?? 5000, batchRecordMax: limits.batchRecordMax ?? 1000 },
    content: contentClient,
    grpc,
  });
  const port = await server.listen('127.0.0.1', 0);
  const client = connect(metadataV1.MetadataServiceClient, `127.0.0.1:${port}`);
  return {
    client,
    address: `127.0.0.1:${port}`,
    pool,
    nats,
    dbUrl: db.url,
    content,
    rpc: <M extends Method>(method: M, req: PartialRequest<M>) =>
      call(client, method, requestType(method).fromPartial(req) as never) as Promise<ResponseOf<M>>,
    async stop() {
      client.close();
      contentClient?.close();
      await server.shutdown(1000);
      await content?.close();
      await prisma.$disconnect();
      await pool.end();
      await nats.cleanup();
      await db.drop();
    },
  };
}

/** Asserts a call failed with `code` (and, for INVALID_ARGUMENT, that `field` is named). */
export async function expectError(p: Promise<unknown>, code: Status, field?: string): Promise<void> {
  let err: ServiceError | undefined;
  try {
    await p;
  } catch (e) {
    err = e as ServiceError;
  }
  expect(err).toBeDefined();
  const st = decodeStatus(err!);
  expect({ code: Status[st.code], message: st.message }).toMatchObject({ code: Status[code] });
  if (field) expect(st.fieldViolations.map((v) => v.field)).toContain(field);
}

export async function count(pool: Pool, table: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`select count(*)::text as n from ${table}`);
  return Number(rows[0].n);
}

export const TABLES = [
  'tenants',
  'users',
  'email_accounts',
  'leads',
  'campaigns',
  'campaign_sequence_steps',
  'inbox_message_refs',
  'outbox_events',
  'content_keys',
  'consumed_events',
];

/** Row counts of every table: "nothing was written" is `expect(await counts(pool)).toEqual(before)`. */
export async function counts(pool: Pool): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of TABLES) {
    out[t] = await count(pool, t);
  }
  return out;
}

/**
 * Row count and a digest of every row of every table, in one query. Stronger than `counts`:
 * an UPDATE that should not have happened (e.g. of another tenant's row) changes the digest.
 */
export async function snapshot(pool: Pool): Promise<Record<string, string>> {
  const sql = TABLES.map(
    (t) => `select '${t}' as t, count(*)::text || ':' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as s from ${t} x`,
  ).join(' union all ');
  const { rows } = await pool.query<{ t: string; s: string }>(sql);
  return Object.fromEntries(rows.map((r) => [r.t, r.s]));
}

export const M = metadataV1;
export const OTHER_UUID = '00000000-0000-4000-8000-000000000000';

export type Seed = Awaited<ReturnType<typeof seedTenant>>;

/**
 * For a describe block (or a file) with a server of its own: starts the harness and seeds one
 * tenant before its tests, stops it after them. Call the result inside a test: `const { h, t } = ctx();`.
 */
export function harnessWithTenant(...args: Parameters<typeof startHarness>): () => { h: Harness; t: Seed } {
  let h: Harness | undefined;
  let t: Seed | undefined;
  beforeAll(async () => {
    h = await startHarness(...args);
    t = await seedTenant(h);
  });
  afterAll(() => h?.stop());
  return () => {
    if (!h || !t) throw new Error('harnessWithTenant: used outside a test of its describe block');
    return { h, t };
  };
}

/** A tenant with one mailbox, one lead and one draft campaign. */
export async function seedTenant(h: Harness, name = 'Acme') {
  const { tenant } = await h.rpc('createTenant', { tenantId: '', name });
  const tenantId = tenant!.id;
  const { emailAccount } = await h.rpc('createEmailAccount', {
    tenantId,
    email: `sales@${name.toLowerCase()}.example`,
    displayName: 'Sales',
    provider: M.EmailProvider.EMAIL_PROVIDER_GOOGLE,
    dailySendLimit: 0,
    status: 0,
  });
  const { lead } = await h.rpc('createLead', {
    tenantId,
    lead: { email: `jane@${name.toLowerCase()}-lead.example`, firstName: 'Jane', lastName: 'Doe', company: 'Lead Co', customFields: { tier: 'gold' }, status: 0 },
  });
  const { campaign } = await h.rpc('createCampaign', { tenantId, name: 'Q3 outreach', schedule: undefined });
  return { tenantId, mailboxId: emailAccount!.id, leadId: lead!.id, campaignId: campaign!.id };
}
