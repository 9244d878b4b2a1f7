// The metadata service process: settings, wiring, signals. Behaviour lives in server.ts and below.
import { DependencyMonitor, PageTokens, createLogger, onShutdownSignals, openPostgresTier, runMain, grpcServerSettings } from '@penguinmails/service-kit';
import { loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { MIGRATIONS_DIR } from './migrations-dir';
import { createServer } from './server';

runMain('metadata', async () => {
  const s = loadSettings();
  const logger = createLogger({ service: s.SERVICE_NAME, level: s.LOG_LEVEL, pretty: s.LOG_PRETTY });
  const tier = await openPostgresTier('metadata', s, { migrationsDir: MIGRATIONS_DIR, logger });
  const prisma = createPrisma(tier.pool);

  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: { pageSizeDefault: s.PAGE_SIZE_DEFAULT, pageSizeMax: s.PAGE_SIZE_MAX, importLeadsMax: s.IMPORT_LEADS_MAX, batchRecordMax: s.BATCH_RECORD_MAX },
    grpc: grpcServerSettings(s),
  });
  const port = await server.listen(s.GRPC_HOST, s.GRPC_PORT);
  tier.relay.start();
  const monitor = new DependencyMonitor({ server, logger, checks: tier.checks, intervalMs: s.HEALTH_CHECK_INTERVAL_MS });
  monitor.start();
  logger.info({ port, stream: tier.names.stream('metadata'), auth: s.AUTH_TOKENS.length > 0 }, 'metadata service ready');

  // Stop taking calls (health NOT_SERVING, drain in-flight), then the relay after its batch,
  // NATS (flushes publishes), and the database last.
  onShutdownSignals(logger, async () => {
    await server.shutdown(s.SHUTDOWN_GRACE_MS);
    await monitor.stop();
    await tier.close(); // relay first: it still uses the pool
    await prisma.$disconnect();
  });
});
