// The content service process. Wiring only: behaviour lives in server.ts and below.
import { PageTokens, grpcServerSettings, openPostgresTier, runService } from '@penguinmails/service-kit';
import { loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { RetentionSweeper } from './domain/retention';
import { MIGRATIONS_DIR } from './migrations-dir';
import { createServer } from './server';

runService('content', loadSettings, async (s, logger) => {
  const tier = await openPostgresTier('content', s, { migrationsDir: MIGRATIONS_DIR, logger });
  const prisma = createPrisma(tier.pool);
  const sweeper = new RetentionSweeper({ pool: tier.pool, names: tier.names, logger, intervalMs: s.RETENTION_SWEEP_MS, batchSize: s.RETENTION_SWEEP_BATCH });
  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: {
      attachmentMaxBytes: s.ATTACHMENT_MAX_BYTES,
      contentMaxBytes: s.CONTENT_MAX_BYTES,
      defaultRetentionDays: s.CONTENT_DEFAULT_RETENTION_DAYS,
      pageSizeDefault: s.PAGE_SIZE_DEFAULT,
      pageSizeMax: s.PAGE_SIZE_MAX,
    },
    grpc: grpcServerSettings(s),
  });
  return {
    server,
    checks: tier.checks,
    background: [tier.relay, sweeper],
    close: async () => {
      await tier.close();
      await prisma.$disconnect();
    },
    ready: { stream: tier.names.stream('content') },
  };
});
