// The content service process. Wiring only: behaviour lives in server.ts and below.
import { PageTokens, createPgPool, defaultMetrics, grpcServerSettings, openPostgresTier, runService } from '@penguinmails/service-kit';
import { loadSettings } from './config';
import { ConsumerWork } from './consumers/consumer-work';
import { MESSAGE_REFS_CONSUMER, createMessageRefsConsumer, declareMessageRefsConsumer } from './consumers/message-recorded';
import { createPrisma } from './db/prisma';
import { OrphanSweeper } from './domain/orphans';
import { RetentionSweeper } from './domain/retention';
import { MIGRATIONS_DIR } from './migrations-dir';
import { createServer } from './server';

runService('content', loadSettings, async (s, logger) => {
  const tier = await openPostgresTier('content', s, { migrationsDir: MIGRATIONS_DIR, logger });
  const prisma = createPrisma(tier.pool);
  // Background work (sweepers, the MessageRecorded consumer) on its own small pool, so a purge's
  // transactions never hold a connection a call is waiting for (CONTENT_BACKGROUND_POOL_MAX).
  const background =
    s.CONTENT_BACKGROUND_POOL_MAX > 0
      ? createPgPool(s.DATABASE_URL, { max: s.CONTENT_BACKGROUND_POOL_MAX, logger, statementTimeoutMs: s.GRPC_MAX_CALL_MS, application_name: 'content-background' })
      : tier.pool;
  const retention = { maxAgeDays: s.CONTENT_RETENTION_MAX_AGE_DAYS, maxTotalBytes: s.CONTENT_RETENTION_MAX_BYTES };
  const sweeper = new RetentionSweeper({
    pool: background,
    names: tier.names,
    logger,
    intervalMs: s.RETENTION_SWEEP_MS,
    batchSize: s.RETENTION_SWEEP_BATCH,
    batchBytes: s.CONTENT_SWEEP_BATCH_BYTES,
    defaults: retention,
    uploadStaleMs: Math.max(s.CONTENT_UPLOAD_STALE_MS, s.GRPC_MAX_CALL_MS),
    pauseRatio: s.CONTENT_SWEEP_PAUSE_RATIO,
  });
  // Which objects a message ref names: the metadata tier's MessageRecorded events.
  await declareMessageRefsConsumer(tier.nc, tier.names, s);
  const refs = createMessageRefsConsumer({ nc: tier.nc, names: tier.names, pool: background, logger });
  const refsWork = new ConsumerWork(refs, { pool: background, logger, name: MESSAGE_REFS_CONSUMER, consumedEventsMaxAgeMs: s.EVENTS_MAX_AGE_MS });
  const orphans = new OrphanSweeper({
    pool: background,
    names: tier.names,
    logger,
    intervalMs: s.RETENTION_SWEEP_MS,
    batchSize: s.RETENTION_SWEEP_BATCH,
    batchBytes: s.CONTENT_SWEEP_BATCH_BYTES,
    graceMs: s.CONTENT_ORPHAN_GRACE_MS,
    lag: () => refs.lag(),
    pauseRatio: s.CONTENT_SWEEP_PAUSE_RATIO,
  });
  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    // PutContent commits its event without a NOTIFY (it would serialize the commits): wake the relay.
    outboxWritten: () => tier.relay.notify(),
    limits: {
      attachmentMaxBytes: s.ATTACHMENT_MAX_BYTES,
      contentMaxBytes: s.CONTENT_MAX_BYTES,
      batchPutMaxBytes: s.CONTENT_BATCH_MAX_BYTES,
      defaultRetentionDays: s.CONTENT_DEFAULT_RETENTION_DAYS,
      pageSizeDefault: s.PAGE_SIZE_DEFAULT,
      pageSizeMax: s.PAGE_SIZE_MAX,
      retention,
    },
    grpc: grpcServerSettings(s),
  });
  // What the tier stores, from PostgreSQL's relation sizes (cheap on scrape; no per-row sum).
  const tables = ['content_objects', 'attachments', 'transactional_emails', 'notifications'];
  const unregisterMetrics = defaultMetrics().collect('pm_content_stored_bytes', 'On-disk size of the content tables (rows, TOAST, indexes), bytes.', ['table'], async () => {
    const { rows } = await tier.pool.query<{ t: string; bytes: string }>(
      `select t, pg_total_relation_size(t::regclass) as bytes from unnest($1::text[]) as t where to_regclass(t) is not null`,
      [tables],
    );
    return rows.map((r) => ({ labels: { table: r.t }, value: Number(r.bytes) }));
  });
  return {
    server,
    checks: tier.checks,
    // Stopped last first: the orphan sweep, the consumer, retention, then the relay.
    background: [tier.relay, sweeper, refsWork, orphans],
    close: async () => {
      unregisterMetrics();
      await tier.close();
      if (background !== tier.pool) await background.end().catch((err: Error) => logger.warn({ err: err.message }, 'closing the background pool failed'));
      await prisma.$disconnect();
    },
    ready: { stream: tier.names.stream('content'), consumes: `${tier.names.stream('metadata')}/${MESSAGE_REFS_CONSUMER}` },
  };
});
