import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { commonV1, contentV1 } from '@penguinmails/contracts';
import { buildEnvelope, call, createLogger } from '@penguinmails/service-kit';
import { CONTENT_EVENTS_DURABLE, ContentEventsConsumer } from '../src/consumers/content-events';
import { M, count, seedTenant, startHarness, type Harness, type Seed } from './harness';

// The content-events consumer against the real content tier: its events come from a real
// content server through its outbox relay onto the test's content stream.

const CS = M.ContentState;
let h: Harness;
let t: Seed;
let other: Seed;
let consumer: ContentEventsConsumer | undefined;
const logger = createLogger({ service: 'content-events-test', level: 'silent' });

function startConsumer(): Promise<void> {
  consumer = new ContentEventsConsumer({
    nc: h.nats.nc,
    names: h.nats.names,
    pool: h.pool,
    logger,
    stream: { duplicateWindowMs: 60_000 },
    maxWaitMs: 1_000,
    retryDelayMs: 200,
  });
  return consumer.start();
}

beforeAll(async () => {
  h = await startHarness({}, { authTokens: [] }, { content: true });
  t = await seedTenant(h, 'Acme');
  other = await seedTenant(h, 'Globex');
  await startConsumer();
});
afterAll(async () => {
  await consumer?.stop();
  await h.stop();
});

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const key = (s: Seed = t) => `${s.tenantId}/2026/11/${randomUUID()}`;
const record = (storageKey: string, s: Seed = t) =>
  h.rpc('recordMessage', {
    tenantId: s.tenantId,
    message: { emailAccountId: s.mailboxId, direction: M.Direction.DIRECTION_INBOUND, fromEmail: 'a@lead.example', toEmail: 'b@acme.example', providerMessageId: `<${randomUUID()}@x>`, contentStorageKey: storageKey },
  }).then((r) => r.message!);
const stateOf = async (id: string, s: Seed = t) => (await h.rpc('getMessage', { tenantId: s.tenantId, messageId: id })).message!.contentState;
const put = (storageKey: string, s: Seed = t) => call(h.content!.client, 'putContent', { tenantId: s.tenantId, storageKey, contentText: 'body', rawSizeBytes: 0n });

/** Publishes a content event as the content tier would (or with the given bytes), bypassing its database. */
async function publish(tenantId: string, suffix: string, data: Uint8Array, msgID = randomUUID()): Promise<void> {
  await jetstream(h.nats.nc).publish(h.nats.names.subject('content', tenantId, suffix), data, { msgID });
}
function deleted(tenantId: string, storageKey: string, reason: contentV1.DeletionReason, at = new Date(), eventId?: string) {
  return buildEnvelope({
    eventId,
    tenantId,
    source: 'content',
    eventType: 'penguinmails.content.v1.ContentDeleted',
    type: contentV1.ContentDeleted,
    payload: { storageKey, attachmentsDeleted: 0, reason, deleted: at },
    occurredAt: at,
  });
}
async function deadLetters(): Promise<commonV1.DeadLetter[]> {
  const jsm = await jetstreamManager(h.nats.nc);
  const stream = h.nats.names.deadLetterStream();
  const info = await jsm.streams.info(stream).catch(() => undefined);
  const out: commonV1.DeadLetter[] = [];
  for (let seq = info?.state.first_seq ?? 1; info && seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => undefined);
    if (m) out.push(commonV1.DeadLetter.decode(m.data));
  }
  return out;
}

it('ContentStored moves a PENDING ref to STORED; a ref recorded after the event starts STORED', async () => {
  const k = key();
  const before = await record(k);
  expect(before.contentState).toBe(CS.CONTENT_STATE_PENDING);
  await put(k);
  await waitFor('STORED', () => stateOf(before.id), (s) => s === CS.CONTENT_STATE_STORED);
  const after = await record(k);
  expect(after.contentState).toBe(CS.CONTENT_STATE_STORED);
});

