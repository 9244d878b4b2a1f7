import { callSettings } from './call-settings';
import type { Store } from './client';
import { mergedCounts, readCounts, rollupSource, type CountsRow, type IdColumn, type Rollup } from './rollup-source';

export type { CountsRow };

/** The column a metrics query filters on; fixed names, never caller input. */
export type DimensionColumn = IdColumn;

export interface MetricsQuery {
  tenantId: string;
  column: DimensionColumn;
  id: string;
  /** inclusive */
  start?: Date;
  /** exclusive */
  end?: Date;
}

export interface MetricsRows {
  totals: CountsRow | undefined;
  daily: (CountsRow & { date: string })[];
}

const ROLLUP_OF: Record<DimensionColumn, Rollup> = { campaign_id: 'campaign', email_account_id: 'mailbox', sequence_step_id: 'step' };

/**
 * Totals and per-UTC-day counts in ONE query (grouping sets) over the hourly rollup of the
 * dimension (plus its minute rollup for cut hours, see rollup-source.ts), so the days always add up
 * to the totals from one snapshot. No FINAL and no scan of raw events (since 007 not even for cut hours): that is
 * what took GetCampaignMetrics from ~50 ms to the figures in bench/README.md. Every filter is on
 * tenant_id first, so another tenant's rows are never read.
 */
export async function queryMetrics(store: Store, q: MetricsQuery): Promise<MetricsRows> {
  const params: Record<string, string | number> = {};
  const source = rollupSource(store.table, { rollup: ROLLUP_OF[q.column], tenantId: q.tenantId, ids: { [q.column]: q.id }, start: q.start, end: q.end }, params, 's');
  const result = await store.client.query({
    query: `
      select toDate(hour) as day, grouping(day) as is_total, toString(day) as date,
        ${mergedCounts()}
      from (${source})
      group by grouping sets ((day), ())
      order by is_total, day`,
    query_params: params,
    format: 'JSONEachRow',
    ...callSettings(),
  });
  const rows = await result.json<Record<string, string | number>>();
  const total = rows.find((r) => Number(r.is_total) === 1);
  return {
    totals: total ? readCounts(total) : undefined,
    daily: rows.filter((r) => Number(r.is_total) !== 1).map((r) => ({ date: String(r.date), ...readCounts(r) })),
  };
}
