// The content service process: settings, wiring, signals. Behaviour lives in server.ts and below.
import { DependencyMonitor, PageTokens, createLogger, onShutdownSignals, openPostgresTier, runMain, grpcServerSettings } from '@penguinmails/service-kit';
import { loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { RetentionSweeper } from './domain/retention';
import { migrationsDir } from './migrate';
import { createServer } from './server';

runMain('content', async () => {
  const s = loadSettings();
  const logger = createLogger({ service: s.SERVICE_NAME, level: s.LOG_LEVEL, pretty: s.LOG_PRETTY });
  const tier = await openPostgresTier('content', s, { migrationsDir, logger });
  const prisma = createPrisma(tier.pool);
  const sweeper = new RetentionSweeper({ pool: tier.pool, names: tier.names, logger, intervalMs: s.RETENTION_SWEEP_MS, batchSize: s.RETENTION_SWEEP_BATCH });

  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: {
      attachmentMaxBytes: s.ATTACHMENT_MAX_BYTES,
      contentMaxBytes: s.CONTENT_MAX_BYTES,
      defaultRetentionDays: s.CONTENT_DEFAULT_RETENTION_DAYS,
      pageSizeDefault: s.PAGE_SIZE_DEFAULT,
      pageSizeMax: s.PAGE_SIZE_MAX,
    },
    grpc: grpcServerSettings(s),
  });
  const port = await server.listen(s.GRPC_HOST, s.GRPC_PORT);
  tier.relay.start();
  const monitor = new DependencyMonitor({ server, logger, checks: tier.checks, intervalMs: s.HEALTH_CHECK_INTERVAL_MS });
  monitor.start();
  sweeper.start();
  logger.info({ port, stream: tier.names.stream('content'), auth: s.AUTH_TOKENS.length > 0 }, 'content service ready');

  onShutdownSignals(logger, async () => {
    // Stop taking calls (health NOT_SERVING first), then background work, then the stores.
    await server.shutdown(s.SHUTDOWN_GRACE_MS);
    await monitor.stop();
    await sweeper.stop();
    await tier.close(); // relay first: it still uses the pool
    await prisma.$disconnect();
  });
});
