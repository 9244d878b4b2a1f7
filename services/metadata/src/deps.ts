import type { Pool } from 'pg';
import type { EventNames, GrpcServerSettings, Logger, PageTokens } from '@penguinmails/service-kit';
import type { PrismaClient } from './db/prisma';

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  pool: Pool;
  prisma: PrismaClient;
  logger: Logger;
  names: EventNames;
  pageTokens: PageTokens;
  limits: { pageSizeDefault: number; pageSizeMax: number; importLeadsMax: number; batchRecordMax: number };
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}
