// What the migration tests read back from the tiers: refs per tenant, and analytics' history per campaign, mailbox and step.
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
 * The platform of a migration test: analytics keeps raw events for ever, as the README tells an
 * operator to set it during a migration. The generated history (bench/'s dataset, April-October
 * 2026) would otherwise pass the default 400 days of ANALYTICS_RAW_TTL_DAYS in May 2027, and the
 * tool would refuse it (checkAnalyticsRetention; test/retention.test.ts).
 */
export const FOR_HISTORY = { serviceEnv: { analytics: { ANALYTICS_RAW_TTL_DAYS: '0' } } };

type Kind = 'campaign' | 'mailbox' | 'step';
const COLUMN: Record<Kind, string> = { campaign: 'campaign_id', mailbox: 'email_account_id', step: 'sequence_step_id' };
interface History { tenant: string; sent: number; replied: number; bounced: number; autoReplied: number; days: Record<string, number> }

/**
 * What analytics should hold for the migrated history, per campaign, mailbox and sequence step
 * (each email counts where its own legacy row says): sends (outbound, not queued/failed) per UTC
 * day of their legacy `created`, replies (inbound emails with a parent), bounces and auto replies
 * (one per message they name: the parent when linked, else themselves).
 */
async function expectedHistory(db: Client, kind: Kind) {
  const { rows } = await db.query(
    `select m.new_id as id, e.tenant_id, to_char(e.created at time zone 'UTC', 'YYYY-MM-DD') as day,
            count(*) filter (where e.direction = 'outbound' and e.status not in ('queued', 'failed'))::int as sent,
            count(*) filter (where e.direction = 'inbound' and e.message_type = 'email' and e.parent_message_id is not null)::int as replied,
            count(distinct coalesce(e.parent_message_id, e.id)) filter (where e.message_type = 'bounce')::int as bounced,
            count(distinct coalesce(e.parent_message_id, e.id)) filter (where e.message_type = 'auto_reply')::int as auto_replied
       from emails e join migrate_map m on m.kind = $1 and m.legacy_id = e.${COLUMN[kind]}
      where not exists (select 1 from migrate_rejects r where r.legacy_id = e.id)
      group by 1, 2, 3 order by 1, 3`, [kind]);
  const byId = new Map<string, History>();
  for (const r of rows) {
    const c = byId.get(r.id) ?? { tenant: r.tenant_id as string, sent: 0, replied: 0, bounced: 0, autoReplied: 0, days: {} as Record<string, number> };
    c.sent += r.sent;
    c.replied += r.replied;
    c.bounced += r.bounced;
    c.autoReplied += r.auto_replied;
    if (r.sent) c.days[r.day] = r.sent;
    byId.set(r.id, c);
  }
  return byId;
}

/**
 * Analytics' counts per campaign, mailbox and step, over all time and per day, once its consumer
 * has caught up (polls up to 60 s).
 */
export async function historyAgrees(db: Client, pm: PenguinMails, opts: { eachFact?: boolean } = {}): Promise<void> {
  const range = { start: new Date('2000-01-01T00:00:00Z'), end: new Date(Date.now() + 3_600_000) };
  const report = (kind: Kind, tenantId: string, id: string) =>
    kind === 'campaign' ? pm.analytics.getCampaignMetrics({ tenantId, campaignId: id, timeRange: range })
      : kind === 'mailbox' ? pm.analytics.getMailboxMetrics({ tenantId, emailAccountId: id, timeRange: range })
        : pm.analytics.getSequenceStepMetrics({ tenantId, sequenceStepId: id, timeRange: range });
  for (const kind of ['campaign', 'mailbox', 'step'] as const) {
    const want = await expectedHistory(db, kind);
    expect(want.size).toBeGreaterThan(0);
    // The generated data has each kind of fact to count (else this check could not fail on it);
    // a small data set may not (eachFact: false).
    const total = (k: 'sent' | 'replied' | 'bounced' | 'autoReplied') => [...want.values()].reduce((n, w) => n + w[k], 0);
    if (opts.eachFact !== false && kind !== 'step') for (const k of ['sent', 'replied', 'bounced', 'autoReplied'] as const) expect({ kind, [k]: total(k) > 0 }).toEqual({ kind, [k]: true });
    const read = async () => {
      const got = new Map<string, History>();
      for (const [id, w] of want) {
        const r = (await report(kind, w.tenant, id)).report!;
        const days: Record<string, number> = {};
        for (const d of r.daily) if (Number(d.metrics!.sent)) days[d.date] = Number(d.metrics!.sent);
        const t = r.totals!;
        got.set(id, { tenant: w.tenant, sent: Number(t.sent), replied: Number(t.replied), bounced: Number(t.bounced), autoReplied: Number(t.autoReplied), days });
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
    expect({ kind, history: [...got] }).toEqual({ kind, history: [...want] });
  }
}
