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
import { MIGRATIONS_DIR } from './migrations-dir';
import { createServer } from './server';


async function main(): Promise<void> {
  const s = loadSettings();
  const logger = createLogger({ service: 'metadata', level: s.LOG_LEVEL, pretty: s.LOG_PRETTY });
  if (s.MIGRATE_ON_START) await migratePostgres({ databaseUrl: s.DATABASE_URL, migrationsDir: MIGRATIONS_DIR, logger });

  const pool = createPgPool(s.DATABASE_URL, { max: s.DATABASE_POOL_MAX, logger });
  const prisma = createPrisma(pool);
  const names = new EventNames(s.EVENTS_SUBJECT_PREFIX, s.EVENTS_STREAM_PREFIX);
  const nc = await connectNats({ url: s.NATS_URL, name: 'metadata', logger });
  await ensureStream(nc, { name: names.stream('metadata'), subjects: [names.tierSubjects('metadata')], duplicateWindowMs: s.EVENTS_DUPLICATE_WINDOW_MS });
  const relay = new OutboxRelay({ pool, nc, logger, pollIntervalMs: s.OUTBOX_POLL_MS });

  const server = createServer({
    pool,
    prisma,
    logger,
    names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: { pageSizeDefault: s.PAGE_SIZE_DEFAULT, pageSizeMax: s.PAGE_SIZE_MAX, importLeadsMax: s.IMPORT_LEADS_MAX, batchRecordMax: s.BATCH_RECORD_MAX },
    authTokens: s.AUTH_TOKENS,
    descriptorSetPath,
    maxCallMs: s.GRPC_MAX_CALL_MS,
  });
  const port = await server.listen(s.GRPC_HOST, s.GRPC_PORT);
  relay.start();
  logger.info({ port, stream: names.stream('metadata') }, 'metadata service ready');

  // Order: stop taking calls (health NOT_SERVING, drain in-flight), stop the relay after its
  // current batch, drain NATS (flushes publishes), then close the database.
  onShutdownSignals(logger, async () => {
    await server.shutdown(s.SHUTDOWN_GRACE_MS);
    await relay.stop();
    await nc.drain();
    await prisma.$disconnect();
    await pool.end();
  });
}

runMain('metadata', main);
