import { DependencyMonitor, createLogger, onShutdownSignals, runMain, grpcServerSettings } from '@penguinmails/service-kit';
import { loadAnalyticsConfig } from './config';
import { migrateClickHouse } from './db/migrate';
import { createServer } from './server';
import { openStore } from './store';

runMain('analytics', async () => {
  const config = loadAnalyticsConfig();
  const logger = createLogger({ service: config.SERVICE_NAME, level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  const { store, described } = await openStore(config);
  logger.info({ clickhouse: described, database: config.CLICKHOUSE_DATABASE }, 'ClickHouse ready');
  if (config.MIGRATE_ON_START) await migrateClickHouse({ store, logger });

  const server = createServer({
    store,
    logger,
    limits: { maxBatch: config.INGEST_MAX_BATCH, maxFutureMs: config.INGEST_MAX_FUTURE_MS },
    grpc: grpcServerSettings(config),
  });
  await server.listen(config.GRPC_HOST, config.GRPC_PORT);
  const monitor = new DependencyMonitor({
    server,
    logger,
    intervalMs: config.HEALTH_CHECK_INTERVAL_MS,
    checks: [
      {
        name: 'clickhouse',
        check: async () => {
          const ping = await store.client.ping();
          if (!ping.success) throw new Error('ClickHouse ping failed');
        },
      },
    ],
  });
  monitor.start();

  onShutdownSignals(logger, async () => {
    await server.shutdown(config.SHUTDOWN_GRACE_MS);
    await monitor.stop();
    // After the server: in-flight calls may still be using the store. chDB must be closed
    // before exit, or its data folder may be left mid-write.
    await store.close();
  });
});
