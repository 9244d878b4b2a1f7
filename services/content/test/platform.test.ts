import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { jetstream } from '@nats-io/jetstream';
import { contentV1 } from '@penguinmails/contracts';
import { OutboxRelay, call, createLogger, decodeEnvelope, ensureConsumer, ensureStream } from '@penguinmails/service-kit';
import { healthCheck, natsTestContext, reflectionListServices, type NatsTestContext } from '@penguinmails/testkit';
import { RetentionSweeper } from '../src/domain/retention';
import { failure, startContent, type Harness } from './harness';

const logger = createLogger({ service: 'content-test', level: 'silent' });

describe('events: outbox → relay → JetStream', () => {
  let nats: NatsTestContext;
  let h: Harness;
  let relay: OutboxRelay;
  beforeAll(async () => {
    nats = await natsTestContext();
    h = await startContent({ names: nats.names });
    await ensureStream(nats.nc, { name: nats.names.stream('content'), subjects: [nats.names.tierSubjects('content')], duplicateWindowMs: 60_000 });
    await ensureConsumer(nats.nc, nats.names.stream('content'), { durable: 'test', filterSubjects: [nats.names.tierSubjects('content')] });
    relay = new OutboxRelay({ pool: h.pool, nc: nats.nc, logger, pollIntervalMs: 100 });
    relay.start();
  });
  afterAll(async () => {
    await relay.stop();
    await h.close();
    await nats.cleanup();
  });

  test('PutContent emits ContentStored (keys and sizes only) on pm.content.<tenant>.content_stored', async () => {
    const tenant = randomUUID();
    const expires = new Date(Date.now() + 86_400_000);
    const put = await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'héllo', contentHtml: '<b>hi</b>', headers: { X: 'y' }, rawSizeBytes: 0n, expires });
    const consumer = await jetstream(nats.nc).consumers.get(nats.names.stream('content'), 'test');
    const msg = await consumer.next({ expires: 10_000 });
    expect(msg).not.toBeNull();
    msg!.ack();
    expect(msg!.subject).toBe(nats.names.subject('content', tenant, 'content_stored'));
    const env = decodeEnvelope(msg!.data);
    expect(env).toMatchObject({ tenantId: tenant, source: 'content', eventType: 'penguinmails.content.v1.ContentStored' });
    expect(msg!.headers?.get('Nats-Msg-Id')).toBe(env.eventId);
    const payload = contentV1.ContentStored.decode(env.payload);
    expect(payload).toMatchObject({ storageKey: put.content!.storageKey, textSizeBytes: 6n, htmlSizeBytes: 9n, headersSizeBytes: 9n });
    expect(payload.expires!.getTime()).toBe(expires.getTime());
    // No bodies in the event.
    expect(Buffer.from(msg!.data).includes('héllo')).toBe(false);
    // The relay marks the row published once JetStream acked it (just after delivery can start).
    for (let i = 0; i < 50; i++) {
      const { rows } = await h.pool.query<{ published: Date | null }>('select published from outbox_events where id = $1', [env.eventId]);
      if (rows[0].published) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the outbox row was never marked published');
  });

  test('the retention sweeper deletes expired objects with their attachments and emits ContentDeleted', async () => {
    const tenant = randomUUID();
    const put = await call(h.client, 'putContent', { tenantId: tenant, storageKey: '', contentText: 'old', rawSizeBytes: 0n, expires: new Date(Date.now() + 60_000) });
    const key = put.content!.storageKey;
    await call(h.client, 'addAttachment', { tenantId: tenant, parentStorageKey: key, filename: 'a', mimeType: '', content: Buffer.from('a'), storageDisposition: 0, attachmentId: '' });
    await h.pool.query(`update content_objects set expires = now() - interval '1 minute' where storage_key = $1`, [key]);
    const sweeper = new RetentionSweeper({ pool: h.pool, names: nats.names, logger, intervalMs: 0, batchSize: 10 });
    expect(await sweeper.sweep()).toBe(1);
    const { rows } = await h.pool.query<{ c: number; a: number; payload: Buffer }>(
      `select (select count(*) from content_objects where storage_key = $1)::int as c, (select count(*) from attachments where parent_storage_key = $1)::int as a,
              (select payload from outbox_events where subject = $2) as payload`,
      [key, nats.names.subject('content', tenant, 'content_deleted')],
    );
    expect(rows[0]).toMatchObject({ c: 0, a: 0 });
    const deleted = contentV1.ContentDeleted.decode(decodeEnvelope(rows[0].payload).payload);
    expect(deleted).toMatchObject({ storageKey: key, attachmentsDeleted: 1, reason: contentV1.DeletionReason.DELETION_REASON_EXPIRED });
  });
});

describe('health, reflection, auth', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startContent({ authTokens: ['s3cret'] });
  });
  afterAll(() => h.close());

  test('health reports SERVING for the server and the service; reflection lists the service', async () => {
    expect(await healthCheck(h.address)).toBe('SERVING');
    expect(await healthCheck(h.address, 'penguinmails.content.v1.ContentService')).toBe('SERVING');
    expect(await reflectionListServices(h.address)).toEqual(['grpc.health.v1.Health', 'penguinmails.content.v1.ContentService']);
  });

  test('a call without the bearer token is UNAUTHENTICATED and writes nothing; with it, it works', async () => {
    const before = await h.counts();
    const s = await failure(call(h.client, 'putContent', { tenantId: randomUUID(), storageKey: '', contentText: 'x', rawSizeBytes: 0n }));
    expect(s.code).toBe(status.UNAUTHENTICATED);
    expect(await h.counts()).toEqual(before);

    const authed = await startContentClient(h, 's3cret');
    const res = await call(authed, 'putContent', { tenantId: randomUUID(), storageKey: '', contentText: 'x', rawSizeBytes: 0n });
    expect(res.created).toBe(true);
    authed.close();
  });
});

async function startContentClient(h: Harness, token: string): Promise<contentV1.ContentServiceClient> {
  const { connect } = await import('@penguinmails/service-kit');
  return connect(contentV1.ContentServiceClient, h.address, { token });
}
