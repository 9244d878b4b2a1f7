// Issue 10: the rollups ClickHouse keeps itself agree with de-duplication (the writer writes
// each event once, or cancels and replaces a copy that knows less), carry over what was stored
// before migration 006, and expire on their own TTL.
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyticsV1, commonV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { applyRetention } from '../src/db/apply-retention';
import { MIGRATIONS_DIR, migrateClickHouse, withDatabase } from '../src/db/migrate';
import { splitStatements } from '../src/db/split-statements';
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

/** The raw table and the rollups its materialized views keep (migration 006). */
const TABLES = ['events', 'event_keys', 'campaign_hourly', 'mailbox_hourly', 'sequence_step_hourly', 'campaign_minutely', 'mailbox_minutely', 'sequence_step_minutely'];

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
      await call(onceSrv.client, 'ingestEvents', { durability: 0, tenantId, events: s.events });
      const expected = (await call(onceSrv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report!;
      const expectedView = await viewCounts(once.store, tenantId, s.campaignId);
      await onceSrv.close();

      // Hold merges: every row written stays a row of its own, so what is counted below is what
      // the writer wrote, not what a merge collapsed.
      for (const t of TABLES) await db.store.client.command({ query: `system stop merges ${db.store.table(t)}` });
      await call(srv.client, 'ingestEvents', { durability: 0, tenantId, events: s.events });
      await call(srv.client, 'ingestEvents', { durability: 0, tenantId, events: s.events }); // a redelivery
      // The same facts again from the metadata tier's paths, other event ids, times 20 min later
      // (same hour): "sent" from a status change, the bounce without its type (both know less).
      await storeEvents(db.store, [
        { tenantId, source: 'status_change', eventId: uuid(), type: 'sent', occurredAt: s.at(9, 20), campaignId: s.campaignId, emailAccountId: s.mailbox, sequenceStepId: s.stepId, messageRefId: s.msgs[0] },
        { tenantId, source: 'status_change', eventId: uuid(), type: 'bounced', occurredAt: s.at(9, 25), campaignId: s.campaignId, emailAccountId: s.mailbox, sequenceStepId: s.stepId, messageRefId: s.msgs[1] },
      ]);
      // Written once: 7 events + the first open of msgs[0], no copies, no cancellations.
      const written = await rows<{ n: string | number; cancels: string | number }>(
        db.store,
        `select count() as n, countIf(sign = -1) as cancels from ${db.store.table('events')} where tenant_id = {t:UUID}`,
        { t: tenantId },
      );
      expect(written.map((r) => [Number(r.n), Number(r.cancels)])).toEqual([[8, 0]]);

      // Every reader counts each event once: the RPC, the seed view, the step and mailbox RPCs.
      const got = (await call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report!;
      expect(got).toEqual(expected);
      expect(got.totals).toMatchObject({ sent: 3n, opened: 2n, uniqueOpened: 1n, bounced: 1n, softBounced: 1n, hardBounced: 0n, replied: 1n });
      expect(await viewCounts(db.store, tenantId, s.campaignId)).toEqual(expectedView);
      expect(expectedView).toEqual({ sent: 3, opened: 2, bounced: 1, soft: 1, hard: 0, replied: 1 });
      const step = await call(srv.client, 'getSequenceStepMetrics', { tenantId, sequenceStepId: s.stepId });
      const mailbox = await call(srv.client, 'getMailboxMetrics', { tenantId, emailAccountId: s.mailbox });
      expect(step.report!.totals).toEqual(expected.totals);
      expect(mailbox.report!.totals).toEqual(expected.totals);

      // A copy that knows MORE replaces the stored one: msgs[2]'s bounce first from a status
      // change (type unknown: hard), then the bounce message itself says soft. And an open of
      // msgs[0] at 09:50 reported late moves its first open from 10:00 to 09:50.
      await storeEvents(db.store, [
        { tenantId, source: 'status_change', eventId: uuid(), type: 'bounced', occurredAt: s.at(9, 30), campaignId: s.campaignId, emailAccountId: s.mailbox, sequenceStepId: s.stepId, messageRefId: s.msgs[2] },
      ]);
      expect((await call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report!.totals).toMatchObject({ bounced: 2n, softBounced: 1n, hardBounced: 1n });
      await storeEvents(db.store, [
        { tenantId, source: 'message', eventId: uuid(), type: 'bounced', bounceType: 'soft', occurredAt: s.at(9, 31), campaignId: s.campaignId, emailAccountId: s.mailbox, sequenceStepId: s.stepId, messageRefId: s.msgs[2] },
        { tenantId, source: 'ingest', eventId: uuid(), type: 'opened', occurredAt: s.at(9, 50), campaignId: s.campaignId, emailAccountId: s.mailbox, sequenceStepId: s.stepId, messageRefId: s.msgs[0] },
      ]);
      const after = (await call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report!;
      expect(after.totals).toMatchObject({ sent: 3n, opened: 3n, uniqueOpened: 1n, bounced: 2n, softBounced: 2n, hardBounced: 0n, replied: 1n });
      const range = async (from: Date, to: Date) =>
        (await call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId, timeRange: { start: from, end: to } })).report!.totals!;
      expect(await range(s.at(9), s.at(10))).toMatchObject({ uniqueOpened: 1n, opened: 1n, softBounced: 2n, hardBounced: 0n });
      expect(await range(s.at(10), s.at(12))).toMatchObject({ uniqueOpened: 0n, opened: 2n });
      // Each replacement is one cancellation (the stored copy again, sign -1) and one new copy.
      const [cancels] = await rows<{ n: string | number }>(db.store, `select count() as n from ${db.store.table('events')} where tenant_id = {t:UUID} and sign = -1`, { t: tenantId });
      expect(Number(cancels.n)).toBe(2);
      // The mailbox and step rollups went through the same rows.
      expect((await call(srv.client, 'getMailboxMetrics', { tenantId, emailAccountId: s.mailbox })).report!.totals).toEqual(after.totals);
      expect((await call(srv.client, 'getSequenceStepMetrics', { tenantId, sequenceStepId: s.stepId })).report!.totals).toEqual(after.totals);

      // After merges (cancelled pairs collapse), still the same.
      for (const t of TABLES) {
        await db.store.client.command({ query: `system start merges ${db.store.table(t)}` });
        await db.store.client.command({ query: `optimize table ${db.store.table(t)} final` });
      }
      expect((await call(srv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report).toEqual(after);
      const [left] = await rows<{ n: string | number }>(db.store, `select count() as n from ${db.store.table('events')} where tenant_id = {t:UUID} and sign = -1`, { t: tenantId });
      expect(Number(left.n)).toBe(0);
    } finally {
      await once.drop();
    }
  });

  it('a writer that restarts (its in-process filter rebuilt from the store) still counts a redelivery once', async () => {
    const tenantId = uuid();
    const s = campaignEvents();
    const fresh = await freshStore();
    try {
      const first = await startServer(fresh.store);
      await call(first.client, 'ingestEvents', { durability: 0, tenantId, events: s.events });
      const expected = (await call(first.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report!;
      await first.close();
      // Another Store object on the same database: another writer, whose filter starts empty
      // and is loaded from event_keys (what a restarted process does).
      const again = await freshStore({ database: fresh.store.database });
      const second = await startServer(again.store);
      await call(second.client, 'ingestEvents', { durability: 0, tenantId, events: s.events });
      expect((await call(second.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId })).report).toEqual(expected);
      await second.close();
      await again.store.close();
    } finally {
      await fresh.drop();
    }
  });

  it('a range that cuts hours counts exactly the events inside it (hourly rollup for whole hours, minute rollup for the cut parts)', async () => {
    const tenantId = uuid();
    const s = campaignEvents();
    await call(srv.client, 'ingestEvents', { durability: 0, tenantId, events: s.events });
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

describe('migration 006 carries what was stored before it', () => {
  it('raw events stored before 006 (with copies) and hours only the old rollups still know count after it, exactly once, also after a rerun', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pm-analytics-006-'));
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    rmSync(join(dir, '006_counted_rollups.sql'));
    rmSync(join(dir, '007_minute_rollups.sql'));
    const old = await freshStore({ migrationsDir: dir });
    try {
      const kept = uuid(); // a tenant whose raw events are still there
      const expired = uuid(); // a tenant whose raw events are gone (past the raw TTL): only 004's rollups know them
      const s = campaignEvents();
      const values = (tenantId: string) =>
        s.events.map((e) => ({
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
          variant: '',
          detail_rank: 2,
        }));
      // Written by a build that knew 005 (004's rollups fill on insert): each twice, a redelivery.
      for (const tenantId of [kept, expired])
        for (let i = 0; i < 2; i++) await old.store.client.insert({ table: old.store.table('email_events'), values: values(tenantId), format: 'JSONEachRow' });
      await old.store.client.command({ query: `alter table ${old.store.table('email_events')} delete where tenant_id = {t:UUID} settings mutations_sync = 2`, query_params: { t: expired } });

      expect((await migrateClickHouse({ store: old.store })).applied).toEqual(['006_counted_rollups', '007_minute_rollups']);
      const want = { sent: 3, opened: 2, bounced: 1, soft: 1, hard: 0, replied: 1 };
      const check = async () => {
        const oldSrv = await startServer(old.store);
        try {
          for (const tenantId of [kept, expired]) {
            const { report } = await call(oldSrv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId });
            // Unique opens: first opens where the raw events were copied (msgs[0] opened at 10:00
            // and 11:00: once); where only 004's hourly sets were left, their per-hour distinct
            // counts carry over (once in each hour: 2) — the documented price of the conversion.
            const uniqueOpened = tenantId === kept ? 1n : 2n;
            expect(report!.totals).toMatchObject({ sent: 3n, opened: 2n, uniqueOpened, bounced: 1n, softBounced: 1n, replied: 1n });
            expect(await viewCounts(old.store, tenantId, s.campaignId)).toEqual(want);
          }
          // The copied raw events are stored once, with the first open as its fact.
          const [r] = await rows<{ n: string | number }>(old.store, `select count() as n from ${old.store.table('events')} where tenant_id = {t:UUID}`, { t: kept });
          expect(Number(r.n)).toBe(s.events.length + 1);
          // And the writer knows them: a redelivery of the same events after the migration adds
          // nothing (the copied soft bounce got the rank of a copy that knows its type).
          await call(oldSrv.client, 'ingestEvents', { durability: 0, tenantId: kept, events: s.events });
          expect((await call(oldSrv.client, 'getCampaignMetrics', { tenantId: kept, campaignId: s.campaignId })).report!.totals).toMatchObject({ sent: 3n, opened: 2n, uniqueOpened: 1n, softBounced: 1n });
          const [after] = await rows<{ n: string | number }>(old.store, `select count() as n from ${old.store.table('events')} where tenant_id = {t:UUID}`, { t: kept });
          expect(Number(after.n)).toBe(s.events.length + 1);
        } finally {
          await oldSrv.close();
        }
      };
      await check();
      // Every statement of 006 once more (a rerun of a half-applied migration): nothing changes.
      for (const statement of splitStatements(withDatabase(readFileSync(join(MIGRATIONS_DIR, '006_counted_rollups.sql'), 'utf8'), old.store.database)))
        await old.store.client.command({ query: statement });
      await check();
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
        'events',
        'event_keys',
        'campaign_hourly',
        'mailbox_hourly',
        'sequence_step_hourly',
        'campaign_minutely',
        'mailbox_minutely',
        'sequence_step_minutely',
        'email_events',
        'campaign_analytics_hourly',
        'mailbox_analytics_hourly',
        'sequence_step_analytics_hourly',
      ]);
      // Same settings again: nothing to change.
      expect(await applyRetention(r.store, { rawDays: 30, rollupDays: 3650 })).toEqual([]);
      const engines = await rows<{ name: string; engine_full: string }>(r.store, 'select name, engine_full from system.tables where database = {db:String}', { db: r.store.database });
      const ttl = Object.fromEntries(engines.map((e) => [e.name, /TTL (.*?) SETTINGS/.exec(e.engine_full)?.[1] ?? '']));
      expect(ttl.events).toBe('toDateTime(occurred_at) + toIntervalDay(30)');
      expect(ttl.event_keys).toBe('toDateTime(occurred_at) + toIntervalDay(30)');
      expect(ttl.campaign_hourly).toBe('hour + toIntervalDay(3650)');
      expect(ttl.mailbox_minutely).toBe('minute + toIntervalDay(30)');

      const rSrv = await startServer(r.store);
      const tenantId = uuid();
      const s = campaignEvents(); // May 2025: older than 30 days
      await call(rSrv.client, 'ingestEvents', { durability: 0, tenantId, events: s.events });
      await r.store.client.command({ query: `optimize table ${r.store.table('events')} final` });
      const [{ n }] = await rows<{ n: string | number }>(r.store, `select count() as n from ${r.store.table('events')}`);
      expect(Number(n)).toBe(0);
      const { report } = await call(rSrv.client, 'getCampaignMetrics', { tenantId, campaignId: s.campaignId });
      expect(report!.totals).toMatchObject({ sent: 3n, replied: 1n });
      await rSrv.close();
      // 0 removes a TTL.
      expect(await applyRetention(r.store, { rawDays: 0, rollupDays: 3650 })).toEqual(['events', 'event_keys', 'campaign_minutely', 'mailbox_minutely', 'sequence_step_minutely', 'email_events']);
    } finally {
      await r.drop();
    }
  });
});
