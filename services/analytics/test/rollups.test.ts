// Issue 10, part 1: the rollups ClickHouse keeps itself agree with de-duplication, are
// backfilled by their migration, and expire on their own TTL.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsV1, commonV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { applyRetention } from '../src/db/apply-retention';
import { MIGRATIONS_DIR, migrateClickHouse } from '../src/db/migrate';
import { storeEvents } from '../src/domain/events';
import { freshStore, startServer, uuid, type TestServer, type TestStore } from './harness';

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

async function rows<R>(store: TestStore['store'], query: string, params: Record<string, string> = {}): Promise<R[]> {
  return (await store.client.query({ query, query_params: params, format: 'JSONEachRow' })).json<R>();
}

/** The seed view's numbers for one campaign (sum over days). */
async function viewCounts(store: TestStore['store'], tenantId: string, campaignId: string) {
  const [r] = await rows<Record<string, string | number>>(
    store,
    `select sum(sent) as sent, sum(opened) as opened, sum(bounced) as bounced, sum(soft_bounced) as soft, sum(hard_bounced) as hard, sum(replied) as replied
       from ${store.table('campaign_analytics')} where tenant_id = {t:UUID} and campaign_id = {c:UUID}`,
    { t: tenantId, c: campaignId },
  );
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
}

function campaignEvents() {
  const campaignId = uuid();
  const stepId = uuid();
  const mailbox = uuid();
  const msgs = [uuid(), uuid(), uuid()];
  const at = (h: number, m = 0) => new Date(Date.UTC(2025, 4, 6, h, m));
  const ev = (eventType: analyticsV1.EmailEventType, occurredAt: Date, msg: number, bounceType = commonV1.BounceType.BOUNCE_TYPE_UNSPECIFIED): analyticsV1.EmailEvent => ({
    eventId: uuid(),
    eventType,
    occurredAt,
    campaignId,
    emailAccountId: mailbox,
    sequenceStepId: stepId,
    leadId: '',
    messageRefId: msgs[msg],
    bounceType,
    variant: '',
  });
  const events = [
    ev(T.EMAIL_EVENT_TYPE_SENT, at(9), 0),
    ev(T.EMAIL_EVENT_TYPE_SENT, at(9), 1),
    ev(T.EMAIL_EVENT_TYPE_SENT, at(9), 2),
    ev(T.EMAIL_EVENT_TYPE_OPENED, at(10), 0),
    ev(T.EMAIL_EVENT_TYPE_OPENED, at(11), 0),
    ev(T.EMAIL_EVENT_TYPE_BOUNCED, at(9, 5), 1, commonV1.BounceType.BOUNCE_TYPE_SOFT),
    ev(T.EMAIL_EVENT_TYPE_REPLIED, at(12), 0),
  ];
  return { campaignId, stepId, mailbox, msgs, events, at };
}

