import type { GrpcServerSettings } from '@penguinmails/service-kit';
import type { Logger } from 'pino';
import type { Store } from './db/client';

/** The ingest rules' knobs, separate from process settings so tests can pass their own. */
export interface IngestLimits {
  /** INGEST_MAX_BATCH */
  maxBatch: number;
  /** INGEST_MAX_FUTURE_MS */
  maxFutureMs: number;
}

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  store: Store;
  logger: Logger;
  limits: IngestLimits;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}
