import type { Pool } from 'pg';
import type { EventNames, GrpcServerSettings, Logger, PageTokens } from '@penguinmails/service-kit';
import type { PrismaClient } from './db/prisma';

/** The size and page limits every RPC checks (from settings; tests pass small ones). */
export interface Limits {
  attachmentMaxBytes: number;
  contentMaxBytes: number;
  /** Retention for PutContent without `expires`; 0 = none. */
  defaultRetentionDays: number;
  pageSizeDefault: number;
  pageSizeMax: number;
}

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  pool: Pool;
  prisma: PrismaClient;
  logger: Logger;
  names: EventNames;
  pageTokens: PageTokens;
  limits: Limits;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}
