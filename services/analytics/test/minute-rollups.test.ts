// Migration 007: the minute level of the rollups. A range that cuts hours is answered from the
// hourly rollup for its whole hours and the minute rollup for the rest, without reading the raw
// `events`; its bounds are exact to the minute (a minute counts when it starts inside the
// range). Checked against the raw events themselves (sum of sign), after redeliveries and
// replaced copies (cancellation rows), and for the backfill of 007 and its rerun.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsV1, commonV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { mulberry32 } from '@penguinmails/testkit';
import { insertEvents, type EventRow } from '../src/db/insert-events';
import { MIGRATIONS_DIR, migrateClickHouse, withDatabase } from '../src/db/migrate';
import { RAW_COUNT_ARRAY, chTime, readCounts, type CountsRow } from '../src/db/rollup-source';
import { splitStatements } from '../src/db/split-statements';
import { storeEvents } from '../src/domain/events';
import { freshStore, startServer, uuid, type TestServer, type TestStore } from './harness';

const T = analyticsV1.EmailEventType;
const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

type Store = TestStore['store'];
type IdCol = 'campaign_id' | 'email_account_id' | 'sequence_step_id';

/** The raw answer: the sums of sign over `events` in [start, end) (what every count is). */
async function raw(store: Store, tenantId: string, col: IdCol, id: string, start: Date, end: Date): Promise<CountsRow> {
  const [r] = await (
    await store.client.query({
      query: `select sumForEach(${RAW_COUNT_ARRAY}) as n_counts from ${store.table('events')}
              where tenant_id = {t:UUID} and ${col} = {id:UUID} and occurred_at >= {s:DateTime64(3, 'UTC')} and occurred_at < {e:DateTime64(3, 'UTC')}`,
      query_params: { t: tenantId, id, s: chTime(start), e: chTime(end) },
      format: 'JSONEachRow',
    })
  ).json<Record<string, unknown>>();
  return readCounts(r);
}

/** An RPC report's totals as the same numbers. */
function fromReport(t: analyticsV1.EmailMetrics | undefined): CountsRow {
  const n = (v: bigint | undefined) => Number(v ?? 0n);
  return {
    sent: n(t?.sent),
    delivered: n(t?.delivered),
    opened: n(t?.opened),
    clicked: n(t?.clicked),
    replied: n(t?.replied),
    bounced: n(t?.bounced),
    unsubscribed: n(t?.unsubscribed),
    complained: n(t?.complained),
    unique_opened: n(t?.uniqueOpened),
    unique_clicked: n(t?.uniqueClicked),
    hard_bounced: n(t?.hardBounced),
    soft_bounced: n(t?.softBounced),
    auto_replied: n(t?.autoReplied),
  };
}

interface World {
  tenantId: string;
  base: Date;
  campaigns: string[];
  steps: string[][];
  mailboxes: string[];
  events: analyticsV1.EmailEvent[];
}

/** ~400 events over 6 hours from a whole hour 5 days ago, at random milliseconds. */
function world(seed: number): World {
  const r = mulberry32(seed);
  const base = new Date(Math.floor((Date.now() - 5 * DAY) / HOUR) * HOUR);
  const campaigns = [uuid(), uuid()];
  const steps = campaigns.map(() => [uuid(), uuid()]);
  const mailboxes = [uuid(), uuid(), uuid()];
  const events: analyticsV1.EmailEvent[] = [];
  for (let m = 0; m < 150; m++) {
    const c = Math.floor(r() * 2);
    const msg = uuid();
    const sentAt = base.getTime() + Math.floor(r() * 5 * HOUR);
    const ev = (eventType: analyticsV1.EmailEventType, at: number, bounceType = commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED) =>
      events.push({
        eventId: uuid(),
        eventType,
        occurredAt: new Date(at),
        campaignId: campaigns[c],
        emailAccountId: mailboxes[Math.floor(r() * 3)],
        sequenceStepId: steps[c][Math.floor(r() * 2)],
        leadId: '',
        messageRefId: msg,
        bounceType,
        variant: '',
      });
    ev(T.EMAIL_EVENT_TYPE_SENT, sentAt);
    if (r() < 0.1) ev(T.EMAIL_EVENT_TYPE_BOUNCED, sentAt + Math.floor(r() * 20 * MIN), r() < 0.5 ? commonV1.BounceType.BOUNCE_TYPE_SOFT : commonV1.BounceType.BOUNCE_TYPE_HARD);
    for (let k = Math.floor(r() * 3); k > 0; k--) ev(T.EMAIL_EVENT_TYPE_OPENED, sentAt + Math.floor(r() * 50 * MIN));
    if (r() < 0.3) ev(T.EMAIL_EVENT_TYPE_CLICKED, sentAt + Math.floor(r() * 50 * MIN));
    if (r() < 0.2) ev(T.EMAIL_EVENT_TYPE_REPLIED, sentAt + Math.floor(r() * 55 * MIN));
  }
  return { tenantId: uuid(), base, campaigns, steps, mailboxes, events };
}

