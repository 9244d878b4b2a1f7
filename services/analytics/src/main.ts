// The analytics service process. Wiring only: behaviour lives in server.ts and below.
import { grpcServerSettings, runService } from '@penguinmails/service-kit';
import { loadAnalyticsConfig } from './config';
import { migrateClickHouse } from './db/migrate';
import { createServer } from './server';
import { openStore } from './store';

runService('analytics', loadAnalyticsConfig, async (s, logger) => {
  const { store, described } = await openStore(s);
  logger.info({ clickhouse: described, database: s.CLICKHOUSE_DATABASE }, 'ClickHouse ready');
  if (s.MIGRATE_ON_START) await migrateClickHouse({ store, logger });
  const server = createServer({
    store,
    logger,
    limits: { maxBatch: s.INGEST_MAX_BATCH, maxFutureMs: s.INGEST_MAX_FUTURE_MS },
    grpc: grpcServerSettings(s),
  });
  return {
    server,
    checks: [
      {
        name: 'clickhouse',
        check: async () => {
          const ping = await store.client.ping();
          if (!ping.success) throw new Error('ClickHouse ping failed');
        },
      },
    ],
    // chDB must be closed before exit, or its data folder may be left mid-write; in-flight
    // calls may still be using the store until the server has stopped, which runService awaits first.
    close: () => store.close(),
  };
});
