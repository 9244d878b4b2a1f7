import type { Pool } from 'pg';
import type { EventNames, GrpcServerSettings, Logger, PageTokens } from '@penguinmails/service-kit';
import type { QueueLimits } from './config';
import type { PrismaClient } from './db/prisma';
import type { RunnableWakeups } from './domain/wake-ups';

/** Everything the server needs; built by main.ts (or a test) and passed to createServer. */
export interface ServerDeps {
  /** Hand-written SQL (claim, transitions, outbox) in explicit transactions, and the keyset lists. */
  pool: Pool;
  /** Plain reads and inserts (GetJob, AppendJobLog, the job check of ListJobLogs). */
  prisma: PrismaClient;
  logger: Logger;
  names: EventNames;
  pageTokens: PageTokens;
  limits: QueueLimits;
  /** Wakes long-polling ClaimJobs (wait_ms) on the enqueue NOTIFY; without it they only poll. */
  wakeups?: RunnableWakeups;
  /** Auth tokens, deadline cap, TLS, reflection, transport limits (grpcServerSettings of the settings). */
  grpc?: GrpcServerSettings;
}
