// What the migration tests read back from the tiers: refs per tenant, and analytics' history per campaign.
import { Client } from 'pg';
import type { PenguinMails } from '@penguinmails/sdk';
import { pages } from '../src/refs';

export async function countRefs(db: Client, pm: PenguinMails): Promise<number> {
  let n = 0;
  for (const t of (await db.query('select id from tenants')).rows)
    for await (const m of pages((token) => pm.metadata.listMessages({ tenantId: t.id, page: { pageSize: 500, pageToken: token } }), (r) => r.messages)) { void m; n++; }
  return n;
}

/**
 * What analytics should hold for the migrated history: per campaign, sends (outbound, not
 * queued/failed) per UTC day of their legacy `created`, and replies (inbound emails with a parent).
 */
async function expectedHistory(db: Client) {
  const { rows } = await db.query(
    `select m.new_id as campaign, e.tenant_id, to_char(e.created at time zone 'UTC', 'YYYY-MM-DD') as day,
            count(*) filter (where e.direction = 'outbound' and e.status not in ('queued', 'failed'))::int as sent,
            count(*) filter (where e.direction = 'inbound' and e.message_type = 'email' and e.parent_message_id is not null)::int as replied
       from emails e join migrate_map m on m.kind = 'campaign' and m.legacy_id = e.campaign_id
      where not exists (select 1 from migrate_rejects r where r.legacy_id = e.id)
      group by 1, 2, 3 order by 1, 3`);
  const byCampaign = new Map<string, { tenant: string; sent: number; replied: number; days: Record<string, number> }>();
  for (const r of rows) {
    const c = byCampaign.get(r.campaign) ?? { tenant: r.tenant_id as string, sent: 0, replied: 0, days: {} as Record<string, number> };
    c.sent += r.sent;
    c.replied += r.replied;
    if (r.sent) c.days[r.day] = r.sent;
    byCampaign.set(r.campaign, c);
  }
  return byCampaign;
}

/** Analytics' counts per campaign, over all time and per day, once its consumer has caught up (polls up to 60 s). */
export async function historyAgrees(db: Client, pm: PenguinMails): Promise<void> {
  const want = await expectedHistory(db);
  expect(want.size).toBeGreaterThan(0);
  const read = async () => {
    const got = new Map<string, { tenant: string; sent: number; replied: number; days: Record<string, number> }>();
    for (const [campaign, w] of want) {
      const r = (await pm.analytics.getCampaignMetrics({ tenantId: w.tenant, campaignId: campaign, timeRange: { start: new Date('2000-01-01T00:00:00Z'), end: new Date(Date.now() + 3_600_000) } })).report!;
      const days: Record<string, number> = {};
      for (const d of r.daily) if (Number(d.metrics!.sent)) days[d.date] = Number(d.metrics!.sent);
      got.set(campaign, { tenant: w.tenant, sent: Number(r.totals!.sent), replied: Number(r.totals!.replied), days });
    }
    return got;
  };
  const deadline = Date.now() + 60_000;
  let got = await read();
  while (JSON.stringify([...got]) !== JSON.stringify([...want]) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    got = await read();
  }
  // Counted once, on the days the emails were sent (not the day of the migration).
  expect([...got]).toEqual([...want]);
}
