// The queue service process. Wiring only: behaviour lives in server.ts and below.
import { PageTokens, grpcServerSettings, openPostgresTier, runService } from '@penguinmails/service-kit';
import { CAMPAIGN_HOLDS_CONSUMER, createCampaignHoldsConsumer, declareCampaignHoldsConsumer } from './consumers/campaign-holds';
import { registerQueueMetrics } from './metrics';
import { limitsFrom, loadSettings } from './config';
import { createPrisma } from './db/prisma';
import { LeaseSweeper } from './domain/lease-sweeper';
import { JobRetention } from './domain/retention';
import { Scheduler } from './domain/schedules';
import { RunnableWakeups } from './domain/wake-ups';
import { MIGRATIONS_DIR } from './migrations-dir';
import { createServer } from './server';

runService('queue', loadSettings, async (s, logger) => {
  const tier = await openPostgresTier('queue', s, { migrationsDir: MIGRATIONS_DIR, logger });
  const prisma = createPrisma(tier.pool);
  const wakeups = new RunnableWakeups(tier.pool, logger);
  const server = createServer({
    pool: tier.pool,
    prisma,
    logger,
    names: tier.names,
    pageTokens: new PageTokens(s.PAGE_TOKEN_SECRET),
    limits: limitsFrom(s),
    grpc: grpcServerSettings(s),
    wakeups,
  });
  const unregisterMetrics = registerQueueMetrics(tier.pool);
  const scheduler = new Scheduler({ pool: tier.pool, logger, intervalMs: s.SCHEDULER_INTERVAL_MS, batchSize: s.SCHEDULER_BATCH });
  const retention = new JobRetention({
    pool: tier.pool,
    logger,
    intervalMs: s.QUEUE_RETENTION_INTERVAL_MS,
    batchSize: s.QUEUE_RETENTION_BATCH,
    succeededSeconds: s.QUEUE_RETENTION_SUCCEEDED_HOURS * 3600,
    deadSeconds: s.QUEUE_RETENTION_DEAD_DAYS * 86_400,
  });
  // A campaign that leaves ACTIVE holds its queued sends (hold key campaign:<id>): the metadata
  // tier's CampaignStatusChanged events.
  await declareCampaignHoldsConsumer(tier.nc, tier.names, s);
  const campaignHolds = createCampaignHoldsConsumer({ nc: tier.nc, names: tier.names, pool: tier.pool, logger: logger.child({ consumer: CAMPAIGN_HOLDS_CONSUMER }) });
  const leaseSweeper = new LeaseSweeper({ pool: tier.pool, names: tier.names, logger, intervalMs: s.LEASE_SWEEP_INTERVAL_MS, batchSize: s.CLAIM_BATCH_MAX });
  return {
    server,
    checks: tier.checks,
    background: [wakeups, tier.relay, scheduler, retention, leaseSweeper, campaignHolds],
    close: async () => {
      unregisterMetrics();
      await tier.close();
      await prisma.$disconnect();
    },
    ready: { stream: tier.names.stream('queue') },
  };
});
