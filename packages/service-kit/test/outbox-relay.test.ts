import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { commonV1 } from '@penguinmails/contracts';
import {
  OutboxRelay,
  buildEnvelope,
  createLogger,
  createPgPool,
  decodeEnvelope,
  ensureStream,
  outboxInsertMany,
  withTransaction,
} from '../src';
import { freshDatabase, natsTestContext, type FreshDatabase, type NatsTestContext } from '../../testkit/src';

const logger = createLogger({ service: 'test', level: 'silent' });
let db: FreshDatabase;
let nats: NatsTestContext;
let pool: ReturnType<typeof createPgPool>;

beforeAll(async () => {
  db = await freshDatabase({ migrationsDir: join(__dirname, 'fixtures/outbox-migrations') });
  nats = await natsTestContext();
  pool = createPgPool(db.url, { logger });
  await ensureStream(nats.nc, { name: nats.names.stream('metadata'), subjects: [nats.names.tierSubjects('metadata')], duplicateWindowMs: 120_000 });
});
afterAll(async () => {
  await pool.end();
  await nats.cleanup();
  await db.drop();
});

const tenant = randomUUID();

function events(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const e = buildEnvelope({
      tenantId: tenant,
      source: 'metadata',
      eventType: 'penguinmails.common.v1.PageResponse',
      type: commonV1.PageResponse,
      payload: { nextPageToken: String(i) },
    });
    return { eventId: e.eventId, tenantId: tenant, subject: nats.names.subject('metadata', tenant, 'probe'), eventType: 'probe', bytes: e.bytes };
  });
}

async function insert(evts: ReturnType<typeof events>) {
  await withTransaction(pool, async (c) => {
    const q = outboxInsertMany(evts);
    await c.query(q.text, q.values);
  });
}

async function streamIds(): Promise<string[]> {
  const jsm = await jetstreamManager(nats.nc);
  const durable = `check_${randomUUID().slice(0, 8)}`;
  await jsm.consumers.add(nats.names.stream('metadata'), { durable_name: durable, ack_policy: AckPolicy.Explicit });
  const c = await jetstream(nats.nc).consumers.get(nats.names.stream('metadata'), durable);
  const ids: string[] = [];
  const info = await jsm.streams.info(nats.names.stream('metadata'));
  while (ids.length < info.state.messages) {
    const batch = await c.fetch({ max_messages: 1000, expires: 2_000 });
    let got = 0;
    for await (const m of batch) {
      ids.push(decodeEnvelope(m.data).eventId);
      m.ack();
      got++;
    }
    if (got === 0) break;
  }
  await jsm.consumers.delete(nats.names.stream('metadata'), durable);
  return ids;
}

async function unpublished(): Promise<number> {
  return (await pool.query('select count(*)::int as n from outbox_events where published is null')).rows[0].n;
}

async function waitFor(cond: () => Promise<boolean>, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

test('every event reaches the stream exactly once across a relay stop/restart and a crash after publish', async () => {
  const all = events(1500);
  await insert(all.slice(0, 1000));

  // A relay that crashed after publishing 100 rows but before marking them: JetStream has them.
  const js = jetstream(nats.nc);
  const crashed = (await pool.query('select id, subject, payload from outbox_events order by created, id limit 100')).rows;
  for (const r of crashed) await js.publish(r.subject, r.payload, { msgID: r.id });

  const relay1 = new OutboxRelay({ pool, nc: nats.nc, logger, batchSize: 200 });
  relay1.start();
  await waitFor(async () => (await unpublished()) < 1000);
  await relay1.stop();
  const left = await unpublished();
  expect(left).toBeLessThan(1000);

  // Writes keep arriving while no relay runs; two replicas then share the work.
  await insert(all.slice(1000));
  const relay2 = new OutboxRelay({ pool, nc: nats.nc, logger, batchSize: 200 });
  const relay3 = new OutboxRelay({ pool, nc: nats.nc, logger, batchSize: 200 });
  relay2.start();
  relay3.start();
  await waitFor(async () => (await unpublished()) === 0);
  await Promise.all([relay2.stop(), relay3.stop()]);

  const ids = await streamIds();
  expect(ids.length).toBe(1500);
  expect(new Set(ids)).toEqual(new Set(all.map((e) => e.eventId)));
});

test('a new outbox row wakes the relay through NOTIFY well before the poll interval', async () => {
  const relay = new OutboxRelay({ pool, nc: nats.nc, logger, pollIntervalMs: 60_000 });
  relay.start();
  await waitFor(async () => (await unpublished()) === 0);
  await new Promise((r) => setTimeout(r, 200)); // the relay is now asleep on a 60 s poll
  const started = Date.now();
  await insert(events(1));
  await waitFor(async () => (await unpublished()) === 0, 10_000);
  expect(Date.now() - started).toBeLessThan(10_000);
  await relay.stop();
});

async function terminateConnections() {
  const { Client } = await import('pg');
  const admin = new Client({ connectionString: process.env.PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [db.name]);
  await admin.end();
}

test('the relay survives its connections being killed (database restart) and keeps delivering', async () => {
  const relay = new OutboxRelay({ pool, nc: nats.nc, logger, pollIntervalMs: 200 });
  relay.start();
  await waitFor(async () => (await unpublished()) === 0);
  await new Promise((r) => setTimeout(r, 100));
  await terminateConnections();
  await new Promise((r) => setTimeout(r, 300));
  const fresh = events(20);
  await insert(fresh);
  await waitFor(async () => (await unpublished()) === 0);
  await relay.stop();
  // Connections dying after the relay stopped must not reach its (detached) handlers.
  await terminateConnections();
  await new Promise((r) => setTimeout(r, 200));
  const ids = new Set(await streamIds());
  for (const e of fresh) expect(ids.has(e.eventId)).toBe(true);
});

test('while JetStream cannot store the events (stream gone), they wait in the outbox and go out once it is back', async () => {
  const jsm = await jetstreamManager(nats.nc);
  const stream = nats.names.stream('metadata');
  await jsm.streams.delete(stream);
  const relay = new OutboxRelay({ pool, nc: nats.nc, logger, pollIntervalMs: 100, publishTimeoutMs: 500 });
  relay.start();
  try {
    const waiting = events(10);
    await insert(waiting);
    await waitFor(async () => (await pool.query('select count(*)::int as n from outbox_events where published is null and attempts > 0 and last_error is not null')).rows[0].n === 10);
    expect(await unpublished()).toBe(10);

    await ensureStream(nats.nc, { name: stream, subjects: [nats.names.tierSubjects('metadata')], duplicateWindowMs: 120_000 });
    await waitFor(async () => (await unpublished()) === 0, 30_000);
    await relay.stop();
    const ids = await streamIds();
    expect(ids.sort()).toEqual(waiting.map((e) => e.eventId).sort());
  } finally {
    await relay.stop();
  }
});
