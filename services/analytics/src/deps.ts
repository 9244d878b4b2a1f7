import type { GrpcServerSettings } from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { Store } from './db/client';
import type { ConsumerStatus } from './domain/freshness';

/** The ingest rules' knobs, separate from process settings so tests can pass their own. */
export interface IngestLimits {
  /** INGEST_MAX_BATCH */
  maxBatch: number;
  /** INGEST_MAX_FUTURE_MS */
  maxFutureMs: number;
}

/** The query RPCs' bounds (ANALYTICS_MAX_RANGE_DAYS, ANALYTICS_MAX_BUCKETS). */
export interface QueryLimits {
  maxRangeDays: number;
  maxBuckets: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxRangeDays: 400, maxBuckets: 1000 };

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  store: Store;
  logger: Logger;
  limits: IngestLimits;
  /** Absent: DEFAULT_QUERY_LIMITS. */
  queries?: QueryLimits;
  /** The metadata events consumer, for GetFreshness (absent: a process that does not consume). */
  consumer?: ConsumerStatus;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}
