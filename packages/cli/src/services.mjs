// What the launcher knows about the four services: their folder, port setting and stores.
// Each service is built to services/<name>/dist/ and provides main.js (the server) and migrate.js
// (applies its migrations, then exits).
import path from 'node:path';
import { ROOT } from './setup.mjs';

// metricsPort: each service's Prometheus /metrics (METRICS_PORT), distinct per service so that
// one Prometheus scrapes all four on one machine (the same ports as docker-compose.yml).
export const SERVICES = [
  { name: 'metadata', portEnv: 'PM_METADATA_PORT', defaultPort: 50051, database: 'pm_metadata', metricsPortEnv: 'PM_METADATA_METRICS_PORT', defaultMetricsPort: 9461 },
  { name: 'content', portEnv: 'PM_CONTENT_PORT', defaultPort: 50052, database: 'pm_content', metricsPortEnv: 'PM_CONTENT_METRICS_PORT', defaultMetricsPort: 9462 },
  { name: 'queue', portEnv: 'PM_QUEUE_PORT', defaultPort: 50053, database: 'pm_queue', metricsPortEnv: 'PM_QUEUE_METRICS_PORT', defaultMetricsPort: 9463 },
  { name: 'analytics', portEnv: 'PM_ANALYTICS_PORT', defaultPort: 50054, database: null, metricsPortEnv: 'PM_ANALYTICS_METRICS_PORT', defaultMetricsPort: 9464 },
];

export const serviceDir = (service) => path.join(ROOT, 'services', service.name);
export const serviceEntry = (service, file) => path.join(serviceDir(service), 'dist', file);

/** Store settings for one service: DATABASE_URL for the PostgreSQL ones, ClickHouse for analytics. */
export function storeEnv(service, infra, databaseUrls) {
  const env = infra.nats ? { NATS_URL: infra.nats.url } : {};
  if (service.database) env.DATABASE_URL = databaseUrls[service.database];
  if (service.name === 'analytics') {
    if (infra.clickhouse.url) env.CLICKHOUSE_URL = infra.clickhouse.url;
    else env.CHDB_PATH = infra.clickhouse.chdbPath;
  }
  return env;
}
