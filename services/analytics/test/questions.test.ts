// Issue 10, part 2: the questions outreach teams ask. Each RPC: a success case, another
// tenant's ids answering nothing of theirs, and bad input → INVALID_ARGUMENT naming the field
// with nothing written (digest of every table before == after).
import { status, type ServiceError } from '@grpc/grpc-js';
import { analyticsV1, commonV1 } from '@penguinmails/contracts';
import { call, decodeStatus } from '@penguinmails/service-kit';
import { freshStore, startServer, storeDigest, uuid, type TestServer, type TestStore } from './harness';

const T = analyticsV1.EmailEventType;
const B = analyticsV1.TimeBucket;
const M = analyticsV1.CampaignMetric;
const H = analyticsV1.MailboxHealthStatus;

let db: TestStore;
let srv: TestServer;
beforeAll(async () => {
  db = await freshStore();
  srv = await startServer(db.store, { maxBatch: 1000, maxFutureMs: 60_000 });
});
afterAll(async () => {
  await srv?.close();
  await db?.drop();
});

const at = (d: number, h: number, m = 0) => new Date(Date.UTC(2025, 5, d, h, m)); // June 2025

/**
 * One tenant, two campaigns. Campaign 1: step 1 (variants A/B) sends 40 messages on June 2 at
 * 14:00 UTC from mailbox X; step 2 sends 10 on June 4 at 03:00 UTC from mailbox Y. Replies,
 * opens, clicks, bounces per message below. Campaign 2: 5 sends from mailbox Y, 1 reply.
 */
function world() {
  const tenantId = uuid();
  const c1 = uuid();
  const c2 = uuid();
  const [s1, s2, s3] = [uuid(), uuid(), uuid()];
  const [mx, my] = [uuid(), uuid()];
  const events: analyticsV1.EmailEvent[] = [];
  const ev = (type: analyticsV1.EmailEventType, when: Date, p: { c: string; s: string; m: string; msg: string; variant?: string; bounce?: commonV1.BounceType }) =>
    events.push({
      eventId: uuid(),
      eventType: type,
      occurredAt: when,
      campaignId: p.c,
      emailAccountId: p.m,
      sequenceStepId: p.s,
      leadId: '',
      messageRefId: p.msg,
      bounceType: p.bounce ?? 0,
      variant: p.variant ?? '',
    });
  for (let i = 0; i < 40; i++) {
    const p = { c: c1, s: s1, m: mx, msg: uuid() };
    const variant = i % 2 === 0 ? 'A' : 'B';
    ev(T.EMAIL_EVENT_TYPE_SENT, at(2, 14), { ...p, variant });
    if (i < 20) ev(T.EMAIL_EVENT_TYPE_OPENED, at(2, 15), p); // 10 A, 10 B; no variant on the open
    if (i < 8) ev(T.EMAIL_EVENT_TYPE_CLICKED, at(2, 16), p);
    if (i < 4) ev(T.EMAIL_EVENT_TYPE_REPLIED, at(2, 14 + 2 * (i + 1)), p); // after 2, 4, 6, 8 h; A and B alternate
    if (i >= 36) ev(T.EMAIL_EVENT_TYPE_BOUNCED, at(2, 14, 30), { ...p, bounce: i === 36 ? 2 : 1 }); // 4 bounces: 1 soft, 3 hard → 10 %
    if (i === 10) ev(T.EMAIL_EVENT_TYPE_AUTO_REPLIED, at(2, 20), p);
  }
  for (let i = 0; i < 10; i++) {
    const p = { c: c1, s: s2, m: my, msg: uuid() };
    ev(T.EMAIL_EVENT_TYPE_SENT, at(4, 3), p);
    if (i === 0) ev(T.EMAIL_EVENT_TYPE_REPLIED, at(4, 4), p);
  }
  for (let i = 0; i < 5; i++) {
    const p = { c: c2, s: s3, m: my, msg: uuid() };
    ev(T.EMAIL_EVENT_TYPE_SENT, at(3, 9), p);
    if (i === 0) ev(T.EMAIL_EVENT_TYPE_REPLIED, at(3, 10), p);
  }
  return { tenantId, c1, c2, s1, s2, s3, mx, my, events };
}

