import { createHash } from 'node:crypto';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { analyticsV1, commonV1, metadataV1 } from '@penguinmails/contracts';
import { EventNames, buildEnvelope, call, connectNats, createLogger, ensureStream, type EventConsumer, type NatsConnection } from '@penguinmails/service-kit';
import { natsTestContext, spawnNatsServer, type NatsTestContext } from '@penguinmails/testkit';
import { metadataEventsConsumer } from '../src/consumers/metadata-events';
import type { Store } from '../src/db/client';
import { insertEvents, type InsertEvents } from '../src/db/insert-events';
import { nameBasedUuid } from '../src/domain/fact-id';
import { freshStore, startServer, uuid, type TestServer, type TestStore } from './harness';

// The metadata tier's events → email_events, over real JetStream (unique names per file on the
// shared server; a private nats-server for the restart test) and the chDB store of the harness.

const S = metadataV1.MessageStatus;
const logger = createLogger({ service: 'analytics-consumer-test', level: 'silent' });

let db: TestStore;
let ctx: NatsTestContext;
let srv: TestServer;
/**
 * Names of the current test: a consumer reads its stream from the start, so each test has its
 * own metadata stream (`<ctx stream prefix>_<n>_METADATA`, deleted by ctx.cleanup) and sees only
 * its own events.
 */
let names: EventNames;
let testNo = 0;
/** The consumer GetFreshness of `srv` reports on (set per test). */
let current: EventConsumer | undefined;
const freshnessOf = {
  lag: () => (current ? current.lag() : Promise.resolve({ pending: 0, lagSeconds: 0 })),
  get stats() {
    return current?.stats ?? { deadLettered: 0, lastBatchAt: undefined };
  },
};

beforeAll(async () => {
  db = await freshStore();
  ctx = await natsTestContext();
  srv = await startServer(db.store, undefined, {}, freshnessOf);
}, 60_000);
afterAll(async () => {
  await current?.stop();
  await srv?.close();
  await ctx?.cleanup();
  await db?.drop();
});

/** Inserts, counted: the batching test reads how many INSERTs a run made. */
function countingInsert(): { insert: InsertEvents; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    insert: async (store: Store, rows) => {
      calls.push(rows.length);
      await insertEvents(store, rows);
    },
  };
}

async function startConsumer(
  o: { nc?: NatsConnection; names?: EventNames; durable?: string; maxBatch?: number; insert?: InsertEvents; ackWaitMs?: number } = {},
): Promise<EventConsumer> {
  const consumer = await metadataEventsConsumer({
    nc: o.nc ?? ctx.nc,
    names: o.names ?? names,
    store: db.store,
    logger,
    maxBatch: o.maxBatch ?? 100,
    maxWaitMs: 1000,
    stream: { duplicateWindowMs: 60_000 },
    durable: o.durable ?? `analytics-${uuid().slice(0, 8)}`,
    insert: o.insert,
    ackWaitMs: o.ackWaitMs,
  });
  await consumer.start();
  return consumer;
}

/** A message ref as the metadata tier sends it; ids of campaign/step/lead/mailbox from `a`. */
function ref(a: Attribution, over: Partial<metadataV1.MessageRef> = {}): metadataV1.MessageRef {
  return {
    id: uuid(),
    tenantId: a.tenantId,
    emailAccountId: a.mailbox,
    campaignId: a.campaign,
    leadId: a.lead,
    sequenceStepId: a.step,
    parentMessageId: '',
    direction: metadataV1.Direction.DIRECTION_OUTBOUND,
    messageType: metadataV1.MessageType.MESSAGE_TYPE_EMAIL,
    fromEmail: 'a@example.com',
    toEmail: 'b@example.com',
    subject: 'hello',
    status: S.MESSAGE_STATUS_SENT,
    contentStorageKey: '',
    providerMessageId: `<${uuid()}@example.com>`,
    clientKey: '',
    processed: undefined,
    created: new Date(Date.now() - 60_000),
    updated: new Date(Date.now() - 60_000),
    bounceType: commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED,
    contentState: metadataV1.ContentState.CONTENT_STATE_UNSPECIFIED,
    ...over,
  };
}

interface Attribution {
  tenantId: string;
  campaign: string;
  step: string;
  mailbox: string;
  lead: string;
}
const attribution = (): Attribution => ({ tenantId: uuid(), campaign: uuid(), step: uuid(), mailbox: uuid(), lead: uuid() });

