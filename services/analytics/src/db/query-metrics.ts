import { callSettings } from './call-settings';
import type { Store } from './client';

/** The column a metrics query filters on; fixed names, never caller input. */
export type DimensionColumn = 'campaign_id' | 'email_account_id' | 'sequence_step_id';

export interface MetricsQuery {
  tenantId: string;
  column: DimensionColumn;
  id: string;
  /** `YYYY-MM-DD hh:mm:ss.mmm` UTC, inclusive */
  start?: string;
  /** exclusive */
  end?: string;
}

export interface CountsRow {
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  replied: number;
  bounced: number;
  unsubscribed: number;
  complained: number;
  unique_opened: number;
  unique_clicked: number;
  /** bounced = hard_bounced + soft_bounced; a bounce of unknown type counts as hard. */
  hard_bounced: number;
  soft_bounced: number;
  auto_replied: number;
}

export interface MetricsRows {
  totals: CountsRow | undefined;
  daily: (CountsRow & { date: string })[];
}

const NIL = "toUUID('00000000-0000-0000-0000-000000000000')";

/**
 * Totals and per-day counts in ONE query (grouping sets), so both come from the same snapshot
 * of the table and the days always add up to the totals. FINAL collapses events stored more
 * than once; every filter is on tenant_id first, so another tenant's rows are never read.
 */
export async function queryMetrics(store: Store, q: MetricsQuery): Promise<MetricsRows> {
  const where = ['tenant_id = {tenant:UUID}', `${q.column} = {id:UUID}`];
  const params: Record<string, string> = { tenant: q.tenantId, id: q.id };
  if (q.start) {
    where.push("occurred_at >= {start:DateTime64(3, 'UTC')}");
    params.start = q.start;
  }
  if (q.end) {
    where.push("occurred_at < {end:DateTime64(3, 'UTC')}");
    params.end = q.end;
  }
  const result = await store.client.query({
    query: `
      select
        toDate(occurred_at) as day,
        grouping(day) as is_total,
        toString(day) as date,
        countIf(event_type = 'sent') as sent,
        countIf(event_type = 'delivered') as delivered,
        countIf(event_type = 'opened') as opened,
        countIf(event_type = 'clicked') as clicked,
        countIf(event_type = 'replied') as replied,
        countIf(event_type = 'bounced') as bounced,
        countIf(event_type = 'unsubscribed') as unsubscribed,
        countIf(event_type = 'complained') as complained,
        uniqExactIf(message_ref_id, event_type = 'opened' and message_ref_id != ${NIL}) as unique_opened,
        uniqExactIf(message_ref_id, event_type = 'clicked' and message_ref_id != ${NIL}) as unique_clicked,
        countIf(event_type = 'bounced' and bounce_type != 'soft') as hard_bounced,
        countIf(event_type = 'bounced' and bounce_type = 'soft') as soft_bounced,
        countIf(event_type = 'auto_replied') as auto_replied
      from ${store.table('email_events')} final
      where ${where.join(' and ')}
      group by grouping sets ((day), ())
      order by is_total, day`,
    query_params: params,
    format: 'JSONEachRow',
    ...callSettings(),
  });
  const rows = await result.json<Record<string, string | number>>();
  const counts = (r: Record<string, string | number>): CountsRow => ({
    // Servers may quote UInt64 in JSON, chDB does not: Number() reads both.
    sent: Number(r.sent),
    delivered: Number(r.delivered),
    opened: Number(r.opened),
    clicked: Number(r.clicked),
    replied: Number(r.replied),
    bounced: Number(r.bounced),
    unsubscribed: Number(r.unsubscribed),
    complained: Number(r.complained),
    unique_opened: Number(r.unique_opened),
    unique_clicked: Number(r.unique_clicked),
    hard_bounced: Number(r.hard_bounced),
    soft_bounced: Number(r.soft_bounced),
    auto_replied: Number(r.auto_replied),
  });
  const total = rows.find((r) => Number(r.is_total) === 1);
  return {
    totals: total ? counts(total) : undefined,
    daily: rows.filter((r) => Number(r.is_total) !== 1).map((r) => ({ date: String(r.date), ...counts(r) })),
  };
}