let w: ReturnType<typeof world>;
beforeAll(async () => {
  w = world();
  for (let i = 0; i < w.events.length; i += 500) await call(srv.client, 'ingestEvents', { durability: 0, tenantId: w.tenantId, events: w.events.slice(i, i + 500) });
});

const june = (from: number, to: number) => ({ start: at(from, 0), end: at(to, 0) });

async function refused(send: () => Promise<unknown>): Promise<string[]> {
  const before = await storeDigest(db.store);
  const err = await send().then(
    () => {
      throw new Error('expected INVALID_ARGUMENT, the call succeeded');
    },
    (e: ServiceError) => e,
  );
  const st = decodeStatus(err);
  expect(st.code).toBe(status.INVALID_ARGUMENT);
  expect(await storeDigest(db.store)).toBe(before);
  return st.fieldViolations.map((v) => v.field);
}

describe('GetTimeSeries', () => {
  it('day buckets in a time zone, empty days filled, totals over the range', async () => {
    const r = await call(srv.client, 'getTimeSeries', {
      tenantId: w.tenantId,
      campaignId: w.c1,
      sequenceStepId: '',
      emailAccountId: '',
      timeRange: june(1, 6),
      bucket: B.TIME_BUCKET_DAY,
      timeZone: 'Asia/Tokyo',
    });
    // June 1 00:00 UTC is June 1 09:00 in Tokyo; June 6 00:00 UTC is June 6 09:00: local days June 1..6.
    expect(r.points.map((p) => p.localStart)).toEqual(['2025-06-01', '2025-06-02', '2025-06-03', '2025-06-04', '2025-06-05', '2025-06-06']);
    expect(r.points[0].start).toEqual(new Date(Date.UTC(2025, 4, 31, 15))); // local midnight
    // June 2 14:00 UTC = June 2 23:00 Tokyo: the sends are on June 2, the replies 2..8 h later on June 3.
    expect(r.points[1].metrics).toMatchObject({ sent: 40n, bounced: 4n });
    expect(r.points[2].metrics).toMatchObject({ sent: 0n, replied: 4n, uniqueOpened: 20n });
    expect(r.points[3].metrics).toMatchObject({ sent: 10n, replied: 1n }); // June 4 03:00 UTC = 12:00 Tokyo
    expect(r.points[5].metrics).toMatchObject({ sent: 0n, replied: 0n });
    expect(r.totals).toMatchObject({ sent: 50n, replied: 5n, uniqueOpened: 20n, autoReplied: 1n });
  });

  it('hour buckets for a mailbox, every hour present', async () => {
    const r = await call(srv.client, 'getTimeSeries', {
      tenantId: w.tenantId,
      campaignId: '',
      sequenceStepId: '',
      emailAccountId: w.mx,
      timeRange: { start: at(2, 13, 30), end: at(2, 17) },
      bucket: B.TIME_BUCKET_HOUR,
      timeZone: '',
    });
    expect(r.points.map((p) => p.localStart)).toEqual(['2025-06-02 13:00', '2025-06-02 14:00', '2025-06-02 15:00', '2025-06-02 16:00']);
    expect(r.points.map((p) => Number(p.metrics!.sent))).toEqual([0, 40, 0, 0]);
    expect(r.points[3].metrics).toMatchObject({ clicked: 8n, replied: 1n });
  });

  it("another tenant's campaign is zeros", async () => {
    const r = await call(srv.client, 'getTimeSeries', { tenantId: uuid(), campaignId: w.c1, sequenceStepId: '', emailAccountId: '', timeRange: june(1, 3), bucket: B.TIME_BUCKET_DAY, timeZone: 'UTC' });
    expect(r.points).toHaveLength(2);
    expect(r.points.every((p) => p.metrics!.sent === 0n)).toBe(true);
  });

  const base = () => ({ tenantId: w.tenantId, campaignId: w.c1, sequenceStepId: '', emailAccountId: '', timeRange: june(1, 6), bucket: B.TIME_BUCKET_DAY, timeZone: 'UTC' });
  it.each([
    ['an unknown time zone', { timeZone: 'Mars/Olympus_Mons' }, ['time_zone']],
    ['a reversed range', { timeRange: { start: at(6, 0), end: at(1, 0) } }, ['time_range.end']],
    ['a missing range', { timeRange: undefined }, ['time_range.start', 'time_range.end']],
    ['an over-long range', { timeRange: { start: new Date(Date.UTC(2020, 0, 1)), end: at(1, 0) } }, ['time_range.end']],
    ['too many hour buckets', { bucket: B.TIME_BUCKET_HOUR, timeRange: { start: at(1, 0), end: new Date(Date.UTC(2025, 7, 1)) } }, ['time_range.end']],
    ['an unknown bucket', { bucket: 7 as analyticsV1.TimeBucket }, ['bucket']],
    ['no bucket', { bucket: B.TIME_BUCKET_UNSPECIFIED }, ['bucket']],
    ['two subjects', { emailAccountId: uuid() }, ['email_account_id']],
    ['no subject', { campaignId: '' }, ['campaign_id']],
  ])('%s → INVALID_ARGUMENT, nothing written', async (_what, patch, fields) => {
    expect(await refused(() => call(srv.client, 'getTimeSeries', { ...base(), ...patch }))).toEqual(fields);
  });
});