async function ingest(srv: TestServer, w: World) {
  for (let i = 0; i < w.events.length; i += 100) await call(srv.client, 'ingestEvents', { durability: 0, tenantId: w.tenantId, events: w.events.slice(i, i + 100) });
}

/** Ranges in whole minutes from the world's base: whole hours, cut on one or both sides, inside one hour, one minute, and seeded random ones. */
function ranges(w: World): [Date, Date][] {
  const r = mulberry32(7);
  const pairs: [number, number][] = [[0, 360], [7, 359], [60, 120], [61, 119], [61, 62], [13, 47], [59, 61], [125, 245], [0, 1], [299, 300]];
  for (let i = 0; i < 12; i++) {
    const a = Math.floor(r() * 360);
    pairs.push([a, a + 1 + Math.floor(r() * (360 - a))]);
  }
  return pairs.map(([a, b]) => [new Date(w.base.getTime() + a * MIN), new Date(w.base.getTime() + b * MIN)]);
}

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

describe('the minute level (migration 007)', () => {
  it('a range cutting hours at minute bounds equals the raw-event answer, for campaign, mailbox and step, after redeliveries and replaced copies', async () => {
    const w = world(1);
    await ingest(srv, w);
    await ingest(srv, w); // a redelivery: counted once
    // A bounce reported first without its type (a status change), then by the bounce message
    // (soft): a cancellation row (sign -1) and the new copy, in every level.
    const bounced = w.events.find((e) => e.eventType === T.EMAIL_EVENT_TYPE_SENT)!;
    const at = new Date(bounced.occurredAt!.getTime() + 90_500);
    const fact = { tenantId: w.tenantId, eventId: uuid(), type: 'bounced' as const, occurredAt: at, campaignId: bounced.campaignId, emailAccountId: bounced.emailAccountId, sequenceStepId: bounced.sequenceStepId, messageRefId: bounced.messageRefId };
    // Merges held so the cancellation row is still there to be seen (a merge collapses the pair).
    await db.store.client.command({ query: `system stop merges ${db.store.table('events')}` });
    await storeEvents(db.store, [{ ...fact, source: 'status_change' }]);
    await storeEvents(db.store, [{ ...fact, eventId: uuid(), source: 'message', bounceType: 'soft', occurredAt: new Date(at.getTime() + 61_000) }]);
    const [{ cancels }] = await (
      await db.store.client.query({ query: `select countIf(sign = -1) as cancels from ${db.store.table('events')} where tenant_id = {t:UUID}`, query_params: { t: w.tenantId }, format: 'JSONEachRow' })
    ).json<{ cancels: number | string }>();
    expect(Number(cancels)).toBeGreaterThanOrEqual(1);
    await db.store.client.command({ query: `system start merges ${db.store.table('events')}` });

    let nonEmpty = 0;
    for (const [start, end] of ranges(w)) {
      const timeRange = { start, end };
      for (const c of w.campaigns) {
        const want = await raw(db.store, w.tenantId, 'campaign_id', c, start, end);
        if (want.sent + want.opened > 0) nonEmpty++;
        expect([start, fromReport((await call(srv.client, 'getCampaignMetrics', { tenantId: w.tenantId, campaignId: c, timeRange })).report!.totals)]).toEqual([start, want]);
      }
      for (const m of w.mailboxes)
        expect(fromReport((await call(srv.client, 'getMailboxMetrics', { tenantId: w.tenantId, emailAccountId: m, timeRange })).report!.totals)).toEqual(
          await raw(db.store, w.tenantId, 'email_account_id', m, start, end),
        );
      const s = w.steps[0][1];
      expect(fromReport((await call(srv.client, 'getSequenceStepMetrics', { tenantId: w.tenantId, sequenceStepId: s, timeRange })).report!.totals)).toEqual(
        await raw(db.store, w.tenantId, 'sequence_step_id', s, start, end),
      );
    }
    expect(nonEmpty).toBeGreaterThan(20); // the ranges did count something

    // The mailbox questions: rolling windows ending inside an hour, and an hourly series cut at both ends.
    const asOf = new Date(w.base.getTime() + 200 * MIN);
    for (const m of w.mailboxes) {
      const { health } = await call(srv.client, 'getMailboxHealth', { tenantId: w.tenantId, emailAccountId: m, dailyLimit: 0, asOf });
      const d28 = await raw(db.store, w.tenantId, 'email_account_id', m, new Date(asOf.getTime() - 28 * DAY), asOf);
      const d1 = await raw(db.store, w.tenantId, 'email_account_id', m, new Date(asOf.getTime() - DAY), asOf);
      expect(health).toMatchObject({ sent24h: BigInt(d1.sent), sent28d: BigInt(d28.sent), bounced28d: BigInt(d28.bounced), softBounced28d: BigInt(d28.soft_bounced), replied28d: BigInt(d28.replied) });
      const start = new Date(w.base.getTime() + 17 * MIN);
      const end = new Date(w.base.getTime() + 283 * MIN);
      const series = await call(srv.client, 'getTimeSeries', { tenantId: w.tenantId, campaignId: '', sequenceStepId: '', emailAccountId: m, timeRange: { start, end }, bucket: analyticsV1.TimeBucket.TIME_BUCKET_HOUR, timeZone: 'UTC' });
      expect(series.points).toHaveLength(5);
      for (const p of series.points) {
        const h = p.start!.getTime();
        const want = await raw(db.store, w.tenantId, 'email_account_id', m, new Date(Math.max(h, start.getTime())), new Date(Math.min(h + HOUR, end.getTime())));
        expect([h, Number(p.metrics!.sent), Number(p.metrics!.opened), Number(p.metrics!.bounced)]).toEqual([h, want.sent, want.opened, want.bounced]);
      }
    }
  });

  it('sub-minute bounds: a minute counts when it starts inside the range', async () => {
    const w = world(2);
    const c = w.campaigns[0];
    const t = (min: number, s: number) => new Date(w.base.getTime() + min * MIN + s * 1000);
    const ev = (occurredAt: Date) => ({ eventId: uuid(), eventType: T.EMAIL_EVENT_TYPE_SENT, occurredAt, campaignId: c, emailAccountId: w.mailboxes[0], sequenceStepId: '', leadId: '', messageRefId: '', bounceType: 0, variant: '' });
    await call(srv.client, 'ingestEvents', { durability: 0, tenantId: w.tenantId, events: [ev(t(70, 10)), ev(t(70, 50)), ev(t(75, 20))] });
    const sent = async (start: Date, end: Date) => Number((await call(srv.client, 'getCampaignMetrics', { tenantId: w.tenantId, campaignId: c, timeRange: { start, end } })).report!.totals!.sent);
    expect(await sent(t(70, 0), t(76, 0))).toBe(3);
    // Minute 70 starts before 70:30: neither of its events counts; 71 onwards does.
    expect(await sent(t(70, 30), t(76, 0))).toBe(1);
    // Minute 75 starts before 75:05 (inside the range): its event at 75:20 counts.
    expect(await sent(t(60, 0), t(75, 5))).toBe(3);
    expect(await sent(t(60, 0), t(75, 0))).toBe(2);
  });

  it('no question that reads rollups reads the raw events any more: the same answers with `events` emptied', async () => {
    const own = await freshStore();
    try {
      const ownSrv = await startServer(own.store);
      const w = world(3);
      await ingest(ownSrv, w);
      const asOf = new Date(w.base.getTime() + 200 * MIN);
      const timeRange = { start: new Date(w.base.getTime() + 17 * MIN), end: new Date(w.base.getTime() + 283 * MIN) };
      const ask = () =>
        Promise.all([
          call(ownSrv.client, 'getMailboxHealth', { tenantId: w.tenantId, emailAccountId: w.mailboxes[0], dailyLimit: 0, asOf }),
          call(ownSrv.client, 'listMailboxHealth', { tenantId: w.tenantId, dailyLimits: [], defaultDailyLimit: 0, asOf, limit: 0 }),
          call(ownSrv.client, 'getTimeSeries', { tenantId: w.tenantId, campaignId: '', sequenceStepId: '', emailAccountId: w.mailboxes[1], timeRange, bucket: analyticsV1.TimeBucket.TIME_BUCKET_HOUR, timeZone: 'UTC' }),
          call(ownSrv.client, 'getCampaignMetrics', { tenantId: w.tenantId, campaignId: w.campaigns[0], timeRange }),
          call(ownSrv.client, 'getStepFunnel', { tenantId: w.tenantId, campaignId: w.campaigns[1], sequenceStepIds: [], timeRange }),
          call(ownSrv.client, 'getTopCampaigns', { tenantId: w.tenantId, timeRange, metric: analyticsV1.CampaignMetric.CAMPAIGN_METRIC_OPEN_RATE, limit: 10, minSent: 1 }),
        ]);
      const before = await ask();
      expect(Number(before[0].health!.sent28d)).toBeGreaterThan(0);
      await own.store.client.command({ query: `truncate table ${own.store.table('events')}` });
      expect(await ask()).toEqual(before);
      await ownSrv.close();
    } finally {
      await own.drop();
    }
  });
});

