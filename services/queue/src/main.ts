// The queue service process: settings, wiring, signals. Behaviour lives in server.ts and below.
import { DependencyMonitor, PageTokens, createLogger, onShutdownSignals, openPostgresTier, runMain, grpcServerSettings } from '@penguinmails/service-kit';
import { limitsFrom, loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { migrationsDir } from './migrate';
import { createServer } from './server';

runMain('queue', async () => {
  const s = loadSettings();
  const logger = createLogger({ service: s.SERVICE_NAME, level: s.LOG_LEVEL, pretty: s.LOG_PRETTY });
  const tier = await openPostgresTier('queue', s, { migrationsDir, logger });
  const prisma = createPrisma(tier.pool);

  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: limitsFrom(s),
    grpc: grpcServerSettings(s),
  });
  const port = await server.listen(s.GRPC_HOST, s.GRPC_PORT);
  tier.relay.start();
  const monitor = new DependencyMonitor({ server, logger, checks: tier.checks, intervalMs: s.HEALTH_CHECK_INTERVAL_MS });
  monitor.start();
  logger.info({ port, stream: tier.names.stream('queue'), auth: s.AUTH_TOKENS.length > 0 }, 'queue service ready');

  onShutdownSignals(logger, async () => {
    await server.shutdown(s.SHUTDOWN_GRACE_MS);
    await monitor.stop();
    await tier.close(); // relay first: it still uses the pool
    await prisma.$disconnect();
  });
});
