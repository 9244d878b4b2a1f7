// The metadata service process. Wiring only: behaviour lives in server.ts and below.
import { contentV1 } from '@penguinmails/contracts';
import { PageTokens, connect, grpcServerSettings, openPostgresTier, runService } from '@penguinmails/service-kit';
import { loadSettings } from './config';
import { ContentEventsConsumer } from './consumers/content-events';
import { createPrisma } from './db/prisma';
import { MIGRATIONS_DIR } from './migrations-dir';
import { createServer } from './server';

runService('metadata', loadSettings, async (s, logger) => {
  const tier = await openPostgresTier('metadata', s, { migrationsDir: MIGRATIONS_DIR, logger });
  const prisma = createPrisma(tier.pool);
  const content = connect(contentV1.ContentServiceClient, s.CONTENT_URL, { token: s.CONTENT_TOKEN });
  const contentEvents = new ContentEventsConsumer({
    nc: tier.nc,
    names: tier.names,
    pool: tier.pool,
    logger,
    stream: { duplicateWindowMs: s.EVENTS_DUPLICATE_WINDOW_MS, maxAgeMs: s.EVENTS_MAX_AGE_MS, maxBytes: s.EVENTS_MAX_BYTES },
  });
  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: { pageSizeDefault: s.PAGE_SIZE_DEFAULT, pageSizeMax: s.PAGE_SIZE_MAX, importLeadsMax: s.IMPORT_LEADS_MAX, batchRecordMax: s.BATCH_RECORD_MAX },
    content,
    grpc: grpcServerSettings(s),
  });
  return {
    server,
    checks: tier.checks,
    // Stopped last first: the consumer finishes its batch before the relay and the stores go.
    background: [tier.relay, contentEvents],
    close: async () => {
      content.close();
      await tier.close();
      await prisma.$disconnect();
    },
    ready: { stream: tier.names.stream('metadata'), consumes: tier.names.stream('content'), content: s.CONTENT_URL },
  };
});
