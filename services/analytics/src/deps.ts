import type { GrpcServerSettings } from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { AcceptedPublisher } from './consumers/accepted-ingest';
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

/** ANALYTICS_RAW_TTL_DAYS' default (config.ts), and what GetFreshness reports when a test passes none. */
export const DEFAULT_RAW_TTL_DAYS = 400;

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  store: Store;
  logger: Logger;
  limits: IngestLimits;
  /** Absent: DEFAULT_QUERY_LIMITS. */
  queries?: QueryLimits;
  /** The metadata events consumer, for GetFreshness (absent: a process that does not consume). */
  consumer?: ConsumerStatus;
  /** IngestEvents with durability ACCEPTED publishes here (absent: such calls are FAILED_PRECONDITION). */
  accepted?: AcceptedPublisher;
  /** The consumer of accepted batches, for GetFreshness' accepted_* (absent: none pending). */
  acceptedConsumer?: ConsumerStatus;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
  /** ANALYTICS_RAW_TTL_DAYS, reported by GetFreshness (absent: DEFAULT_RAW_TTL_DAYS). */
  rawTtlDays?: number;
}
