import type { Pool } from 'pg';
import type { EventNames, GrpcServerSettings, Logger, PageTokens } from '@penguinmails/service-kit';
import type { PrismaClient } from './db/prisma';
import type { RetentionDefaults } from './domain/retention';

/** The size and page limits every RPC checks (from settings; tests pass small ones). */
export interface Limits {
  attachmentMaxBytes: number;
  contentMaxBytes: number;
  /** BatchPutContent: text + html + headers of all items of one call (CONTENT_BATCH_MAX_BYTES); default 64 MiB. */
  batchPutMaxBytes?: number;
  /** Retention for PutContent without `expires`; 0 = none. */
  defaultRetentionDays: number;
  pageSizeDefault: number;
  pageSizeMax: number;
  /** The service-wide retention policy (CONTENT_RETENTION_MAX_AGE_DAYS / _MAX_BYTES), for tenants without their own. */
  retention: RetentionDefaults;
}

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  pool: Pool;
  prisma: PrismaClient;
  logger: Logger;
  names: EventNames;
  pageTokens: PageTokens;
  limits: Limits;
  /**
   * Called after a write committed outbox rows without a NOTIFY (PutContent's one statement):
   * main.ts wakes its outbox relay (OutboxRelay.notify). Absent (tests without a relay): nothing.
   */
  outboxWritten?: () => void;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}
