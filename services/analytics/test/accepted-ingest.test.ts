import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { status } from '@grpc/grpc-js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { analyticsV1, commonV1 } from '@penguinmails/contracts';
import { call, connect, createLogger, decodeStatus, type EventConsumer } from '@penguinmails/service-kit';
import { listeningPorts, natsTestContext, type NatsTestContext } from '@penguinmails/testkit';
import type { ServiceError } from '@grpc/grpc-js';
import { ACCEPTED_INGEST_CONSUMER, JetStreamAcceptedPublisher, createAcceptedIngestConsumer, declareAcceptedIngest } from '../src/consumers/accepted-ingest';
import { createServer } from '../src/server';
import { freshStore, rawRowCount, startServer, uuid, type TestStore } from './harness';

// IngestEvents with durability ACCEPTED: answered once the batch is in the tier's JetStream
// stream (real NATS, this file's own stream names), stored by the tier's consumer into chDB.

const T = analyticsV1.EmailEventType;
const { INGEST_DURABILITY_ACCEPTED: ACCEPTED, INGEST_DURABILITY_STORED: STORED } = analyticsV1.IngestDurability;
const logger = createLogger({ service: 'analytics-accepted-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const limits = { maxBatch: 1000, maxFutureMs: 5 * 60_000 };

let db: TestStore;
let nats: NatsTestContext;
let consumer: EventConsumer;
let client: analyticsV1.AnalyticsServiceClient;
let shutdown: () => Promise<void>;

beforeAll(async () => {
  db = await freshStore();
  nats = await natsTestContext();
  await declareAcceptedIngest(nats.nc, nats.names, { EVENTS_DUPLICATE_WINDOW_MS: 60_000 }, { maxBatch: 50 });
  consumer = createAcceptedIngestConsumer({ nc: nats.nc, names: nats.names, store: db.store, logger, limits, maxBatch: 50, maxWaitMs: 200, retryDelayMs: 100 });
  await consumer.start();
  const server = createServer({ store: db.store, logger, limits, accepted: new JetStreamAcceptedPublisher(nats.nc, nats.names), acceptedConsumer: consumer });
  const port = await server.listen('127.0.0.1', 0);
  client = connect(analyticsV1.AnalyticsServiceClient, `127.0.0.1:${port}`);
  shutdown = async () => {
    client.close();
    await server.shutdown(1000);
  };
}, 120_000);
afterAll(async () => {
  await shutdown?.();
  await consumer?.stop();
  await nats?.cleanup();
  await db?.drop();
});

/** `messages` messages of one campaign: sent, delivered, two opens, and a reply for every third. */
function campaign(messages: number) {
  const campaignId = uuid();
  const mailbox = uuid();
  const step = uuid();
  // Recent times: older events than ANALYTICS_RAW_TTL_DAYS (400) leave the raw table at once,
  // and with it what the writer's crash repair compares the rollups with.
  const base = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000;
  const at = (m: number, min: number) => new Date(base + m * 1000 + min * 60_000);
  const ev = (eventType: analyticsV1.EmailEventType, occurredAt: Date, messageRefId: string): analyticsV1.EmailEvent => ({
    eventId: uuid(),
    eventType,
    occurredAt,
    campaignId,
    emailAccountId: mailbox,
    sequenceStepId: step,
    leadId: '',
    messageRefId,
    bounceType: commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED,
    variant: '',
  });
  const events: analyticsV1.EmailEvent[] = [];
  for (let m = 0; m < messages; m++) {
    const ref = uuid();
    events.push(ev(T.EMAIL_EVENT_TYPE_SENT, at(m, 0), ref), ev(T.EMAIL_EVENT_TYPE_DELIVERED, at(m, 1), ref));
    events.push(ev(T.EMAIL_EVENT_TYPE_OPENED, at(m, 5), ref), ev(T.EMAIL_EVENT_TYPE_OPENED, at(m, 9), ref));
    if (m % 3 === 0) events.push(ev(T.EMAIL_EVENT_TYPE_REPLIED, at(m, 30), ref));
  }
  return { campaignId, events };
}

const report = async (c: analyticsV1.AnalyticsServiceClient, tenantId: string, campaignId: string) =>
  (await call(c, 'getCampaignMetrics', { tenantId, campaignId, timeRange: undefined })).report!.totals!;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function streamMessages(): Promise<number> {
  const jsm = await jetstreamManager(nats.nc);
  return (await jsm.streams.info(nats.names.stream('analytics'))).state.messages;
}

describe('IngestEvents durability ACCEPTED', () => {
  test('answered before the insert, stored by the consumer, and the same counts as STORED; a batch sent twice counts once', async () => {
    const accepted = uuid();
    const stored = uuid();
    const c = campaign(300); // 1,300 events
    const batches: analyticsV1.EmailEvent[][] = [];
    for (let i = 0; i < c.events.length; i += 100) batches.push(c.events.slice(i, i + 100));
    // 4 calls in flight, then the first batch again (a retry after a lost reply)
    let next = 0;
    const counts: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < batches.length) {
          const b = batches[next++];
          counts.push((await call(client, 'ingestEvents', { tenantId: accepted, events: b, durability: ACCEPTED })).acceptedCount);
        }
      }),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(c.events.length);
    await call(client, 'ingestEvents', { tenantId: accepted, events: batches[0], durability: ACCEPTED });
    for (const b of batches) await call(client, 'ingestEvents', { tenantId: stored, events: b, durability: STORED });

    const want = await report(client, stored, c.campaignId);
    expect(Number(want.sent)).toBe(300);
    await until('the accepted batches stored', async () => Number((await report(client, accepted, c.campaignId)).sent) === 300);
    expect(await report(client, accepted, c.campaignId)).toEqual(want);
    const fresh = await call(client, 'getFreshness', { tenantId: accepted });
    expect(Number(fresh.acceptedPendingBatches)).toBe(0);
    expect(fresh.acceptedLagSeconds).toBe(0);
    // the raw retention (ANALYTICS_RAW_TTL_DAYS), here its default
    expect(fresh.rawRetentionDays).toBe(400);
  });

  test('bad input: INVALID_ARGUMENT naming the field, nothing published and nothing stored', async () => {
    const tenantId = uuid();
    const c = campaign(2);
    const before = await streamMessages();
    const bad = { ...c.events[1], eventId: 'nope' };
    const err = await call(client, 'ingestEvents', { tenantId, events: [c.events[0], bad], durability: ACCEPTED }).catch((e: ServiceError) => e);
    const st = decodeStatus(err as ServiceError);
    expect(st.code).toBe(status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((v) => v.field)).toEqual(['events[1].event_id']);
    const unknown = decodeStatus((await call(client, 'ingestEvents', { tenantId, events: c.events, durability: 7 as analyticsV1.IngestDurability }).catch((e: ServiceError) => e)) as ServiceError);
    expect(unknown.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['durability:UNKNOWN_VALUE']);
    expect(await streamMessages()).toBe(before);
    await new Promise((r) => setTimeout(r, 500)); // longer than the consumer's wait
    expect(await rawRowCount(db.store, tenantId)).toBe(0);
  });

  test('a message on the subject that is not a valid batch is dead-lettered; the batches around it are stored', async () => {
    const tenantId = uuid();
    const c = campaign(10);
    await call(client, 'ingestEvents', { tenantId, events: c.events.slice(0, 20), durability: ACCEPTED });
    // published by something else than the service: a batch whose event has no type
    const forged = analyticsV1.IngestEventsRequest.encode({ tenantId, events: [{ ...c.events[0], eventId: uuid(), eventType: 0 }], durability: ACCEPTED }).finish();
    const env = commonV1.EventEnvelope.encode({ eventId: uuid(), tenantId, eventType: 'penguinmails.analytics.v1.IngestEventsRequest', occurredAt: new Date(), source: 'analytics', payload: Buffer.from(forged) }).finish();
    await jetstream(nats.nc).publish(nats.names.subject('analytics', tenantId, 'ingest_batch'), env);
    await call(client, 'ingestEvents', { tenantId, events: c.events.slice(20), durability: ACCEPTED });
    await until('both good batches stored', async () => Number((await report(client, tenantId, c.campaignId)).sent) === 10);
    expect(Number((await report(client, tenantId, c.campaignId)).replied)).toBe(4);
    await until('the forged batch dead-lettered', async () => consumer.stats.deadLettered >= 1);
  });

  test('a server without an event stream refuses ACCEPTED with FAILED_PRECONDITION and stores nothing', async () => {
    const plain = await startServer(db.store, limits);
    try {
      const tenantId = uuid();
      const err = await call(plain.client, 'ingestEvents', { tenantId, events: campaign(1).events, durability: ACCEPTED }).catch((e: ServiceError) => e);
      const st = decodeStatus(err as ServiceError);
      expect(st.code).toBe(status.FAILED_PRECONDITION);
      expect(st.message).toMatch(/use durability STORED/);
      expect(await rawRowCount(db.store, tenantId)).toBe(0);
    } finally {
      await plain.close();
    }
  });
});

