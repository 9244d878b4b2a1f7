import { randomUUID } from 'node:crypto';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { commonV1, metadataV1 } from '@penguinmails/contracts';
import { OutboxRelay, createLogger, ensureStream } from '@penguinmails/service-kit';
import { M, seedTenant, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.stop());

it('delivers each event exactly once to a JetStream consumer across a relay stop and restart', async () => {
  const names = h.nats.names;
  const stream = names.stream('metadata');
  await ensureStream(h.nats.nc, { name: stream, subjects: [names.tierSubjects('metadata')], duplicateWindowMs: 120_000 });
  const logger = createLogger({ service: 'relay-test', level: 'silent' });
  const t = await seedTenant(h, 'Outbox'); // 1 LeadCreated
  const msg = () => ({
    emailAccountId: t.mailboxId,
    direction: M.Direction.DIRECTION_OUTBOUND,
    fromEmail: 'a@outbox.example',
    toEmail: 'b@outbox.example',
    providerMessageId: `<${randomUUID()}>`,
  });

  const relay1 = new OutboxRelay({ pool: h.pool, nc: h.nats.nc, logger, batchSize: 7, pollIntervalMs: 50 });
  relay1.start();
  await h.rpc('batchRecordMessages', { tenantId: t.tenantId, messages: Array.from({ length: 20 }, msg) });
  await relay1.stop(); // mid-way: some rows may be published, some not
  await h.rpc('batchRecordMessages', { tenantId: t.tenantId, messages: Array.from({ length: 20 }, msg) });
  await h.rpc('updateCampaignStatus', { tenantId: t.tenantId, campaignId: t.campaignId, status: M.CampaignStatus.CAMPAIGN_STATUS_ACTIVE });
  // Simulate a crash after publish but before commit: un-mark some published rows so the
  // next relay publishes them again with the same msgID (JetStream drops the copies).
  await h.pool.query(`update outbox_events set published = null where id in (select id from outbox_events where published is not null limit 5)`);
  const relay2 = new OutboxRelay({ pool: h.pool, nc: h.nats.nc, logger, batchSize: 7, pollIntervalMs: 50 });
  relay2.start();
  const expected = 1 + 40 + 1;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const { rows } = await h.pool.query(`select count(*)::int as n from outbox_events where published is null`);
    if (rows[0].n === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await relay2.stop();

  const jsm = await jetstreamManager(h.nats.nc);
  await jsm.consumers.add(stream, { durable_name: 'test', ack_policy: AckPolicy.Explicit });
  const consumer = await jetstream(h.nats.nc).consumers.get(stream, 'test');
  const ids: string[] = [];
  const types = new Map<string, number>();
  const batch = await consumer.fetch({ max_messages: 200, expires: 1500 });
  for await (const m of batch) {
    const env = commonV1.EventEnvelope.decode(m.data);
    expect(m.headers?.get('Nats-Msg-Id')).toBe(env.eventId);
    ids.push(env.eventId);
    types.set(env.eventType, (types.get(env.eventType) ?? 0) + 1);
    if (env.eventType === 'penguinmails.metadata.v1.MessageRecorded') {
      expect(metadataV1.MessageRecorded.decode(env.payload).message?.tenantId).toBe(t.tenantId);
      expect(m.subject).toBe(names.subject('metadata', t.tenantId, 'message_recorded'));
    }
    m.ack();
  }
  expect(ids).toHaveLength(expected);
  expect(new Set(ids).size).toBe(expected);
  const { rows } = await h.pool.query<{ id: string }>('select id from outbox_events');
  expect(new Set(ids)).toEqual(new Set(rows.map((r) => r.id)));
  expect(Object.fromEntries(types)).toEqual({
    'penguinmails.metadata.v1.LeadCreated': 1,
    'penguinmails.metadata.v1.MessageRecorded': 40,
    'penguinmails.metadata.v1.CampaignStatusChanged': 1,
  });
}, 60_000);