describe('GetStepFunnel', () => {
  it('steps in order with opens, clicks, replies and the drop-off to the next step', async () => {
    const r = await call(srv.client, 'getStepFunnel', { tenantId: w.tenantId, campaignId: w.c1, sequenceStepIds: [] });
    expect(r.steps.map((s) => s.sequenceStepId)).toEqual([w.s1, w.s2]);
    expect(r.steps[0]).toMatchObject({ sent: 40n, opened: 20n, clicked: 8n, replied: 4n, bounced: 4n, openRate: 0.5, replyRate: 0.1, dropOffRate: 0.75 });
    expect(r.steps[1]).toMatchObject({ sent: 10n, replied: 1n, dropOffRate: 0 });
    // The caller's order wins; a listed step without events is zeros.
    const empty = uuid();
    const ordered = await call(srv.client, 'getStepFunnel', { tenantId: w.tenantId, campaignId: w.c1, sequenceStepIds: [w.s2, empty, w.s1] });
    expect(ordered.steps.map((s) => [s.sequenceStepId, Number(s.sent)])).toEqual([[w.s2, 10], [empty, 0], [w.s1, 40]]);
  });
  it("another tenant's campaign has no steps", async () => {
    expect((await call(srv.client, 'getStepFunnel', { tenantId: uuid(), campaignId: w.c1, sequenceStepIds: [] })).steps).toEqual([]);
  });
  it('bad input', async () => {
    expect(await refused(() => call(srv.client, 'getStepFunnel', { tenantId: w.tenantId, campaignId: 'c1', sequenceStepIds: ['x'] }))).toEqual(['campaign_id', 'sequence_step_ids[0]']);
    expect(await refused(() => call(srv.client, 'getStepFunnel', { tenantId: w.tenantId, campaignId: w.c1, sequenceStepIds: [], timeRange: { start: at(3, 0), end: at(2, 0) } }))).toEqual(['time_range.end']);
  });
});

