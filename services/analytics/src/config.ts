import { ConfigError, commonSettings, loadConfig, natsSettings, url } from '@penguinmails/service-kit';
import { z } from 'zod';
import { DEFAULT_RAW_TTL_DAYS } from './deps';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** A ClickHouse database name we can splice into SQL unquoted-safe (it is backquoted too). */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** A ClickHouse cluster name (remote_servers): spliced into DDL as a quoted literal. */
export const CLUSTER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * The analytics service's settings. No DATABASE_URL: the store is ClickHouse, embedded (chDB at
 * CHDB_PATH) unless CLICKHOUSE_URL names a server.
 */
export const analyticsSettings = {
  ...commonSettings('analytics', 50054),
  /** NATS_URL, EVENTS_*: the metadata stream it consumes (the same values the metadata tier uses). */
  ...natsSettings,
  /** A ClickHouse server's HTTP(S) interface, e.g. http://127.0.0.1:8123. Unset: embedded chDB. */
  CLICKHOUSE_URL: url('http:', 'https:').optional(),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),
  /** The database this service owns on the server (created by the migrations). */
  CLICKHOUSE_DATABASE: z.string().regex(IDENTIFIER, 'must be a plain identifier (letters, digits, _)').default('penguinmails_analytics'),
  /**
   * A cluster of the servers' remote_servers configuration: the migrations are applied as cluster
   * DDL (ON CLUSTER, Replicated*MergeTree `<table>_local` + a Distributed `<table>`; see
   * src/db/cluster-ddl.ts). Needs CLICKHOUSE_URL (chDB is one process). Unset: one server.
   */
  CLICKHOUSE_CLUSTER: z.string().regex(CLUSTER_NAME, 'must be a cluster name (letters, digits, _ . -)').optional(),
  CLICKHOUSE_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  /** chDB's data folder (one process at a time may open it). Relative paths are from the working directory. */
  CHDB_PATH: z.string().min(1).default('.data/chdb'),
  MIGRATE_ON_START: bool.default(true),
  /** Most events one IngestEvents call may carry. */
  INGEST_MAX_BATCH: z.coerce.number().int().positive().max(100_000).default(1000),
  /** How far ahead of this server's clock an event's occurred_at may be (clock skew between hosts). */
  INGEST_MAX_FUTURE_MS: z.coerce.number().int().nonnegative().default(5 * 60_000),
  /** Most metadata events the consumer stores in one batch (one ClickHouse insert). */
  ANALYTICS_CONSUMER_MAX_BATCH: z.coerce.number().int().positive().max(10_000).default(5000),
  /** Longest a batch waits to fill before it is stored anyway (the kit waits at least 1000 ms); both consumers. */
  ANALYTICS_CONSUMER_MAX_WAIT_MS: z.coerce.number().int().positive().max(60_000).default(1000),
  /**
   * Most IngestEvents calls answered ACCEPTED that the consumer of PM_ANALYTICS stores together
   * (one writer call; the writer splits it into inserts of ANALYTICS_WRITE_MAX_ROWS rows).
   */
  ANALYTICS_ACCEPTED_MAX_BATCH: z.coerce.number().int().positive().max(1_000).default(50),
  /**
   * How the writer tells new events from stored ones (src/domain/event-writer.ts): `memory` (an
   * in-process filter of stored ids; exact only while this process is the store's one writer) or
   * `store` (every id looked up in ClickHouse; for several replicas on one server). Unset: memory
   * with chDB, store with CLICKHOUSE_URL.
   */
  ANALYTICS_DEDUP_FILTER: z.enum(['memory', 'store']).optional(),
  /** Most rows the writer puts in one insert when it coalesces concurrent calls and batches. */
  ANALYTICS_WRITE_MAX_ROWS: z.coerce.number().int().positive().max(1_000_000).default(20_000),
  /** Raw events (the events table) older than this many days are deleted by TTL; 0 = keep forever. */
  ANALYTICS_RAW_TTL_DAYS: z.coerce.number().int().nonnegative().max(36_500).default(DEFAULT_RAW_TTL_DAYS),
  /** The hourly rollups are kept this long (longer than the raw events); 0 = keep forever. */
  ANALYTICS_ROLLUP_TTL_DAYS: z.coerce.number().int().nonnegative().max(36_500).default(1830),
  /** Longest time_range the query RPCs accept. */
  ANALYTICS_MAX_RANGE_DAYS: z.coerce.number().int().positive().max(3660).default(400),
  /** Most buckets one GetTimeSeries answers. */
  ANALYTICS_MAX_BUCKETS: z.coerce.number().int().positive().max(100_000).default(1000),
};

export type AnalyticsConfig = ReturnType<typeof loadAnalyticsConfig>;

export function loadAnalyticsConfig(env: NodeJS.ProcessEnv = process.env) {
  const config = loadConfig(analyticsSettings, env);
  if (config.CLICKHOUSE_CLUSTER && !config.CLICKHOUSE_URL) {
    throw new ConfigError([
      { variable: 'CLICKHOUSE_CLUSTER', problem: 'needs CLICKHOUSE_URL (a node of that cluster): embedded chDB is one process, not a cluster; set CLICKHOUSE_URL or unset CLICKHOUSE_CLUSTER' },
    ]);
  }
  if (config.ANALYTICS_DEDUP_FILTER === 'memory' && config.CLICKHOUSE_CLUSTER) {
    throw new ConfigError([
      { variable: 'ANALYTICS_DEDUP_FILTER', problem: 'memory is exact only with one writer; a cluster has several — use store or unset it' },
    ]);
  }
  return config;
}
