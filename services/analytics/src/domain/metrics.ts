import type { Store } from '../db/client';
import { queryMetrics, type CountsRow, type DimensionColumn } from '../db/query-metrics';

export type { CountsRow };

/**
 * The counts of one id of one dimension (campaign, mailbox, sequence step) over a time range:
 * totals and one row per day.
 *
 * This tier cannot know whether a campaign exists (the metadata tier owns campaigns), so an id
 * without events, or an id of another tenant, gives zero counts, never NOT_FOUND. Every query
 * is filtered by tenant_id, so another tenant's events are never counted.
 */
export interface MetricsCounts {
  totals: CountsRow;
  daily: (CountsRow & { date: string })[];
}

export const ZERO: CountsRow = {
  sent: 0,
  delivered: 0,
  opened: 0,
  clicked: 0,
  replied: 0,
  bounced: 0,
  unsubscribed: 0,
  complained: 0,
  unique_opened: 0,
  unique_clicked: 0,
  hard_bounced: 0,
  soft_bounced: 0,
  auto_replied: 0,
};

export async function metricsCounts(
  store: Store,
  column: DimensionColumn,
  q: { tenantId: string; id: string; start?: Date; end?: Date },
): Promise<MetricsCounts> {
  const rows = await queryMetrics(store, {
    tenantId: q.tenantId,
    column,
    id: q.id,
    start: q.start,
    end: q.end,
  });
  return { totals: rows.totals ?? ZERO, daily: rows.daily };
}