describe('mailbox health', () => {
  const asOf = at(3, 12); // 22 h after the step-1 sends
  it('one mailbox: 24 h volume against its limit, 28-day rates, the rule', async () => {
    const { health } = await call(srv.client, 'getMailboxHealth', { tenantId: w.tenantId, emailAccountId: w.mx, dailyLimit: 30, asOf });
    expect(health).toMatchObject({ sent24h: 40n, dailyLimit: 30, sent28d: 40n, bounced28d: 4n, hardBounced28d: 3n, softBounced28d: 1n, replied28d: 4n, autoReplied28d: 1n });
    expect(health!.bounceRate28d).toBeCloseTo(0.1);
    expect(health!.replyRate28d).toBeCloseTo(0.1);
    expect(health!.status).toBe(H.MAILBOX_HEALTH_STATUS_AT_RISK);
    expect(health!.reasons).toEqual(['bounce_rate', 'over_daily_limit']);
    // The rolling 24 h moves: 25 h later the sends have left it.
    const later = await call(srv.client, 'getMailboxHealth', { tenantId: w.tenantId, emailAccountId: w.mx, dailyLimit: 30, asOf: at(3, 14, 1) });
    expect(later.health).toMatchObject({ sent24h: 0n, sent28d: 40n });
  });
  it('ranked across the tenant, worst first', async () => {
    const r = await call(srv.client, 'listMailboxHealth', { tenantId: w.tenantId, dailyLimits: [{ emailAccountId: w.my, dailyLimit: 100 }], defaultDailyLimit: 0, asOf: at(5, 0), limit: 0 });
    expect(r.totalMailboxes).toBe(2);
    expect(r.mailboxes.map((m) => [m.emailAccountId, m.status])).toEqual([
      [w.mx, H.MAILBOX_HEALTH_STATUS_AT_RISK],
      [w.my, H.MAILBOX_HEALTH_STATUS_INSUFFICIENT_DATA], // 15 sends < 20
    ]);
    expect(r.mailboxes[1]).toMatchObject({ sent28d: 15n, dailyLimit: 100 });
  });
  it("another tenant's mailbox is zeros", async () => {
    const { health } = await call(srv.client, 'getMailboxHealth', { tenantId: uuid(), emailAccountId: w.mx, dailyLimit: 0, asOf });
    expect(health).toMatchObject({ sent24h: 0n, sent28d: 0n, status: H.MAILBOX_HEALTH_STATUS_INSUFFICIENT_DATA });
    expect((await call(srv.client, 'listMailboxHealth', { tenantId: uuid(), dailyLimits: [], defaultDailyLimit: 0, limit: 10 })).mailboxes).toEqual([]);
  });
  it('bad input', async () => {
    expect(await refused(() => call(srv.client, 'getMailboxHealth', { tenantId: w.tenantId, emailAccountId: '', dailyLimit: 0, asOf: new Date(Date.now() + 86_400_000) }))).toEqual([
      'email_account_id',
      'as_of',
    ]);
    expect(await refused(() => call(srv.client, 'listMailboxHealth', { tenantId: w.tenantId, dailyLimits: [{ emailAccountId: 'mx', dailyLimit: 1 }], defaultDailyLimit: 0, limit: 501 }))).toEqual([
      'daily_limits[0].email_account_id',
      'limit',
    ]);
  });
});

describe('GetTopCampaigns', () => {
  it('ranks by the chosen metric, rates over sent with a minimum volume', async () => {
    const bySent = await call(srv.client, 'getTopCampaigns', { tenantId: w.tenantId, timeRange: june(1, 6), metric: M.CAMPAIGN_METRIC_SENT, limit: 0, minSent: 0 });
    expect(bySent.campaigns.map((c) => [c.campaignId, c.value])).toEqual([[w.c1, 50], [w.c2, 5]]);
    const byRate = await call(srv.client, 'getTopCampaigns', { tenantId: w.tenantId, timeRange: june(1, 6), metric: M.CAMPAIGN_METRIC_REPLY_RATE, limit: 1, minSent: 0 });
    expect(byRate.campaigns.map((c) => [c.campaignId, c.value])).toEqual([[w.c2, 0.2]]);
    const minSent = await call(srv.client, 'getTopCampaigns', { tenantId: w.tenantId, timeRange: june(1, 6), metric: M.CAMPAIGN_METRIC_REPLY_RATE, limit: 5, minSent: 10 });
    expect(minSent.campaigns.map((c) => c.campaignId)).toEqual([w.c1]);
    expect(minSent.campaigns[0].metrics).toMatchObject({ sent: 50n, replied: 5n });
  });
  it('another tenant has none of them', async () => {
    expect((await call(srv.client, 'getTopCampaigns', { tenantId: uuid(), timeRange: june(1, 6), metric: M.CAMPAIGN_METRIC_SENT, limit: 10, minSent: 0 })).campaigns).toEqual([]);
  });
  it.each([
    ['an unknown metric', { metric: 99 as analyticsV1.CampaignMetric }, ['metric']],
    ['no metric', { metric: M.CAMPAIGN_METRIC_UNSPECIFIED }, ['metric']],
    ['a limit over 100', { limit: 101 }, ['limit']],
    ['a reversed range', { timeRange: { start: at(5, 0), end: at(1, 0) } }, ['time_range.end']],
  ])('%s → INVALID_ARGUMENT', async (_w, patch, fields) => {
    expect(await refused(() => call(srv.client, 'getTopCampaigns', { tenantId: w.tenantId, timeRange: june(1, 6), metric: M.CAMPAIGN_METRIC_SENT, limit: 10, minSent: 0, ...patch }))).toEqual(fields);
  });
});

