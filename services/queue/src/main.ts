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
import { limitsFrom, loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { migrationsDir } from './migrate';
import { createServer } from './server';

// Settings, wiring, signals. Everything else is in createServer and the modules it wires.
runMain('queue', async () => {
  const settings = loadSettings();
  const logger = createLogger({ service: settings.SERVICE_NAME, level: settings.LOG_LEVEL, pretty: settings.LOG_PRETTY });

  if (settings.MIGRATE_ON_START) await migratePostgres({ databaseUrl: settings.DATABASE_URL, migrationsDir, logger });
  const pool = createPgPool(settings.DATABASE_URL, { logger, max: settings.DATABASE_POOL_MAX });
  const prisma = createPrisma(pool);

  const nc = await connectNats({ url: settings.NATS_URL, name: settings.SERVICE_NAME, logger });
  const names = new EventNames(settings.EVENTS_SUBJECT_PREFIX, settings.EVENTS_STREAM_PREFIX);
  await ensureStream(nc, {
    name: names.stream('queue'),
    subjects: [names.tierSubjects('queue')],
    duplicateWindowMs: settings.EVENTS_DUPLICATE_WINDOW_MS,
  });
  const relay = new OutboxRelay({ pool, nc, logger, pollIntervalMs: settings.OUTBOX_POLL_MS });
  relay.start();

  const tls = settings.TLS_CERT && settings.TLS_KEY ? { cert: settings.TLS_CERT, key: settings.TLS_KEY, clientCa: settings.TLS_CLIENT_CA } : undefined;
  const server = createServer({
    pool,
    prisma,
    logger,
    names,
    pageTokens: new PageTokens(settings.PAGE_TOKEN_SECRET),
    limits: limitsFrom(settings),
    authTokens: settings.AUTH_TOKENS,
    descriptorSetPath,
    maxCallMs: settings.GRPC_MAX_CALL_MS,
    tls,
  });
  const port = await server.listen(settings.GRPC_HOST, settings.GRPC_PORT);
  logger.info({ port }, 'queue service ready');

  onShutdownSignals(logger, async () => {
    await server.shutdown(settings.SHUTDOWN_GRACE_MS);
    await relay.stop();
    await nc.drain().catch(() => undefined);
    await prisma.$disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  });
});
