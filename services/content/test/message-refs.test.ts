import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, type PubAck } from '@nats-io/jetstream';
import { commonV1, contentV1, metadataV1 } from '@penguinmails/contracts';
import { EventConsumer, buildEnvelope, call, createLogger, createPgPool, decodeEnvelope, ensureConsumer, migratePostgres } from '@penguinmails/service-kit';
import { ConsumerWork } from '../src/consumers/consumer-work';
import { freshDatabase, natsTestContext, type NatsTestContext } from '@penguinmails/testkit';
import { MESSAGE_REFS_CONSUMER, createMessageRefsConsumer, declareMessageRefsConsumer } from '../src/consumers/message-recorded';
import { OrphanSweeper } from '../src/domain/orphans';
import { MIGRATIONS_DIR } from '../src/migrations-dir';
import { startContent, type Harness } from './harness';

// The content tier's part of "the four tiers working as one": it consumes the metadata tier's
// MessageRecorded events (real JetStream, this file's own stream names) to learn which storage
// keys have a ref, and collects content no ref names after a grace period.

const logger = createLogger({ service: 'content-test', level: process.env.LOG_LEVEL ?? 'silent' });
const MESSAGE_RECORDED = 'penguinmails.metadata.v1.MessageRecorded';
const settings = { EVENTS_DUPLICATE_WINDOW_MS: 60_000 };

let nats: NatsTestContext;
let h: Harness;
let consumer: EventConsumer;

beforeAll(async () => {
  nats = await natsTestContext();
  h = await startContent({ names: nats.names });
  // The metadata stream does not exist yet (metadata has not started): content declares it.
  await declareMessageRefsConsumer(nats.nc, nats.names, settings);
  consumer = createMessageRefsConsumer({ nc: nats.nc, names: nats.names, pool: h.pool, logger, maxWaitMs: 1_000, retryDelayMs: 100 });
  await consumer.start();
});
afterAll(async () => {
  await consumer.stop();
  await h.close();
  await nats.cleanup();
});

function recorded(tenantId: string, storageKey: string, opts: { eventId?: string; messageId?: string } = {}) {
  const message = metadataV1.MessageRef.fromPartial({ id: opts.messageId ?? randomUUID(), tenantId, contentStorageKey: storageKey, subject: 'hi' });
  return buildEnvelope({ eventId: opts.eventId, tenantId, source: 'metadata', eventType: MESSAGE_RECORDED, type: metadataV1.MessageRecorded, payload: { message } });
}