function recorded(message: metadataV1.MessageRef) {
  return buildEnvelope({
    tenantId: message.tenantId,
    source: 'metadata',
    eventType: 'penguinmails.metadata.v1.MessageRecorded',
    type: metadataV1.MessageRecorded,
    payload: { message },
  });
}

function statusChanged(a: Attribution, messageId: string, newStatus: metadataV1.MessageStatus, oldStatus = S.MESSAGE_STATUS_SENT) {
  return buildEnvelope({
    tenantId: a.tenantId,
    source: 'metadata',
    eventType: 'penguinmails.metadata.v1.MessageStatusChanged',
    type: metadataV1.MessageStatusChanged,
    payload: {
      messageId,
      emailAccountId: a.mailbox,
      campaignId: a.campaign,
      leadId: a.lead,
      sequenceStepId: a.step,
      oldStatus,
      newStatus,
      changedAt: new Date(Date.now() - 30_000),
    },
  });
}

type Envelope = ReturnType<typeof recorded>;

/** Publishes as the metadata tier's relay does (Nats-Msg-Id = event id, unless told otherwise). */
async function publish(envs: Envelope[], o: { nc?: NatsConnection; names?: EventNames; msgId?: (e: Envelope) => string } = {}): Promise<void> {
  const js = jetstream(o.nc ?? ctx.nc);
  const n = o.names ?? names;
  for (const e of envs) {
    const suffix = e.envelope.eventType.endsWith('MessageRecorded') ? 'message_recorded' : 'message_status_changed';
    await js.publish(n.subject('metadata', e.envelope.tenantId, suffix), e.bytes, { msgID: o.msgId ? o.msgId(e) : e.eventId });
  }
}

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const campaignTotals = async (a: Attribution) =>
  (await call(srv.client, 'getCampaignMetrics', { tenantId: a.tenantId, campaignId: a.campaign })).report!.totals!;

/** Stored rows of a tenant after FINAL: what the metrics count. */
async function finalRows(tenantId: string): Promise<{ event_type: string; message_ref_id: string; bounce_type: string; detail_rank: number }[]> {
  return (
    await db.store.client.query({
      query: `select event_type, toString(message_ref_id) as message_ref_id, bounce_type, detail_rank from ${db.store.table('events')} final where tenant_id = {t:UUID} order by event_type, message_ref_id`,
      query_params: { t: tenantId },
      format: 'JSONEachRow',
    })
  ).json();
}