describe('rollups and de-duplication agree', () => {
  it('the same events inserted twice, and a fact reported by two paths, give the numbers of once', async () => {
    const tenantId = uuid();
    const s = campaignEvents();
    const once = await freshStore();
    try {
      const onceSrv = await startServer(once.store);
      await call(onceSrv.client, 'ingestEvents', { tenantId, events: s.events });
      const expected = (await call(onceSrv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report!;
      const expectedView = await viewCounts(once.store, tenantId, s.campaignId);
      await onceSrv.close();

      // Hold merges so every copy stays a row of its own in the rollups too.
      for (const t of ['email_events', 'campaign_analytics_hourly', 'mailbox_analytics_hourly', 'sequence_step_analytics_hourly'])
        await db.store.client.command({ query: `system stop merges ${db.store.table(t)}` });
      await call(srv.client, 'ingestEvents', { tenantId, events: s.events });
      await call(srv.client, 'ingestEvents', { tenantId, events: s.events }); // a redelivery
      // The same facts again from the metadata tier's paths, other event ids, times 20 min later
      // (same hour): "sent" from a status change, the bounce without its type.
      await storeEvents(db.store, [
        { tenantId, source: 'status_change', eventId: uuid(), type: 'sent', occurredAt: s.at(9, 20), campaignId: s.campaignId, emailAccountId: s.mailbox, sequenceStepId: s.stepId, messageRefId: s.msgs[0] },
        { tenantId, source: 'status_change', eventId: uuid(), type: 'bounced', occurredAt: s.at(9, 25), campaignId: s.campaignId, emailAccountId: s.mailbox, sequenceStepId: s.stepId, messageRefId: s.msgs[1] },
      ]);
      // The rollup does hold the extra blocks (one row per insert, not merged)...
      const [{ n }] = await rows<{ n: string | number }>(db.store, `select count() as n from ${db.store.table('campaign_analytics_hourly')} where tenant_id = {t:UUID}`, { t: tenantId });
      expect(Number(n)).toBeGreaterThan(4);

      // ...and every reader counts each event once: the RPC, the seed view, the step and mailbox RPCs.
      const got = (await call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report!;
      expect(got).toEqual(expected);
      expect(got.totals).toMatchObject({ sent: 3n, opened: 2n, uniqueOpened: 1n, bounced: 1n, softBounced: 1n, hardBounced: 0n, replied: 1n });
      expect(await viewCounts(db.store, tenantId, s.campaignId)).toEqual(expectedView);
      expect(expectedView).toEqual({ sent: 3, opened: 2, bounced: 1, soft: 1, hard: 0, replied: 1 });
      const step = await call(srv.client, 'getSequenceStepMetrics', { tenantId, sequenceStepId: s.stepId });
      const mailbox = await call(srv.client, 'getMailboxMetrics', { tenantId, emailAccountId: s.mailbox });
      expect(step.report!.totals).toEqual(expected.totals);
      expect(mailbox.report!.totals).toEqual(expected.totals);

      // After merges, still the same.
      for (const t of ['email_events', 'campaign_analytics_hourly', 'mailbox_analytics_hourly', 'sequence_step_analytics_hourly']) {
        await db.store.client.command({ query: `system start merges ${db.store.table(t)}` });
        await db.store.client.command({ query: `optimize table ${db.store.table(t)} final` });
      }
      expect((await call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report).toEqual(expected);
    } finally {
      await once.drop();
    }
  });

  it('a range that cuts hours counts exactly the events inside it (rollup for whole hours, raw events for the cut parts)', async () => {
    const tenantId = uuid();
    const s = campaignEvents();
    await call(srv.client, 'ingestEvents', { tenantId, events: s.events });
    const q = (start: Date, end: Date) => call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId, timeRange: { start, end } });
    // [09:01, 11:30): the soft bounce at 09:05 and the opens at 10:00 and 11:00; not the sends at 09:00
    expect((await q(s.at(9, 1), s.at(11, 30))).report!.totals).toMatchObject({ sent: 0n, bounced: 1n, opened: 2n, uniqueOpened: 1n });
    // Inside one hour.
    expect((await q(s.at(9, 0), s.at(9, 5))).report!.totals).toMatchObject({ sent: 3n, bounced: 0n });
    expect((await q(s.at(9, 4), s.at(9, 6))).report!.totals).toMatchObject({ sent: 0n, bounced: 1n });
    // Whole hours only.
    expect((await q(s.at(10), s.at(12))).report!.totals).toMatchObject({ opened: 2n, replied: 0n });
  });
});

describe('migration 004 backfills the rollups from existing raw events', () => {
  it('events stored before 004 count in the rollups after it, exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pm-analytics-004-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    rmSync(join(dir, '004_rollups.sql'));
    rmSync(join(dir, '005_event_variant.sql'));
    const old = await freshStore({ migrationsDir: dir });
    try {
      const tenantId = uuid();
      const s = campaignEvents();
      // Raw rows written by a build that knew 003 only (no variant column yet): twice.
      const values = s.events.map((e) => ({
        event_id: e.eventId,
        tenant_id: tenantId,
        occurred_at: e.occurredAt!.toISOString().replace('T', ' ').replace('Z', ''),
        event_type: ['', 'sent', 'delivered', 'opened', 'clicked', 'replied', 'bounced'][e.eventType],
        campaign_id: s.campaignId,
        email_account_id: s.mailbox,
        sequence_step_id: s.stepId,
        lead_id: '00000000-0000-0000-0000-000000000000',
        message_ref_id: e.messageRefId,
        bounce_type: e.bounceType === commonV1.BounceType.BOUNCE_TYPE_SOFT ? 'soft' : '',
        detail_rank: 2,
      }));
      await old.store.client.insert({ table: old.store.table('email_events'), values, format: 'JSONEachRow' });
      await old.store.client.insert({ table: old.store.table('email_events'), values, format: 'JSONEachRow' });
      expect((await migrateClickHouse({ store: old.store })).applied).toEqual(['004_rollups', '005_event_variant']);
      const oldSrv = await startServer(old.store);
      const { report } = await call(oldSrv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId });
      await oldSrv.close();
      expect(report!.totals).toMatchObject({ sent: 3n, opened: 2n, uniqueOpened: 1n, bounced: 1n, softBounced: 1n, replied: 1n });
      expect(await viewCounts(old.store, tenantId, s.campaignId)).toEqual({ sent: 3, opened: 2, bounced: 1, soft: 1, hard: 0, replied: 1 });
      // The backfill run again (a rerun of a half-applied migration) changes nothing.
      await old.store.client.command({
        query: `insert into ${old.store.table('campaign_analytics_hourly')} select * from (select tenant_id, campaign_id, hour, sent_state, delivered_state, opened_state, clicked_state, replied_state, bounced_state, soft_bounced_state, unsubscribed_state, complained_state, auto_replied_state, unique_opened_state, unique_clicked_state from ${old.store.table('campaign_analytics_hourly')})`,
      });
      expect(await viewCounts(old.store, tenantId, s.campaignId)).toEqual({ sent: 3, opened: 2, bounced: 1, soft: 1, hard: 0, replied: 1 });
    } finally {
      await old.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('retention', () => {
  it('raw events and rollups get their own TTL; expired raw months go while the rollups keep the counts', async () => {
    const r = await freshStore();
    try {
      expect(await applyRetention(r.store, { rawDays: 30, rollupDays: 3650 })).toEqual([
        'email_events',
        'campaign_analytics_hourly',
        'mailbox_analytics_hourly',
        'sequence_step_analytics_hourly',
      ]);
      // Same settings again: nothing to change.
      expect(await applyRetention(r.store, { rawDays: 30, rollupDays: 3650 })).toEqual([]);
      const engines = await rows<{ name: string; engine_full: string }>(r.store, 'select name, engine_full from system.tables where database = {db:String}', { db: r.store.database });
      const ttl = Object.fromEntries(engines.map((e) => [e.name, /TTL (.*?) SETTINGS/.exec(e.engine_full)?.[1] ?? '']));
      expect(ttl.email_events).toBe('toDateTime(occurred_at) + toIntervalDay(30)');
      expect(ttl.campaign_analytics_hourly).toBe('hour + toIntervalDay(3650)');

      const rSrv = await startServer(r.store);
      const tenantId = uuid();
      const s = campaignEvents(); // May 2025: older than 30 days
      await call(rSrv.client, 'ingestEvents', { tenantId, events: s.events });
      await r.store.client.command({ query: `optimize table ${r.store.table('email_events')} final` });
      const [{ n }] = await rows<{ n: string | number }>(r.store, `select count() as n from ${r.store.table('email_events')}`);
      expect(Number(n)).toBe(0);
      const { report } = await call(rSrv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId });
      expect(report!.totals).toMatchObject({ sent: 3n, replied: 1n });
      await rSrv.close();
      // 0 removes a TTL.
      expect(await applyRetention(r.store, { rawDays: 0, rollupDays: 3650 })).toEqual(['email_events']);
    } finally {
      await r.drop();
    }
  });
});