/** Publishes on pm.metadata.<tenant>.message_recorded; `msgId: false` skips JetStream's de-duplication. */
async function publish(tenantId: string, bytes: Uint8Array, msgId: string | false): Promise<PubAck> {
  return jetstream(nats.nc).publish(nats.names.subject('metadata', tenantId, 'message_recorded'), bytes, msgId ? { msgID: msgId } : {});
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function refCount(tenantId: string): Promise<number> {
  const { rows } = await h.pool.query<{ n: number }>('select count(*)::int as n from content_refs where tenant_id = $1', [tenantId]);
  return rows[0].n;
}

async function consumedCount(eventIds: string[]): Promise<number> {
  const { rows } = await h.pool.query<{ n: number }>('select count(*)::int as n from consumed_events where consumer = $1 and event_id = any($2::uuid[])', [MESSAGE_REFS_CONSUMER, eventIds]);
  return rows[0].n;
}

async function exists(key: string): Promise<boolean> {
  const { rows } = await h.pool.query('select 1 from content_objects where storage_key = $1', [key]);
  return rows.length === 1;
}

async function put(tenantId: string, storageKey = ''): Promise<string> {
  const res = await call(h.client, 'putContent', { tenantId, storageKey, contentText: 'body', rawSizeBytes: 0n });
  return res.content!.storageKey;
}

/** Makes objects look stored `ms` ago (instead of waiting out a real grace period). */
async function age(keys: string[], ms: number): Promise<void> {
  await h.pool.query(`update content_objects set created = now() - make_interval(secs => $2) where storage_key = any($1)`, [keys, ms / 1000]);
}

/** ContentDeleted events in the outbox for these keys: reason per key, in insertion order. */
async function deletions(keys: string[]): Promise<{ storageKey: string; reason: contentV1.DeletionReason }[]> {
  const { rows } = await h.pool.query<{ payload: Buffer }>(`select payload from outbox_events where event_type = 'penguinmails.content.v1.ContentDeleted'`);
  return rows
    .map((r) => contentV1.ContentDeleted.decode(decodeEnvelope(r.payload).payload))
    .filter((d) => keys.includes(d.storageKey))
    .map((d) => ({ storageKey: d.storageKey, reason: d.reason }));
}

const sweeper = (over: Partial<ConstructorParameters<typeof OrphanSweeper>[0]> = {}) =>
  new OrphanSweeper({ pool: h.pool, names: nats.names, logger, intervalMs: 0, batchSize: 100, graceMs: 60_000, ...over });

describe('the MessageRecorded consumer', () => {
  test('records the storage key of each event, once however often the event comes', async () => {
    const tenant = randomUUID();
    const key = `${tenant}/msg/${randomUUID()}`;
    const messageId = randomUUID();
    const first = recorded(tenant, key, { messageId });
    await publish(tenant, first.bytes, first.eventId);
    // The same event again, past JetStream's de-duplication (another msg id): the inbox drops it.
    expect((await publish(tenant, first.bytes, false)).duplicate).toBe(false);
    // Another event naming the same key (a second ref): one row per key.
    const second = recorded(tenant, key);
    await publish(tenant, second.bytes, second.eventId);
    await until('both events consumed', async () => (await consumedCount([first.eventId, second.eventId])) === 2);
    await until('the consumer to ack everything', async () => (await consumer.lag()).pending === 0);
    expect(await consumedCount([first.eventId, second.eventId])).toBe(2);
    const { rows } = await h.pool.query('select tenant_id, storage_key, message_id from content_refs where tenant_id = $1', [tenant]);
    expect(rows).toEqual([{ tenant_id: tenant, storage_key: key, message_id: messageId }]);
  });

  test('an event for a key not stored yet is kept: the content stored afterwards is not collected', async () => {
    const tenant = randomUUID();
    const key = `${tenant}/msg/${randomUUID()}`;
    const ev = recorded(tenant, key);
    await publish(tenant, ev.bytes, ev.eventId);
    await until('the ref recorded', async () => (await refCount(tenant)) === 1);
    expect(await put(tenant, key)).toBe(key);
    await age([key], 3_600_000);
    await sweeper().sweep();
    expect(await exists(key)).toBe(true);
    expect(await deletions([key])).toEqual([]);
  });

  test('a message without content, or with a key of no object here, is consumed and records nothing', async () => {
    const tenant = randomUUID();
    const events = [recorded(tenant, ''), recorded(tenant, `${randomUUID()}/someone-else`), recorded(tenant, `${tenant}/has space`)];
    for (const e of events) await publish(tenant, e.bytes, e.eventId);
    await until('all consumed', async () => (await consumedCount(events.map((e) => e.eventId))) === 3);
    expect(await refCount(tenant)).toBe(0);
  });

  test('survives its own restart: events published while it is stopped are all recorded, once', async () => {
    await consumer.stop();
    const tenant = randomUUID();
    const events = Array.from({ length: 25 }, (_, i) => recorded(tenant, `${tenant}/msg/${i}`));
    for (const e of events) await publish(tenant, e.bytes, e.eventId);
    // Some of them twice, as a producer's retry after a lost ack would.
    for (const e of events.slice(0, 5)) await publish(tenant, e.bytes, false);
    expect(await refCount(tenant)).toBe(0);
    // A new process: a new EventConsumer on the same durable consumer.
    consumer = createMessageRefsConsumer({ nc: nats.nc, names: nats.names, pool: h.pool, logger, maxWaitMs: 1_000, retryDelayMs: 100 });
    await consumer.start();
    await until('all recorded', async () => (await refCount(tenant)) === 25);
    await until('the consumer to ack everything', async () => (await consumer.lag()).pending === 0);
    expect(await refCount(tenant)).toBe(25);
    expect(await consumedCount(events.map((e) => e.eventId))).toBe(25);
  });

  test('malformed events go to the dead-letter stream and do not block the events behind them', async () => {
    const tenant = randomUUID();
    // Bytes that are not an EventEnvelope (wire type 7 does not exist).
    await publish(tenant, Buffer.from([0xff, 0xff, 0xff, 0xff]), randomUUID());
    // An envelope whose payload is not a MessageRecorded (a length-delimited field running past the end).
    const badPayload = commonV1.EventEnvelope.encode({
      eventId: randomUUID(), tenantId: tenant, eventType: MESSAGE_RECORDED, occurredAt: new Date(), source: 'metadata', payload: Buffer.from([0x0a, 0xff, 0x01]),
    }).finish();
    await publish(tenant, badPayload, randomUUID());
    const good = recorded(tenant, `${tenant}/msg/after-the-bad-ones`);
    await publish(tenant, good.bytes, good.eventId);
    await until('the good event recorded', async () => (await refCount(tenant)) === 1);

    await ensureConsumer(nats.nc, nats.names.deadLetterStream(), { durable: 'dead-letter-reader', filterSubjects: [nats.names.deadLetterSubjects()] });
    const reader = await jetstream(nats.nc).consumers.get(nats.names.deadLetterStream(), 'dead-letter-reader');
    const letters: { subject: string; letter: commonV1.DeadLetter }[] = [];
    const batch = await reader.fetch({ max_messages: 10, expires: 2_000 });
    for await (const m of batch) {
      letters.push({ subject: m.subject, letter: commonV1.DeadLetter.decode(m.data) });
      m.ack();
    }
    expect(letters).toHaveLength(2);
    expect(letters.every((l) => l.letter.consumer === MESSAGE_REFS_CONSUMER)).toBe(true);
    expect(letters.every((l) => l.letter.subject === nats.names.subject('metadata', tenant, 'message_recorded'))).toBe(true);
    const [notEnvelope, notPayload] = letters;
    expect(notEnvelope.letter.reason).toMatch(/undecodable envelope/);
    expect(notEnvelope.subject).toBe(nats.names.deadLetterSubject(MESSAGE_REFS_CONSUMER, '_'));
    expect(notPayload.letter.reason).toMatch(/undecodable MessageRecorded payload/);
    expect(notPayload.subject).toBe(nats.names.deadLetterSubject(MESSAGE_REFS_CONSUMER, tenant));
    expect(Buffer.from(notPayload.letter.data).equals(Buffer.from(badPayload))).toBe(true);
    expect(consumer.stats.deadLettered).toBeGreaterThanOrEqual(2);
  });
});

describe('the orphan sweep', () => {
  test('content without a ref, past the grace: deleted with ContentDeleted ORPHANED; content with a ref and young content: kept', async () => {
    const tenant = randomUUID();
    const orphan = await put(tenant);
    await call(h.client, 'addAttachment', { tenantId: tenant, parentStorageKey: orphan, filename: 'a.txt', mimeType: '', content: Buffer.from('a'), storageDisposition: 0, attachmentId: '' });
    const referenced = await put(tenant);
    const young = await put(tenant);
    const ev = recorded(tenant, referenced);
    await publish(tenant, ev.bytes, ev.eventId);
    await until('the ref recorded', async () => (await refCount(tenant)) === 1);
    // A tiny grace, really waited out for the orphan and the referenced object.
    await new Promise((r) => setTimeout(r, 300));
    await h.pool.query(`update content_objects set created = now() where storage_key = $1`, [young]);
    expect(await sweeper({ graceMs: 200 }).sweep()).toBeGreaterThanOrEqual(1);
    expect(await exists(orphan)).toBe(false);
    expect(await exists(referenced)).toBe(true);
    expect(await exists(young)).toBe(true);
    const { rows } = await h.pool.query<{ n: number }>('select count(*)::int as n from attachments where parent_storage_key = $1', [orphan]);
    expect(rows[0].n).toBe(0);
    expect(await deletions([orphan, referenced, young])).toEqual([{ storageKey: orphan, reason: contentV1.DeletionReason.DELETION_REASON_ORPHANED }]);
    const { rows: payloads } = await h.pool.query<{ payload: Buffer }>(`select payload from outbox_events where subject = $1`, [nats.names.subject('content', tenant, 'content_deleted')]);
    expect(contentV1.ContentDeleted.decode(decodeEnvelope(payloads[0].payload).payload)).toMatchObject({ storageKey: orphan, attachmentsDeleted: 1 });
  });

  test('the grace is extended by the consumer lag, and a lag that cannot be read stops the sweep', async () => {
    const tenant = randomUUID();
    const key = await put(tenant);
    await age([key], 120_000);
    // 2 minutes old, grace 1 minute, but the consumer is 5 minutes behind: not yet.
    expect(await sweeper({ lag: async () => ({ lagSeconds: 300 }) }).sweep()).toBe(0);
    await expect(sweeper({ lag: async () => Promise.reject(new Error('NATS down')) }).sweep()).rejects.toThrow('NATS down');
    expect(await exists(key)).toBe(true);
    // The consumer caught up: collected.
    await sweeper({ lag: () => consumer.lag() }).sweep();
    expect(await exists(key)).toBe(false);
  });

  test('expired objects are left to retention; a grace of 0 disables the sweep', async () => {
    const tenant = randomUUID();
    const expired = await put(tenant);
    const kept = await put(tenant);
    await h.pool.query(`update content_objects set expires = now() - interval '1 second' where storage_key = $1`, [expired]);
    await age([expired, kept], 3_600_000);
    expect(await sweeper({ graceMs: 0 }).sweep()).toBe(0);
    expect(await exists(kept)).toBe(true);
    await sweeper().sweep();
    expect(await exists(expired)).toBe(true);
    expect(await exists(kept)).toBe(false);
  });

  test('two sweepers at once delete and announce each orphan exactly once', async () => {
    const tenant = randomUUID();
    const keys: string[] = [];
    for (let i = 0; i < 40; i++) keys.push(await put(tenant));
    await age(keys, 3_600_000);
    const [a, b] = await Promise.all([sweeper({ batchSize: 3 }).sweep(), sweeper({ batchSize: 3 }).sweep()]);
    expect(a + b).toBeGreaterThanOrEqual(40);
    const { rows } = await h.pool.query<{ n: number }>('select count(*)::int as n from content_objects where tenant_id = $1', [tenant]);
    expect(rows[0].n).toBe(0);
    const events = await deletions(keys);
    expect(events).toHaveLength(40);
    expect(new Set(events.map((e) => e.storageKey)).size).toBe(40);
    expect(events.every((e) => e.reason === contentV1.DeletionReason.DELETION_REASON_ORPHANED)).toBe(true);
  });
});

test('the migration takes every object stored before refs were tracked as referenced', async () => {
  // A database at the first migration, with content in it, then migrated to this build.
  const dir = mkdtempSync(join(tmpdir(), 'content-migrations-'));
  cpSync(join(MIGRATIONS_DIR, '20260101000000_init'), join(dir, '20260101000000_init'), { recursive: true });
  const db = await freshDatabase({ migrationsDir: dir });
  const pool = createPgPool(db.url, { max: 2, logger });
  try {
    const tenant = randomUUID();
    await pool.query(`insert into content_objects (storage_key, tenant_id, raw_size_bytes, created) values ($1, $2, 0, now() - interval '30 days')`, [`${tenant}/old`, tenant]);
    await migratePostgres({ databaseUrl: db.url, migrationsDir: MIGRATIONS_DIR, logger });
    const { rows } = await pool.query('select tenant_id, storage_key, message_id from content_refs');
    expect(rows).toEqual([{ tenant_id: tenant, storage_key: `${tenant}/old`, message_id: null }]);
    const orphans = new OrphanSweeper({ pool, names: nats.names, logger, intervalMs: 0, batchSize: 10, graceMs: 1 });
    expect(await orphans.sweep()).toBe(0);
  } finally {
    await pool.end();
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ConsumerWork (the consumer as background work) retries a start that fails and stops cleanly', async () => {
  const seen: string[] = [];
  const late = new EventConsumer({
    nc: nats.nc, stream: nats.names.stream('metadata'), durable: 'declared-late', names: nats.names, logger,
    handle: async (events) => void seen.push(...events.map((e) => e.envelope.eventId)),
  });
  const work = new ConsumerWork(late, { pool: h.pool, logger, name: 'declared-late', consumedEventsMaxAgeMs: 60_000 });
  work.start(); // the durable consumer does not exist yet: start fails and is retried
  await new Promise((r) => setTimeout(r, 600));
  await ensureConsumer(nats.nc, nats.names.stream('metadata'), { durable: 'declared-late', filterSubjects: [nats.names.eventFilter('metadata', 'late')] });
  const tenant = randomUUID();
  const ev = recorded(tenant, `${tenant}/x`);
  await jetstream(nats.nc).publish(nats.names.subject('metadata', tenant, 'late'), ev.bytes);
  await until('the late consumer to handle the event', async () => seen.includes(ev.eventId));
  const t0 = Date.now();
  await work.stop();
  expect(Date.now() - t0).toBeLessThan(5_000);

  // Stopped while still retrying: stop does not wait for a start that will never succeed.
  const never = new ConsumerWork(
    new EventConsumer({ nc: nats.nc, stream: nats.names.stream('metadata'), durable: 'never-declared', names: nats.names, logger, handle: async () => undefined }),
    { pool: h.pool, logger, name: 'never-declared', consumedEventsMaxAgeMs: 60_000 },
  );
  never.start();
  await new Promise((r) => setTimeout(r, 300));
  const t1 = Date.now();
  await never.stop();
  expect(Date.now() - t1).toBeLessThan(1_000);
});