describe('GetReplyTiming', () => {
  it('p50/p90 time to first reply, reply rate by send weekday and hour in a zone', async () => {
    const r = await call(srv.client, 'getReplyTiming', { tenantId: w.tenantId, campaignId: w.c1, timeRange: june(1, 6), timeZone: 'America/New_York' });
    expect(r).toMatchObject({ sent: 50n, replied: 5n });
    // Replies after 2, 4, 6, 8 h (step 1) and 1 h (step 2): p50 = 4 h, p90 = 8 h (exact quantiles).
    expect(r.firstReplyP50Seconds).toBe(4 * 3600);
    expect(r.firstReplyP90Seconds).toBe(8 * 3600);
    // June 2 14:00 UTC = Monday 10:00 in New York; June 4 03:00 UTC = Tuesday 23:00.
    expect(r.bySendHour.map((c) => [c.weekday, c.hour, Number(c.sent), Number(c.replied)])).toEqual([
      [1, 10, 40, 4],
      [2, 23, 10, 1],
    ]);
    expect(r.bySendHour[0].replyRate).toBeCloseTo(0.1);
  });
  it('the whole tenant when no campaign is given; another tenant gets nothing', async () => {
    expect((await call(srv.client, 'getReplyTiming', { tenantId: w.tenantId, campaignId: '', timeRange: june(1, 6), timeZone: '' })).sent).toBe(55n);
    const other = await call(srv.client, 'getReplyTiming', { tenantId: uuid(), campaignId: w.c1, timeRange: june(1, 6), timeZone: '' });
    expect(other).toMatchObject({ sent: 0n, replied: 0n, firstReplyP50Seconds: 0, bySendHour: [] });
  });
  it('bad input', async () => {
    expect(await refused(() => call(srv.client, 'getReplyTiming', { tenantId: w.tenantId, campaignId: 'x', timeRange: june(1, 6), timeZone: 'Nowhere/City' }))).toEqual(['campaign_id', 'time_zone']);
  });
});

describe('GetVariantMetrics', () => {
  it('per step and variant; opens and replies without a variant count for their message', async () => {
    const r = await call(srv.client, 'getVariantMetrics', { tenantId: w.tenantId, campaignId: w.c1, sequenceStepId: w.s1 });
    expect(r.variants.map((v) => [v.variant, Number(v.sent), Number(v.opened), Number(v.clicked), Number(v.replied), Number(v.bounced)])).toEqual([
      ['A', 20, 10, 4, 2, 2],
      ['B', 20, 10, 4, 2, 2],
    ]);
    expect(r.variants[0].replyRate).toBeCloseTo(0.1);
    const all = await call(srv.client, 'getVariantMetrics', { tenantId: w.tenantId, campaignId: w.c1, sequenceStepId: '' });
    expect(all.variants).toHaveLength(3); // step 2 without a variant: ''
  });
  it('another tenant gets nothing; bad input', async () => {
    expect((await call(srv.client, 'getVariantMetrics', { tenantId: uuid(), campaignId: w.c1, sequenceStepId: '' })).variants).toEqual([]);
    expect(await refused(() => call(srv.client, 'getVariantMetrics', { tenantId: w.tenantId, campaignId: '', sequenceStepId: 'nope' }))).toEqual(['campaign_id', 'sequence_step_id']);
  });
  it('IngestEvents refuses an over-long variant', async () => {
    const e = { ...w.events[0], eventId: uuid(), variant: 'x'.repeat(65) };
    expect(await refused(() => call(srv.client, 'ingestEvents', { durability: 0, tenantId: w.tenantId, events: [e] }))).toEqual(['events[0].variant']);
  });
});
