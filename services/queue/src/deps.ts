import type { Pool } from 'pg';
import type { EventNames, Logger, PageTokens } from '@penguinmails/service-kit';
import type { QueueLimits } from './config';
import type { PrismaClient } from './db/prisma';

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  /** Hand-written SQL (claim, transitions, outbox) runs here, in explicit transactions. */
  pool: Pool;
  /** Plain reads and inserts (get, list, logs). */
  prisma: PrismaClient;
  logger: Logger;
  names: EventNames;
  pageTokens: PageTokens;
  limits: QueueLimits;
  /** Bearer tokens; empty disables auth (development and tests). */
  authTokens: string[];
  descriptorSetPath?: string;
  maxCallMs?: number;
  /** TLS (and mTLS with clientCa) for the gRPC port; plaintext when absent. */
  tls?: { cert: string; key: string; clientCa?: string };
}
