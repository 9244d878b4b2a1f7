// The metadata service process. Wiring only: behaviour lives in server.ts and below.
import { PageTokens, grpcServerSettings, openPostgresTier, runService } from '@penguinmails/service-kit';
import { loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { MIGRATIONS_DIR } from './migrations-dir';
import { createServer } from './server';

runService('metadata', loadSettings, async (s, logger) => {
  const tier = await openPostgresTier('metadata', s, { migrationsDir: MIGRATIONS_DIR, logger });
  const prisma = createPrisma(tier.pool);
  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: { pageSizeDefault: s.PAGE_SIZE_DEFAULT, pageSizeMax: s.PAGE_SIZE_MAX, importLeadsMax: s.IMPORT_LEADS_MAX, batchRecordMax: s.BATCH_RECORD_MAX },
    grpc: grpcServerSettings(s),
  });
  return {
    server,
    checks: tier.checks,
    background: [tier.relay],
    close: async () => {
      await tier.close();
      await prisma.$disconnect();
    },
    ready: { stream: tier.names.stream('metadata') },
  };
});