it('DeleteContent → DELETED; retention (EXPIRED) → EXPIRED; orphan collection (ORPHANED) → DELETED', async () => {
  const k = key();
  const ref = await record(k);
  await put(k);
  await waitFor('STORED', () => stateOf(ref.id), (s) => s === CS.CONTENT_STATE_STORED);
  await call(h.content!.client, 'deleteContent', { tenantId: t.tenantId, storageKey: k });
  await waitFor('DELETED', () => stateOf(ref.id), (s) => s === CS.CONTENT_STATE_DELETED);

  const e = key();
  const expiring = await record(e);
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, e, contentV1.DeletionReason.DELETION_REASON_EXPIRED).bytes);
  await waitFor('EXPIRED', () => stateOf(expiring.id), (s) => s === CS.CONTENT_STATE_EXPIRED);

  const o = key();
  const orphan = await record(o);
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, o, contentV1.DeletionReason.DELETION_REASON_ORPHANED).bytes);
  await waitFor('DELETED', () => stateOf(orphan.id), (s) => s === CS.CONTENT_STATE_DELETED);
});

it('retention by policy (POLICY_AGE, OVER_BUDGET) → EXPIRED; SetExpiry and policy events change nothing and are not dead-lettered', async () => {
  const a = key();
  const aged = await record(a);
  const b = key();
  const trimmed = await record(b);
  const s = key();
  const pinned = await record(s);
  await put(s);
  await waitFor('STORED', () => stateOf(pinned.id), (st) => st === CS.CONTENT_STATE_STORED);
  const before = (await deadLetters()).length;
  // Real events of the content tier: ContentExpirySet and RetentionPolicyChanged through its relay.
  await call(h.content!.client, 'setExpiry', { tenantId: t.tenantId, storageKey: s, expires: new Date(Date.now() + 86_400_000), followPolicy: false });
  await call(h.content!.client, 'setRetentionPolicy', { tenantId: t.tenantId, maxAgeDays: 30 });
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, a, contentV1.DeletionReason.DELETION_REASON_POLICY_AGE).bytes);
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, b, contentV1.DeletionReason.DELETION_REASON_OVER_BUDGET).bytes);
  await waitFor('EXPIRED (age)', () => stateOf(aged.id), (st) => st === CS.CONTENT_STATE_EXPIRED);
  await waitFor('EXPIRED (budget)', () => stateOf(trimmed.id), (st) => st === CS.CONTENT_STATE_EXPIRED);
  // A marker published after the content tier's events: once it is applied, they were consumed.
  const m = key();
  const marker = await record(m);
  await put(m);
  await waitFor('marker STORED', () => stateOf(marker.id), (st) => st === CS.CONTENT_STATE_STORED);
  const published = await h.content!.pool.query(`select count(*)::int as n from outbox_events where published is not null and event_type in
    ('penguinmails.content.v1.ContentExpirySet', 'penguinmails.content.v1.RetentionPolicyChanged')`);
  expect(published.rows[0].n).toBeGreaterThanOrEqual(2);
  expect((await deadLetters()).length).toBe(before);
  expect(await stateOf(pinned.id)).toBe(CS.CONTENT_STATE_STORED);
});

