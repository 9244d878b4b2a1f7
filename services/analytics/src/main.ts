// The analytics service process. Wiring only: behaviour lives in server.ts and below.
import { EventNames, connectNats, grpcServerSettings, runService } from '@penguinmails/service-kit';
import { loadAnalyticsConfig } from './config';
import { ACCEPTED_INGEST_CONSUMER, JetStreamAcceptedPublisher, createAcceptedIngestConsumer, declareAcceptedIngest } from './consumers/accepted-ingest';
import { metadataEventsConsumer } from './consumers/metadata-events';
import { applyRetention } from './db/apply-retention';
import { migrateClickHouse } from './db/migrate';
import { writerFor } from './domain/event-writer';
import { createServer } from './server';
import { openStore } from './store';

runService('analytics', loadAnalyticsConfig, async (s, logger) => {
  const { store, described } = await openStore(s);
  logger.info({ clickhouse: described, database: s.CLICKHOUSE_DATABASE }, 'ClickHouse ready');
  if (s.MIGRATE_ON_START) await migrateClickHouse({ store, logger, cluster: s.CLICKHOUSE_CLUSTER });
  // TTLs come from settings (raw events and rollups kept for different times), not migrations.
  const retention = { rawDays: s.ANALYTICS_RAW_TTL_DAYS, rollupDays: s.ANALYTICS_ROLLUP_TTL_DAYS };
  const changed = await applyRetention(store, retention, s.CLICKHOUSE_CLUSTER);
  if (changed.length) logger.info({ ...retention, tables: changed }, 'retention applied');
  // The one writer of this store in this process; with the memory filter, every stored id is
  // read into it now (about a second per 10M events), before the first event is stored.
  const writer = writerFor(store, {
    filter: s.ANALYTICS_DEDUP_FILTER ?? (s.CLICKHOUSE_URL ? 'store' : 'memory'),
    maxRows: s.ANALYTICS_WRITE_MAX_ROWS,
  });
  const loadStarted = Date.now();
  await writer.load();
  logger.info({ filter: writer.options.filter, ms: Date.now() - loadStarted }, 'event writer ready');
  const nc = await connectNats({ url: s.NATS_URL, name: s.SERVICE_NAME, logger });
  const names = new EventNames(s.EVENTS_SUBJECT_PREFIX, s.EVENTS_STREAM_PREFIX);
  const consumer = await metadataEventsConsumer({
    nc,
    names,
    store,
    logger,
    maxBatch: s.ANALYTICS_CONSUMER_MAX_BATCH,
    maxWaitMs: s.ANALYTICS_CONSUMER_MAX_WAIT_MS,
    stream: { duplicateWindowMs: s.EVENTS_DUPLICATE_WINDOW_MS, maxAgeMs: s.EVENTS_MAX_AGE_MS, maxBytes: s.EVENTS_MAX_BYTES },
  });
  // IngestEvents with durability ACCEPTED: published to PM_ANALYTICS, stored by this consumer.
  const limits = { maxBatch: s.INGEST_MAX_BATCH, maxFutureMs: s.INGEST_MAX_FUTURE_MS };
  await declareAcceptedIngest(nc, names, s, { maxBatch: s.ANALYTICS_ACCEPTED_MAX_BATCH });
  const acceptedConsumer = createAcceptedIngestConsumer({
    nc,
    names,
    store,
    logger: logger.child({ consumer: ACCEPTED_INGEST_CONSUMER }),
    limits,
    maxBatch: s.ANALYTICS_ACCEPTED_MAX_BATCH,
    maxWaitMs: s.ANALYTICS_CONSUMER_MAX_WAIT_MS,
  });
  const server = createServer({
    store,
    logger,
    limits,
    queries: { maxRangeDays: s.ANALYTICS_MAX_RANGE_DAYS, maxBuckets: s.ANALYTICS_MAX_BUCKETS },
    consumer,
    accepted: new JetStreamAcceptedPublisher(nc, names),
    acceptedConsumer,
    grpc: grpcServerSettings(s),
    rawTtlDays: s.ANALYTICS_RAW_TTL_DAYS,
  });
  return {
    server,
    // NATS is not a health check: while it is down the RPCs still answer from ClickHouse (the
    // consumer waits and resumes, GetFreshness says how far behind it is).
    checks: [
      {
        name: 'clickhouse',
        check: async () => {
          const ping = await store.client.ping();
          if (!ping.success) throw new Error('ClickHouse ping failed');
        },
      },
    ],
    // The kit's runService awaits an async start (EventConsumer.start declares the dead-letter
    // stream and binds the durable consumer) and stops it after the server stopped.
    background: [consumer, acceptedConsumer],
    // chDB must be closed before exit, or its data folder may be left mid-write; in-flight
    // calls and the consumer's last batch are done by now (runService stops them first).
    close: async () => {
      await nc.drain().catch(() => undefined);
      await store.close();
    },
    ready: { consumer: 'analytics-metadata-events', maxBatch: s.ANALYTICS_CONSUMER_MAX_BATCH },
  };
});
