import type { contentV1 } from '@penguinmails/contracts';
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
  /**
   * The content tier's client, for IngestMessage (main.ts connects CONTENT_URL). Absent:
   * IngestMessage answers UNAVAILABLE at once and records nothing.
   */
  content?: contentV1.ContentServiceClient;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}
