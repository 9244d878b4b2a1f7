// The content service process: read settings, migrate, wire stores, serve, relay, sweep, and
// stop cleanly on SIGTERM/SIGINT. Everything with behaviour lives in server.ts and below.
import { descriptorSetPath } from '@penguinmails/contracts';
import {
  EventNames,
  OutboxRelay,
  PageTokens,
  connectNats,
  createLogger,
  createPgPool,
  ensureStream,
  migratePostgres,
  onShutdownSignals,
  runMain,
} from '@penguinmails/service-kit';
import { loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { RetentionSweeper } from './domain/retention';
import { migrationsDir } from './migrate';
import { createServer } from './server';

runMain('content', async () => {
  const s = loadSettings();
  const logger = createLogger({ service: s.SERVICE_NAME, level: s.LOG_LEVEL, pretty: s.LOG_PRETTY });

  if (s.MIGRATE_ON_START) await migratePostgres({ databaseUrl: s.DATABASE_URL, migrationsDir, logger });
  const pool = createPgPool(s.DATABASE_URL, { max: s.DATABASE_POOL_MAX, logger });
  // Fail at start, with the URL's host in the message, rather than on the first call.
  await pool.query('select 1').catch((err: Error) => {
    throw new Error(`PostgreSQL at ${new URL(s.DATABASE_URL).host} did not answer (${err.message}); check DATABASE_URL`, { cause: err });
  });
  const prisma = createPrisma(pool);

  const names = new EventNames(s.EVENTS_SUBJECT_PREFIX, s.EVENTS_STREAM_PREFIX);
  const nc = await connectNats({ url: s.NATS_URL, name: s.SERVICE_NAME, logger });
  await ensureStream(nc, { name: names.stream('content'), subjects: [names.tierSubjects('content')], duplicateWindowMs: s.EVENTS_DUPLICATE_WINDOW_MS });
  const relay = new OutboxRelay({ pool, nc, logger, pollIntervalMs: s.OUTBOX_POLL_MS });
  const sweeper = new RetentionSweeper({ pool, names, logger, intervalMs: s.RETENTION_SWEEP_MS, batchSize: s.RETENTION_SWEEP_BATCH });

  const server = createServer({
    pool,
    prisma,
    logger,
    names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: {
      attachmentMaxBytes: s.ATTACHMENT_MAX_BYTES,
      contentMaxBytes: s.CONTENT_MAX_BYTES,
      defaultRetentionDays: s.CONTENT_DEFAULT_RETENTION_DAYS,
      pageSizeDefault: s.PAGE_SIZE_DEFAULT,
      pageSizeMax: s.PAGE_SIZE_MAX,
    },
    authTokens: s.AUTH_TOKENS,
    descriptorSetPath,
    maxCallMs: s.GRPC_MAX_CALL_MS,
    tls: s.TLS_CERT && s.TLS_KEY ? { cert: s.TLS_CERT, key: s.TLS_KEY, clientCa: s.TLS_CLIENT_CA } : undefined,
  });
  const port = await server.listen(s.GRPC_HOST, s.GRPC_PORT);
  relay.start();
  sweeper.start();
  logger.info({ port, auth: s.AUTH_TOKENS.length > 0 }, 'content service ready');

  onShutdownSignals(logger, async () => {
    // Stop taking calls (health NOT_SERVING first), then background work, then the stores.
    await server.shutdown(s.SHUTDOWN_GRACE_MS);
    await sweeper.stop();
    await relay.stop();
    await nc.drain();
    await prisma.$disconnect();
    await pool.end();
  });
});
