import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { commonV1, metadataV1 } from '@penguinmails/contracts';
import { EventNames, buildEnvelope, createLogger, ensureStream, type EventConsumer } from '@penguinmails/service-kit';
import { natsTestContext, type NatsTestContext } from '@penguinmails/testkit';
import { metadataEventsConsumer } from '../src/consumers/metadata-events';
import { freshStore, rawRowCount, uuid, type TestStore } from './harness';

// Analytics replicas. With a ClickHouse server (CLICKHOUSE_URL) replicas are separate processes
// bound to one durable consumer; here the store is chDB, whose data folder one process owns, so
// the replicas are two EventConsumer instances in this process on the same durable consumer and
// the same store: the same JetStream protocol (pull, explicit ack) a second process would speak.
// Proved: every event is stored and counted once, and both instances did part of the work.
// And a second analytics *process* on a chDB folder already open fails fast, saying why.

const MAIN = path.join(__dirname, '..', 'dist', 'main.js');
const EVENTS = 400;
const logger = createLogger({ service: 'analytics-replicas-test', level: 'silent' });

let db: TestStore;
let ctx: NatsTestContext;
const consumers: EventConsumer[] = [];

beforeAll(async () => {
  db = await freshStore();
  ctx = await natsTestContext();
}, 60_000);
afterAll(async () => {
  await Promise.all(consumers.map((c) => c.stop()));
  await ctx?.cleanup();
  await db?.drop();
});

function sentMessage(tenantId: string, campaignId: string, mailbox: string) {
  const message: metadataV1.MessageRef = {
    id: uuid(),
    tenantId,
    emailAccountId: mailbox,
    campaignId,
    leadId: '',
    sequenceStepId: '',
    parentMessageId: '',
    direction: metadataV1.Direction.DIRECTION_OUTBOUND,
    messageType: metadataV1.MessageType.MESSAGE_TYPE_EMAIL,
    fromEmail: 'a@example.com',
    toEmail: 'b@example.com',
    subject: 'hello',
    status: metadataV1.MessageStatus.MESSAGE_STATUS_SENT,
    contentStorageKey: '',
    providerMessageId: '',
    clientKey: '',
    processed: undefined,
    created: new Date(Date.now() - 60_000),
    updated: new Date(Date.now() - 60_000),
    bounceType: commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED,
    contentState: metadataV1.ContentState.CONTENT_STATE_UNSPECIFIED,
  };
  return buildEnvelope({ tenantId, source: 'metadata', eventType: 'penguinmails.metadata.v1.MessageRecorded', type: metadataV1.MessageRecorded, payload: { message } });
}

async function count(query: string, params: Record<string, string>): Promise<number> {
  const rows = await (await db.store.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<{ n: number | string }>();
  return Number(rows[0]?.n ?? 0);
}

describe('analytics replicas', () => {
  it('two consumers on one durable consumer share the stream: each event stored and counted once, both did work', async () => {
    const names = new EventNames(`${ctx.subjectPrefix}r`, `${ctx.streamPrefix}_R`);
    await ensureStream(ctx.nc, { name: names.stream('metadata'), subjects: [names.tierSubjects('metadata')], duplicateWindowMs: 60_000 });
    const durable = `analytics-replicas-${uuid().slice(0, 8)}`;
    // Small batches so that the two pull in turns (one batch of 1000 would take everything).
    for (let i = 0; i < 2; i++) {
      const c = await metadataEventsConsumer({ nc: ctx.nc, names, store: db.store, logger, maxBatch: 25, maxWaitMs: 1000, stream: { duplicateWindowMs: 60_000 }, durable });
      await c.start();
      consumers.push(c);
    }
    const tenantId = uuid();
    const campaignId = uuid();
    const mailbox = uuid();
    const js = jetstream(ctx.nc);
    for (let from = 0; from < EVENTS; from += 50) {
      await Promise.all(
        Array.from({ length: 50 }, () => sentMessage(tenantId, campaignId, mailbox)).map((e) =>
          js.publish(names.subject('metadata', tenantId, 'message_recorded'), e.bytes, { msgID: e.eventId }),
        ),
      );
    }

    const until = Date.now() + 30_000;
    while (consumers.reduce((n, c) => n + c.stats.events, 0) < EVENTS && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const perConsumer = consumers.map((c) => c.stats.events);
    // Every event handled once across the two (no redelivery: each was acked by the one that took it)...
    expect(perConsumer.reduce((a, b) => a + b, 0)).toBe(EVENTS);
    // ...and each instance took part of the stream.
    for (const n of perConsumer) expect(n).toBeGreaterThan(0);
    // Stored once: raw rows (no FINAL, duplicates would show) and the rollup's count agree.
    expect(await rawRowCount(db.store, tenantId)).toBe(EVENTS);
    expect(
      await count(`select sum(sent) as n from ${db.store.table('campaign_analytics')} where tenant_id = {t:UUID} and campaign_id = {c:UUID}`, { t: tenantId, c: campaignId }),
    ).toBe(EVENTS);
    const lag = await consumers[0].lag();
    expect(lag.pending).toBe(0);
  }, 60_000);

  (existsSync(MAIN) ? it : it.skip)('a second analytics process on a chDB folder already open exits at once, naming the folder and the fix', async () => {
    // This jest worker holds its chDB folder open (the harness store): the same as a running service.
    const folder = path.join(require('node:os').tmpdir(), 'pm-analytics-chdb', String(process.pid));
    expect(existsSync(folder)).toBe(true);
    const started = Date.now();
    const proc = spawn(process.execPath, [MAIN], {
      // The test's own stream and subject names, as every other process the tests start: a
      // process on the defaults could touch the platform's PM_* streams on the shared NATS.
      env: { ...process.env, CHDB_PATH: folder, GRPC_HOST: '127.0.0.1', GRPC_PORT: '0', NATS_URL: ctx.url, EVENTS_SUBJECT_PREFIX: ctx.subjectPrefix, EVENTS_STREAM_PREFIX: ctx.streamPrefix, LOG_LEVEL: 'error' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout!.on('data', (b) => (output += b));
    proc.stderr!.on('data', (b) => (output += b));
    const code = await new Promise<number | null>((r) => proc.once('exit', r));
    expect(code).toBe(1);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(output).toContain(`cannot open chDB data folder ${folder}`);
    expect(output).toMatch(/another process \(the running service or a migrate run\) probably holds it — stop that process or set CHDB_PATH to another folder/);
    // The folder's owner is unharmed.
    expect(await rawRowCount(db.store, uuid())).toBe(0);
  }, 30_000);
});