describe('migration 007 backfills the minute level from the stored events', () => {
  it('counts what was stored before it (cancellations included), exactly, and a rerun (also of a half-applied run) changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pm-analytics-007-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    rmSync(join(dir, '007_minute_rollups.sql'));
    const old = await freshStore({ migrationsDir: dir });
    try {
      const w = world(4);
      const NIL = '00000000-0000-0000-0000-000000000000';
      const TYPES = ['', 'sent', 'delivered', 'opened', 'clicked', 'replied', 'bounced'];
      const rows: EventRow[] = w.events.map((e) => ({
        event_id: e.eventId,
        tenant_id: w.tenantId,
        occurred_at: chTime(e.occurredAt!),
        event_type: TYPES[e.eventType],
        campaign_id: e.campaignId,
        email_account_id: e.emailAccountId,
        sequence_step_id: e.sequenceStepId,
        lead_id: NIL,
        message_ref_id: e.messageRefId,
        bounce_type: e.bounceType === commonV1.BounceType.BOUNCE_TYPE_SOFT ? 'soft' : '',
        variant: '',
        detail_rank: 2,
        sign: 1,
      }));
      // What the 006 writer leaves when a copy knows more: the stored row again with sign -1 and its replacement.
      const replaced = rows[0];
      const better = { ...replaced, occurred_at: chTime(new Date(w.base.getTime() + 333 * MIN + 1234)), detail_rank: 3 };
      await insertEvents(old.store, rows);
      await insertEvents(old.store, [{ ...replaced, sign: -1 }, better]);

      expect((await migrateClickHouse({ store: old.store })).applied).toEqual(['007_minute_rollups']);
      const minuteRows = async () => {
        const [r] = await (
          await old.store.client.query({
            query: `select (select count() from ${old.store.table('campaign_minutely')}) as c, (select count() from ${old.store.table('mailbox_minutely')}) as m, (select count() from ${old.store.table('sequence_step_minutely')}) as s`,
            format: 'JSONEachRow',
          })
        ).json<Record<string, number | string>>();
        return Object.values(r).map(Number);
      };
      const check = async () => {
        const oldSrv = await startServer(old.store);
        try {
          for (const [start, end] of ranges(w).concat([[new Date(w.base.getTime() + 330 * MIN), new Date(w.base.getTime() + 340 * MIN)]])) {
            const timeRange = { start, end };
            const c = replaced.campaign_id;
            expect(fromReport((await call(oldSrv.client, 'getCampaignMetrics', { tenantId: w.tenantId, campaignId: c, timeRange })).report!.totals)).toEqual(
              await raw(old.store, w.tenantId, 'campaign_id', c, start, end),
            );
            const m = w.mailboxes[0];
            expect(fromReport((await call(oldSrv.client, 'getMailboxMetrics', { tenantId: w.tenantId, emailAccountId: m, timeRange })).report!.totals)).toEqual(
              await raw(old.store, w.tenantId, 'email_account_id', m, start, end),
            );
            const s = w.steps[1][0];
            expect(fromReport((await call(oldSrv.client, 'getSequenceStepMetrics', { tenantId: w.tenantId, sequenceStepId: s, timeRange })).report!.totals)).toEqual(
              await raw(old.store, w.tenantId, 'sequence_step_id', s, start, end),
            );
          }
        } finally {
          await oldSrv.close();
        }
      };
      await check();
      const after = await minuteRows();
      expect(after.every((n) => n > 0)).toBe(true);

      const rerun = async () => {
        for (const statement of splitStatements(withDatabase(readFileSync(join(MIGRATIONS_DIR, '007_minute_rollups.sql'), 'utf8'), old.store.database)))
          await old.store.client.command({ query: statement });
      };
      // Every statement once more: nothing to add (not even a row of zeros).
      await rerun();
      expect(await minuteRows()).toEqual(after);
      await check();
      // A half-applied backfill (some minutes of the campaign level missing): the rerun completes it.
      await old.store.client.command({ query: `alter table ${old.store.table('campaign_minutely')} delete where minute < {m:DateTime('UTC')} settings mutations_sync = 2`, query_params: { m: chTime(new Date(w.base.getTime() + 150 * MIN)).slice(0, 19) } });
      await rerun();
      await check();
    } finally {
      await old.drop();
      rmSync(dir, { recursive: true, force: true });
    }
    // ~400 chDB reads (23 ranges x 3 dimensions, RPC and raw, checked three times): over the
    // default 60 s in a CI run beside a 1M-row benchmark (load ~15). A hang guard, not a timing.
  }, 240_000);
});