test('the derived fact id is an RFC 9562 UUIDv5 (the RFC test vector)', () => {
  // RFC 9562 appendix A.4: DNS namespace, "www.example.com".
  expect(nameBasedUuid('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
});

test('the derived fact id equals the textbook UUIDv5 (createHash, byte arithmetic) on 20,000 names, every variant nibble and non-ASCII names', () => {
  // The stored ids depend on it: the one-call form (crypto.hash, hex arithmetic) must give the
  // same id as the step-by-step form it replaced, for any name.
  const reference = (namespace: string, name: string) => {
    const b = createHash('sha1').update(Buffer.from(namespace.replace(/-/g, ''), 'hex')).update(name, 'utf8').digest().subarray(0, 16);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const ns = 'b8a7f3f4-5f0c-4e5e-9a51-7d3c2e8f6a10';
  const variants = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const name = i % 7 === 0 ? `${uuid()}/é-ü-${'💌'.repeat(i % 5)}` : `${uuid()}/${['sent', 'delivered', 'replied', 'bounced'][i % 4]}`;
    const id = nameBasedUuid(ns, name);
    expect(id).toBe(reference(ns, name));
    variants.add(id[19]);
  }
  expect([...variants].sort()).toEqual(['8', '9', 'a', 'b']);
});

/** The metadata stream as the metadata tier declares it (events are published before a consumer exists). */
async function declareStream(nc: NatsConnection, n: EventNames): Promise<void> {
  await ensureStream(nc, { name: n.stream('metadata'), subjects: [n.tierSubjects('metadata')], duplicateWindowMs: 60_000 });
}

describe('metadata events → email_events', () => {
  beforeEach(async () => {
    testNo++;
    names = new EventNames(`${ctx.subjectPrefix}x${testNo}`, `${ctx.streamPrefix}_${testNo}`);
    await declareStream(ctx.nc, names);
  });
  afterEach(async () => {
    await current?.stop();
    current = undefined;
  });

  it('maps MessageRecorded and MessageStatusChanged onto the right campaign, step and mailbox; both paths count once', async () => {
    const a = attribution();
    const m1 = ref(a); // recorded as sent
    const m2 = ref(a); // recorded as sent; bounces (soft)
    const m3 = ref(a, { status: S.MESSAGE_STATUS_QUEUED }); // queued: nothing yet, then sent by status change
    const failed = ref(a, { status: S.MESSAGE_STATUS_FAILED }); // never sent
    const inbound = { direction: metadataV1.Direction.DIRECTION_INBOUND, status: S.MESSAGE_STATUS_RECEIVED };
    // Metadata copies the parent's campaign, step and lead onto a linked reply.
    const reply = ref(a, { ...inbound, parentMessageId: m1.id });
    const unsolicited = ref(a, { ...inbound, campaignId: '', sequenceStepId: '', leadId: '' });
    const bounce = ref(a, { ...inbound, messageType: metadataV1.MessageType.MESSAGE_TYPE_BOUNCE, parentMessageId: m2.id, bounceType: commonV1.BounceType.BOUNCE_TYPE_SOFT });
    const auto = ref(a, { ...inbound, messageType: metadataV1.MessageType.MESSAGE_TYPE_AUTO_REPLY, parentMessageId: m3.id });
    await publish([
      recorded(m1),
      recorded(m2),
      recorded(m3),
      recorded(failed),
      statusChanged(a, m3.id, S.MESSAGE_STATUS_SENT, S.MESSAGE_STATUS_QUEUED),
      statusChanged(a, m1.id, S.MESSAGE_STATUS_DELIVERED),
      statusChanged(a, m1.id, S.MESSAGE_STATUS_OPENED, S.MESSAGE_STATUS_DELIVERED), // opens come from tracking
      recorded(reply),
      statusChanged(a, m1.id, S.MESSAGE_STATUS_REPLIED, S.MESSAGE_STATUS_OPENED), // the same reply, second path
      recorded(unsolicited),
      statusChanged(a, m2.id, S.MESSAGE_STATUS_BOUNCED), // the same bounce, type unknown here
      recorded(bounce),
      recorded(auto),
    ]);
    current = await startConsumer();
    const want = { sent: 3n, delivered: 1n, opened: 0n, replied: 1n, bounced: 1n, hardBounced: 0n, softBounced: 1n, autoReplied: 1n };
    await waitFor('campaign counts', () => campaignTotals(a), (t) => t.sent === 3n && t.autoReplied === 1n && t.bounced === 1n && t.replied === 1n);
    expect(await campaignTotals(a)).toMatchObject(want);
    const step = await call(srv.client, 'getSequenceStepMetrics', { tenantId: a.tenantId, sequenceStepId: a.step });
    expect(step.report!.totals).toMatchObject(want);
    const mailbox = await call(srv.client, 'getMailboxMetrics', { tenantId: a.tenantId, emailAccountId: a.mailbox });
    expect(mailbox.report!.totals).toMatchObject(want);
    // The reply and the bounce are stored against the message they answer.
    const rows = await finalRows(a.tenantId);
    expect(rows.find((r) => r.event_type === 'replied')?.message_ref_id).toBe(m1.id);
    expect(rows.find((r) => r.event_type === 'bounced')).toMatchObject({ message_ref_id: m2.id, bounce_type: 'soft' });
    expect(rows.find((r) => r.event_type === 'auto_replied')?.message_ref_id).toBe(m3.id);
    expect(rows).toHaveLength(7); // 3 sent, delivered, replied, bounced, auto_replied
  });

  it('counts an event published twice once, and a sent reported by MessageRecorded, a status change and IngestEvents once', async () => {
    const a = attribution();
    const m = ref(a);
    const e = recorded(m);
    // The same envelope twice under different Nats-Msg-Ids: JetStream stores both.
    await publish([e]);
    await publish([e], { msgId: () => uuid() });
    await publish([statusChanged(a, m.id, S.MESSAGE_STATUS_SENT, S.MESSAGE_STATUS_QUEUED)]);
    await call(srv.client, 'ingestEvents', {
      durability: 0,
      tenantId: a.tenantId,
      events: [
        {
          eventId: uuid(), // a caller's own id: the fact's id replaces it
          eventType: analyticsV1.EmailEventType.EMAIL_EVENT_TYPE_SENT,
          occurredAt: new Date(Date.now() - 10_000),
          campaignId: a.campaign,
          emailAccountId: a.mailbox,
          sequenceStepId: a.step,
          leadId: a.lead,
          messageRefId: m.id,
          bounceType: 0, variant: '',
        },
      ],
    });
    current = await startConsumer();
    await waitFor('the consumer caught up', () => current!.lag(), (l) => l.pending === 0 && current!.stats.events === 3);
    expect((await campaignTotals(a)).sent).toBe(1n);
    // The message's own record (rank 3) won over the caller's report and the status change.
    expect(await finalRows(a.tenantId)).toEqual([{ event_type: 'sent', message_ref_id: m.id, bounce_type: '', detail_rank: 3 }]);
  });

  it('a status change BOUNCED and an inbound soft bounce message are one bounce, soft, in either order', async () => {
    for (const order of ['status first', 'bounce first']) {
      const a = attribution();
      const m = ref(a);
      const bounceMsg = ref(a, {
        direction: metadataV1.Direction.DIRECTION_INBOUND,
        status: S.MESSAGE_STATUS_RECEIVED,
        messageType: metadataV1.MessageType.MESSAGE_TYPE_BOUNCE,
        parentMessageId: m.id,
        bounceType: commonV1.BounceType.BOUNCE_TYPE_SOFT,
      });
      const pair = [statusChanged(a, m.id, S.MESSAGE_STATUS_BOUNCED), recorded(bounceMsg)];
      // In separate batches, so the table (not the batch's own dedup) has to pick the winner.
      current = await startConsumer({ maxBatch: 1 });
      await publish([recorded(m), ...(order === 'status first' ? pair : pair.reverse())]);
      await waitFor(`bounce (${order})`, () => campaignTotals(a), (t) => t.bounced === 1n && t.softBounced === 1n);
      expect(await campaignTotals(a)).toMatchObject({ sent: 1n, bounced: 1n, softBounced: 1n, hardBounced: 0n });
      await current.stop();
      current = undefined;
    }
  });

  it('stores N events in at most ceil(N / maxBatch) inserts', async () => {
    const a = attribution();
    const n = 45;
    const maxBatch = 20;
    await publish(Array.from({ length: n }, () => recorded(ref(a))));
    const counter = countingInsert();
    current = await startConsumer({ maxBatch, insert: counter.insert });
    await waitFor('45 sent', () => campaignTotals(a), (t) => t.sent === BigInt(n));
    expect(counter.calls.length).toBeLessThanOrEqual(Math.ceil(n / maxBatch));
    expect(counter.calls.reduce((x, y) => x + y, 0)).toBe(n);
  });

  it('dead-letters malformed events with their reason and keeps counting the good ones behind them', async () => {
    const a = attribution();
    const js = jetstream(ctx.nc);
    const subject = names.subject('metadata', a.tenantId, 'message_recorded');
    const good = ref(a);
    // 1. not an envelope at all
    await js.publish(subject, new Uint8Array([0xff, 0xff, 0xff, 0x0f]), { msgID: uuid() });
    // 2. an envelope of an event type this consumer does not know
    const unknown = recorded(ref(a));
    unknown.envelope.eventType = 'penguinmails.metadata.v1.NoSuchEvent';
    await js.publish(subject, commonV1.EventEnvelope.encode(unknown.envelope).finish(), { msgID: uuid() });
    // 3. a MessageRef without its mailbox id
    await publish([recorded(ref(a, { emailAccountId: '' }))]);
    // 4. a payload that is not a MessageRecorded
    const garbage = recorded(ref(a));
    garbage.envelope.payload = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    await js.publish(subject, commonV1.EventEnvelope.encode(garbage.envelope).finish(), { msgID: uuid() });
    // then good events, in the same batch and in later ones
    await publish([recorded(good), statusChanged(a, good.id, S.MESSAGE_STATUS_DELIVERED)]);
    const durable = `analytics-dl-${uuid().slice(0, 8)}`;
    current = await startConsumer({ durable });
    await waitFor('the good events', () => campaignTotals(a), (t) => t.sent === 1n && t.delivered === 1n);
    const later = ref(a);
    await publish([recorded(later)]);
    await waitFor('an event after the bad ones', () => campaignTotals(a), (t) => t.sent === 2n);
    expect(current.stats.deadLettered).toBe(4);

    const jsm = await jetstreamManager(ctx.nc);
    const reasons: string[] = [];
    const info = await jsm.streams.info(names.deadLetterStream());
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(names.deadLetterStream(), { seq });
      if (!m || !m.subject.startsWith(names.deadLetterSubject(durable, ''))) continue;
      const letter = commonV1.DeadLetter.decode(m.data);
      expect(letter.consumer).toBe(durable);
      reasons.push(letter.reason);
    }
    expect(reasons).toHaveLength(4);
    expect(reasons.join('\n')).toMatch(/undecodable envelope/);
    expect(reasons.join('\n')).toMatch(/unknown event type "penguinmails.metadata.v1.NoSuchEvent"/);
    expect(reasons.join('\n')).toMatch(/message.email_account_id is missing/);
    expect(reasons.join('\n')).toMatch(/undecodable payload/);
    const freshness = await call(srv.client, 'getFreshness', { tenantId: a.tenantId });
    expect(freshness.deadLettered).toBe(4n);
  });

  it('survives its own restart, and GetFreshness shows the events waiting meanwhile', async () => {
    const a = attribution();
    const durable = `analytics-rs-${uuid().slice(0, 8)}`;
    current = await startConsumer({ durable });
    await publish([recorded(ref(a))]);
    await waitFor('first event', () => campaignTotals(a), (t) => t.sent === 1n);
    await current.stop();
    // Stopped: events wait in the stream, and GetFreshness says so.
    await publish(Array.from({ length: 5 }, () => recorded(ref(a))));
    const waiting = await call(srv.client, 'getFreshness', { tenantId: a.tenantId });
    expect(waiting.pendingEvents).toBe(5n);
    expect(waiting.lagSeconds).toBeGreaterThanOrEqual(0);
    expect(waiting.lastBatchAt).toBeInstanceOf(Date);
    expect(waiting.tenantNewestEvent).toBeInstanceOf(Date);
    current = await startConsumer({ durable });
    await waitFor('all six', () => campaignTotals(a), (t) => t.sent === 6n);
    const caughtUp = await waitFor('pending 0', () => call(srv.client, 'getFreshness', { tenantId: a.tenantId }), (f) => f.pendingEvents === 0n);
    expect(caughtUp.lagSeconds).toBe(0);
    expect((await finalRows(a.tenantId)).length).toBe(6);
    // A tenant with no events: no newest event.
    expect((await call(srv.client, 'getFreshness', { tenantId: uuid() })).tenantNewestEvent).toBeUndefined();
  });

  it('GetFreshness refuses a bad tenant_id', async () => {
    for (const tenantId of ['', 'not-a-uuid']) {
      const err = await call(srv.client, 'getFreshness', { tenantId }).then(
        () => undefined,
        (e: ServiceError) => e,
      );
      expect(err?.code).toBe(Status.INVALID_ARGUMENT);
      expect(err?.details).toMatch(/tenant_id/);
    }
  });
});

test('every event is counted exactly once across a NATS crash and restart', async () => {
  const nats = await spawnNatsServer();
  const pm = new EventNames('pm', 'PM');
  const nc = await connectNats({ url: nats.url, name: 'analytics-restart-test', logger });
  let consumer: EventConsumer | undefined;
  try {
    const a = attribution();
    const first = Array.from({ length: 40 }, () => recorded(ref(a)));
    await declareStream(nc, pm);
    await publish(first, { nc, names: pm });
    const counter = countingInsert();
    let inserted = 0;
    consumer = await startConsumer({
      nc,
      names: pm,
      durable: 'analytics-metadata-events',
      maxBatch: 5,
      ackWaitMs: 2_000,
      // Slow inserts, so the crash comes while batches are in flight.
      insert: async (store, rows) => {
        await new Promise((r) => setTimeout(r, 150));
        await counter.insert(store, rows);
        inserted += rows.length;
      },
    });
    await waitFor('some batches stored', async () => inserted, (n) => n >= 10);
    await nats.kill();
    await new Promise((r) => setTimeout(r, 1_500));
    await nats.start();
    // Published after the restart, on the reconnected connection.
    const second = Array.from({ length: 20 }, () => recorded(ref(a)));
    await waitFor('reconnected', async () => publish(second, { nc, names: pm }).then(() => true, () => false), (ok) => ok, 30_000);
    await waitFor('all 60 sent', () => campaignTotals(a), (t) => t.sent === 60n, 60_000);
    const rows = await finalRows(a.tenantId);
    expect(rows).toHaveLength(60);
    expect(new Set(rows.map((r) => r.message_ref_id)).size).toBe(60);
    const expected = new Set([...first, ...second].map((e) => metadataV1.MessageRecorded.decode(e.envelope.payload).message!.id));
    expect(new Set(rows.map((r) => r.message_ref_id))).toEqual(expected);
  } finally {
    await consumer?.stop();
    await nc.close().catch(() => undefined);
    await nats.cleanup();
  }
}, 120_000);