it('the same event twice is applied once (consumed_events), and an older event does not undo a newer one', async () => {
  const k = key();
  const ref = await record(k);
  const ev = deleted(t.tenantId, k, contentV1.DeletionReason.DELETION_REASON_EXPIRED);
  await publish(t.tenantId, 'content_deleted', ev.bytes);
  await waitFor('EXPIRED', () => stateOf(ref.id), (s) => s === CS.CONTENT_STATE_EXPIRED);
  const inbox = await count(h.pool, 'consumed_events');
  // Someone repairs the row by hand; the redelivered event (another msgID, past JetStream's
  // duplicate window as it were) must not apply again.
  await h.pool.query(`update inbox_message_refs set content_state = 'stored' where id = $1`, [ref.id]);
  await publish(t.tenantId, 'content_deleted', ev.bytes);
  // A later, unrelated event proves the consumer has passed the duplicate.
  const marker = await record(key());
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, marker.contentStorageKey, contentV1.DeletionReason.DELETION_REASON_REQUESTED).bytes);
  await waitFor('marker', () => stateOf(marker.id), (s) => s === CS.CONTENT_STATE_DELETED);
  expect(await stateOf(ref.id)).toBe(CS.CONTENT_STATE_STORED);
  expect(await count(h.pool, 'consumed_events')).toBe(inbox + 1);

  // An old ContentStored (another event id) arriving after the deletion changes nothing.
  const old = buildEnvelope({
    tenantId: t.tenantId,
    source: 'content',
    eventType: 'penguinmails.content.v1.ContentStored',
    type: contentV1.ContentStored,
    payload: { storageKey: marker.contentStorageKey, rawSizeBytes: 0n, textSizeBytes: 0n, htmlSizeBytes: 0n, headersSizeBytes: 0n, created: new Date(Date.now() - 3600_000) },
    occurredAt: new Date(Date.now() - 3600_000),
  });
  await publish(t.tenantId, 'content_stored', old.bytes);
  const marker2 = await record(key());
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, marker2.contentStorageKey, contentV1.DeletionReason.DELETION_REASON_REQUESTED).bytes);
  await waitFor('marker2', () => stateOf(marker2.id), (s) => s === CS.CONTENT_STATE_DELETED);
  expect(await stateOf(marker.id)).toBe(CS.CONTENT_STATE_DELETED);
});

it('malformed events are dead-lettered without blocking the ones behind them', async () => {
  const k = key();
  const ref = await record(k);
  const foreign = key(other);
  const foreignRef = await record(foreign, other);
  await publish(t.tenantId, 'content_stored', Buffer.from('not an envelope at all'));
  // A key of another tenant, under this tenant's event: refused, the other tenant's ref untouched.
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, foreign, contentV1.DeletionReason.DELETION_REASON_REQUESTED).bytes);
  await publish(t.tenantId, 'content_deleted', deleted(t.tenantId, k, 99 as contentV1.DeletionReason).bytes);
  await put(k);
  await waitFor('STORED behind the bad events', () => stateOf(ref.id), (s) => s === CS.CONTENT_STATE_STORED);
  const letters = await waitFor('3 dead letters', deadLetters, (l) => l.length >= 3);
  expect(letters.every((l) => l.consumer === CONTENT_EVENTS_DURABLE)).toBe(true);
  expect(letters.map((l) => l.reason).join(' | ')).toMatch(/undecodable envelope.*not a key of tenant.*unknown reason/);
  expect(await stateOf(foreignRef.id, other)).toBe(CS.CONTENT_STATE_PENDING);
});

it('survives its own restart: events published while it is stopped are applied once when it is back', async () => {
  await consumer!.stop();
  const refs = [];
  for (let i = 0; i < 5; i++) {
    const k = key();
    refs.push(await record(k));
    await put(k);
  }
  // The content relay publishes them while the consumer is down.
  await waitFor('content outbox drained', async () => (await h.content!.pool.query('select count(*)::int as n from outbox_events where published is null')).rows[0].n, (n) => n === 0);
  for (const r of refs) expect(await stateOf(r.id)).toBe(CS.CONTENT_STATE_PENDING);
  const inbox = await count(h.pool, 'consumed_events');
  await startConsumer();
  for (const r of refs) await waitFor('STORED after restart', () => stateOf(r.id), (s) => s === CS.CONTENT_STATE_STORED);
  expect(await count(h.pool, 'consumed_events')).toBe(inbox + 5);
  const lag = await waitFor('no lag', () => consumer!.lag(), (l) => l.pending === 0);
  expect(lag.lagSeconds).toBe(0);
});
