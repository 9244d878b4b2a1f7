import type { Pool } from 'pg';
import type { EventNames, Logger, PageTokens } from '@penguinmails/service-kit';
import type { PrismaClient } from './db/prisma';

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  pool: Pool;
  prisma: PrismaClient;
  logger: Logger;
  names: EventNames;
  pageTokens: PageTokens;
  limits: { pageSizeDefault: number; pageSizeMax: number; importLeadsMax: number; batchRecordMax: number };
  /** Bearer tokens; empty disables auth (development and tests). */
  authTokens: string[];
  descriptorSetPath?: string;
  maxCallMs?: number;
  /** TLS (and mTLS with a client CA); plaintext when absent. */
  tls?: { cert: string; key: string; clientCa?: string };
}
