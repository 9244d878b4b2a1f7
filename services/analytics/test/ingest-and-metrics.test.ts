import { analyticsV1, commonV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { freshStore, rawRowCount, startServer, uuid, type TestServer, type TestStore } from './harness';

const T = analyticsV1.EmailEventType;

let db: TestStore;
let srv: TestServer;

beforeAll(async () => {
  db = await freshStore();
  srv = await startServer(db.store);
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

/** One campaign with two steps sent from two mailboxes, over two days. */
function scenario() {
  const tenantId = uuid();
  const campaignId = uuid();
  const [step1, step2] = [uuid(), uuid()];
  const [mailboxA, mailboxB] = [uuid(), uuid()];
  // Five messages: the step-2 follow-up is a message of its own (a fact such as `sent` is one per
  // message ref, whichever path reports it).
  const msgs = Array.from({ length: 5 }, () => uuid());
  const day1 = (h: number) => new Date(Date.UTC(2025, 0, 10, h));
  const day2 = (h: number) => new Date(Date.UTC(2025, 0, 11, h));
  const ev = (eventType: analyticsV1.EmailEventType, occurredAt: Date, msg: number, stepId: string, mailbox: string): analyticsV1.EmailEvent => ({
    eventId: uuid(),
    eventType,
    occurredAt,
    campaignId,
    emailAccountId: mailbox,
    sequenceStepId: stepId,
    leadId: uuid(),
    messageRefId: msgs[msg],
    bounceType: commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED, variant: '',
  });
  const events: analyticsV1.EmailEvent[] = [
    // day 1: step 1, four messages from two mailboxes
    ev(T.EMAIL_EVENT_TYPE_SENT, day1(8), 0, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_SENT, day1(8), 1, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_SENT, day1(9), 2, step1, mailboxB),
    ev(T.EMAIL_EVENT_TYPE_SENT, day1(9), 3, step1, mailboxB),
    ev(T.EMAIL_EVENT_TYPE_DELIVERED, day1(8), 0, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_DELIVERED, day1(8), 1, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_DELIVERED, day1(9), 2, step1, mailboxB),
    ev(T.EMAIL_EVENT_TYPE_BOUNCED, day1(9), 3, step1, mailboxB),
    // message 0 opened three times (twice on day 1), clicked once
    ev(T.EMAIL_EVENT_TYPE_OPENED, day1(10), 0, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_OPENED, day1(11), 0, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_OPENED, day2(7), 0, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_CLICKED, day1(11), 0, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_OPENED, day2(9), 2, step1, mailboxB),
    // day 2: replies and a step-2 follow-up
    ev(T.EMAIL_EVENT_TYPE_REPLIED, day2(10), 0, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_UNSUBSCRIBED, day2(11), 1, step1, mailboxA),
    ev(T.EMAIL_EVENT_TYPE_SENT, day2(12), 4, step2, mailboxB),
  ];
  return { tenantId, campaignId, step1, step2, mailboxA, mailboxB, events, day1, day2 };
}

describe('IngestEvents → Get*Metrics', () => {
  it('counts exactly, per day and in total, for campaign, mailbox and step', async () => {
    const s = scenario();
    const res = await call(srv.client, 'ingestEvents', { durability: 0, tenantId: s.tenantId, events: s.events });
    expect(res.acceptedCount).toBe(16);

    const { report } = await call(srv.client, 'getCampaignMetrics', { tenantId: s.tenantId, campaignId: s.campaignId });
    expect(report!.totals).toMatchObject({
      sent: 5n,
      delivered: 3n,
      opened: 4n,
      clicked: 1n,
      replied: 1n,
      bounced: 1n,
      unsubscribed: 1n,
      complained: 0n,
      uniqueOpened: 2n,
      uniqueClicked: 1n,
    });
    expect(report!.totals!.deliveryRate).toBeCloseTo(3 / 5);
    expect(report!.totals!.openRate).toBeCloseTo(2 / 5);
    expect(report!.totals!.bounceRate).toBeCloseTo(1 / 5);
    expect(report!.daily.map((d) => d.date)).toEqual(['2025-01-10', '2025-01-11']);
    expect(report!.daily[0].metrics).toMatchObject({ sent: 4n, delivered: 3n, bounced: 1n, opened: 2n, clicked: 1n, uniqueOpened: 1n });
    // Unique opens are FIRST opens (migration 006): day 2 has two opens, of two messages, but one
    // of them was first opened on day 1 — so a day's unique opens add up to the range's.
    expect(report!.daily[1].metrics).toMatchObject({ sent: 1n, opened: 2n, replied: 1n, unsubscribed: 1n, uniqueOpened: 1n });
    expect(report!.totals!.uniqueOpened).toBe(report!.daily[0].metrics!.uniqueOpened + report!.daily[1].metrics!.uniqueOpened);

    const mailboxB = await call(srv.client, 'getMailboxMetrics', { tenantId: s.tenantId, emailAccountId: s.mailboxB });
    expect(mailboxB.report!.totals).toMatchObject({ sent: 3n, delivered: 1n, bounced: 1n, opened: 1n, replied: 0n });

    const step2 = await call(srv.client, 'getSequenceStepMetrics', { tenantId: s.tenantId, sequenceStepId: s.step2 });
    expect(step2.report!.totals).toMatchObject({ sent: 1n, delivered: 0n, opened: 0n });
    expect(step2.report!.daily).toHaveLength(1);
  });

  it('filters on the half-open time range [start, end)', async () => {
    const s = scenario();
    await call(srv.client, 'ingestEvents', { durability: 0, tenantId: s.tenantId, events: s.events });
    // start of day 1 up to (not including) 10:00 on day 1: the sends, deliveries, bounce
    const { report } = await call(srv.client, 'getCampaignMetrics', {
      tenantId: s.tenantId,
      campaignId: s.campaignId,
      timeRange: { start: s.day1(0), end: s.day1(10) },
    });
    expect(report!.totals).toMatchObject({ sent: 4n, delivered: 3n, bounced: 1n, opened: 0n });
    expect(report!.daily.map((d) => d.date)).toEqual(['2025-01-10']);
  });

  it('does not count an event twice: repeats in a batch, redelivered batches, a retried call', async () => {
    const s = scenario();
    // Hold background merges: what the raw table holds below is what was written, not what a
    // merge left.
    await db.store.client.command({ query: `system stop merges ${db.store.table('events')}` });
    const first = await call(srv.client, 'ingestEvents', { durability: 0, tenantId: s.tenantId, events: [...s.events, s.events[0], s.events[8]] });
    expect(first.acceptedCount).toBe(16);
    // The same batch again (a redelivery), and part of it a third time.
    await call(srv.client, 'ingestEvents', { durability: 0, tenantId: s.tenantId, events: s.events });
    await call(srv.client, 'ingestEvents', { durability: 0, tenantId: s.tenantId, events: s.events.slice(0, 5) });
    // The copies were never written (the writer looked their ids up): 16 events, plus the first
    // open of each of the 2 opened messages and the first click of the clicked one (their facts).
    expect(await rawRowCount(db.store, s.tenantId)).toBe(16 + 3);

    // The metrics count each event once.
    const { report } = await call(srv.client, 'getCampaignMetrics', { tenantId: s.tenantId, campaignId: s.campaignId });
    expect(report!.totals).toMatchObject({ sent: 5n, delivered: 3n, opened: 4n, clicked: 1n, replied: 1n, bounced: 1n, unsubscribed: 1n });
    expect(report!.daily[0].metrics).toMatchObject({ sent: 4n, delivered: 3n });

    // The seed-named views agree with the RPC (same counting, same dedup).
    const rows = await (
      await db.store.client.query({
        query: `select sum(sent) as sent, sum(opened) as opened from ${db.store.table('campaign_analytics')} where tenant_id = {t:UUID} and campaign_id = {c:UUID}`,
        query_params: { t: s.tenantId, c: s.campaignId },
        format: 'JSONEachRow',
      })
    ).json<{ sent: number; opened: number }>();
    expect(rows.map((r) => ({ sent: Number(r.sent), opened: Number(r.opened) }))).toEqual([{ sent: 5, opened: 4 }]);

    // And a merge changes nothing.
    await db.store.client.command({ query: `system start merges ${db.store.table('events')}` });
    await db.store.client.command({ query: `optimize table ${db.store.table('events')} final` });
    expect(await rawRowCount(db.store, s.tenantId)).toBe(16 + 3);
    const again = await call(srv.client, 'getCampaignMetrics', { tenantId: s.tenantId, campaignId: s.campaignId });
    expect(again.report!.totals).toEqual(report!.totals);
  });

  it('keeps tenants apart: tenant B sees none of tenant A numbers', async () => {
    const a = scenario();
    await call(srv.client, 'ingestEvents', { durability: 0, tenantId: a.tenantId, events: a.events });
    const tenantB = uuid();
    // B asks about A's campaign, mailbox and step ids.
    const campaign = await call(srv.client, 'getCampaignMetrics', { tenantId: tenantB, campaignId: a.campaignId });
    const mailbox = await call(srv.client, 'getMailboxMetrics', { tenantId: tenantB, emailAccountId: a.mailboxA });
    const step = await call(srv.client, 'getSequenceStepMetrics', { tenantId: tenantB, sequenceStepId: a.step1 });
    for (const r of [campaign.report!, mailbox.report!, step.report!]) {
      expect(r.totals).toMatchObject({ sent: 0n, delivered: 0n, opened: 0n, clicked: 0n, replied: 0n, bounced: 0n, openRate: 0 });
      expect(r.daily).toEqual([]);
    }
    // B ingesting events that reuse A's event ids does not touch A's numbers either.
    await call(srv.client, 'ingestEvents', {
      durability: 0,
      tenantId: tenantB,
      events: a.events.slice(0, 2).map((e) => ({ ...e, eventType: T.EMAIL_EVENT_TYPE_COMPLAINED })),
    });
    const again = await call(srv.client, 'getCampaignMetrics', { tenantId: a.tenantId, campaignId: a.campaignId });
    expect(again.report!.totals).toMatchObject({ sent: 5n, complained: 0n });
    const bView = await call(srv.client, 'getCampaignMetrics', { tenantId: tenantB, campaignId: a.campaignId });
    expect(bView.report!.totals).toMatchObject({ sent: 0n, complained: 2n });
  });

  it('answers zeros, not NOT_FOUND, for an id it has no events for', async () => {
    const { report } = await call(srv.client, 'getCampaignMetrics', { tenantId: uuid(), campaignId: uuid() });
    expect(report!.totals).toMatchObject({ sent: 0n, deliveryRate: 0 });
    expect(report!.daily).toEqual([]);
  });
});