describe('ACCEPTED and kill -9', () => {
  const MAIN = path.join(__dirname, '..', 'dist', 'main.js');
  let dir: string;
  // 0 until the first start binds a port the OS picks (read from its ready line); the restart binds it again.
  let port = 0;
  let child: ChildProcess | undefined;
  let own: NatsTestContext;

  const start = () => {
    const c = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        CHDB_PATH: dir,
        GRPC_HOST: '127.0.0.1',
        GRPC_PORT: String(port),
        NATS_URL: own.url,
        EVENTS_SUBJECT_PREFIX: own.subjectPrefix,
        EVENTS_STREAM_PREFIX: own.streamPrefix,
        ANALYTICS_CONSUMER_MAX_WAIT_MS: '3000',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    c.stdout!.resume(); // drained: only the first start's ready line is read (listeningPorts)
    return c;
  };
  async function ready(c: analyticsV1.AnalyticsServiceClient): Promise<void> {
    await until('the service answering', async () => call(c, 'getFreshness', { tenantId: uuid() }).then(() => true, () => false), 90_000);
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pm-accepted-kill9-'));
    own = await natsTestContext();
  });
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await own?.cleanup();
    if (process.env.KEEP_CHDB) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  });

  (existsSync(MAIN) ? test : test.skip)(
    'every acknowledged batch is stored exactly once after the service is killed with SIGKILL right after its answers and restarted',
    async () => {
      child = start();
      port = (await listeningPorts(child, { timeoutMs: 90_000 })).grpc;
      const c1 = connect(analyticsV1.AnalyticsServiceClient, `127.0.0.1:${port}`);
      await ready(c1);
      const tenantId = uuid();
      const cam = campaign(3000); // 13,000 events
      const batches: analyticsV1.EmailEvent[][] = [];
      for (let i = 0; i < cam.events.length; i += 1000) batches.push(cam.events.slice(i, i + 1000));
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < batches.length) {
            const b = batches[next++];
            await call(c1, 'ingestEvents', { tenantId, events: b, durability: ACCEPTED });
          }
        }),
      );
      // every batch acknowledged: kill at once, before the consumer's 3 s wait has stored them all
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      c1.close();
      const info = await (await jetstreamManager(own.nc)).consumers.info(own.names.stream('analytics'), ACCEPTED_INGEST_CONSUMER);
      const pendingAtKill = info.num_pending + info.num_ack_pending;

      child = start();
      const c2 = connect(analyticsV1.AnalyticsServiceClient, `127.0.0.1:${port}`);
      try {
        await ready(c2);
        await until('every accepted event stored', async () => Number((await report(c2, tenantId, cam.campaignId)).sent) >= 3000, 60_000);
        // exactly once: 3,000 sent, 1,000 replied, 6,000 opens, 3,000 unique opens — not more
        const totals = await report(c2, tenantId, cam.campaignId);
        expect({ sent: Number(totals.sent), delivered: Number(totals.delivered), opened: Number(totals.opened), uniqueOpened: Number(totals.uniqueOpened), replied: Number(totals.replied) }).toEqual({
          sent: 3000,
          delivered: 3000,
          opened: 6000,
          uniqueOpened: 3000,
          replied: 1000,
        });
        // the kill did leave batches to the restarted process (else this test proves nothing about it)
        expect(pendingAtKill).toBeGreaterThan(0);
      } finally {
        c2.close();
      }
    },
    180_000,
  );
});
