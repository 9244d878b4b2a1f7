import { createLogger, runMain } from '@penguinmails/service-kit';
import { loadAnalyticsConfig } from './config';
import { applyRetention } from './db/apply-retention';
import { migrateClickHouse } from './db/migrate';
import { openStore } from './store';

// `node dist/migrate.js`: applies the ClickHouse migrations and exits. With chDB it must not
// run while the service is up on the same CHDB_PATH (one process per data folder).
runMain('analytics', async () => {
  const config = loadAnalyticsConfig();
  const logger = createLogger({ service: `${config.SERVICE_NAME}-migrate`, level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  const { store, described } = await openStore(config);
  try {
    const { applied } = await migrateClickHouse({ store, logger, cluster: config.CLICKHOUSE_CLUSTER });
    logger.info({ clickhouse: described, applied }, applied.length ? 'migrations applied' : 'nothing to migrate');
    const retention = await applyRetention(store, { rawDays: config.ANALYTICS_RAW_TTL_DAYS, rollupDays: config.ANALYTICS_ROLLUP_TTL_DAYS }, config.CLICKHOUSE_CLUSTER);
    if (retention.length) logger.info({ tables: retention }, 'retention applied');
  } finally {
    await store.close();
  }
});
