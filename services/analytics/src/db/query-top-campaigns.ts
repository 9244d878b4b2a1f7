import { callSettings } from './call-settings';
import type { Store } from './client';
import { countExpr, mergedCounts, readCounts, rollupSource, type CountsRow } from './rollup-source';

export type RankMetric = 'sent' | 'replied' | 'reply_rate' | 'open_rate' | 'click_rate' | 'bounce_rate';

/** ORDER BY expressions: a fixed map, never caller input. Rates are over sent. */
const RANK_EXPR: Record<RankMetric, string> = {
  sent: countExpr('sent'),
  replied: countExpr('replied'),
  reply_rate: `if(${countExpr('sent')} = 0, 0, ${countExpr('replied')} / ${countExpr('sent')})`,
  open_rate: `if(${countExpr('sent')} = 0, 0, ${countExpr('unique_opened')} / ${countExpr('sent')})`,
  click_rate: `if(${countExpr('sent')} = 0, 0, ${countExpr('unique_clicked')} / ${countExpr('sent')})`,
  bounce_rate: `if(${countExpr('sent')} = 0, 0, ${countExpr('bounced')} / ${countExpr('sent')})`,
};

export interface CampaignRankRow extends CountsRow {
  campaignId: string;
  value: number;
}

/** A tenant's campaigns ranked by a metric over the campaign rollup; `limit` rows at most. */
export async function queryTopCampaigns(
  store: Store,
  q: { tenantId: string; start: Date; end: Date; metric: RankMetric; limit: number; minSent: number },
): Promise<CampaignRankRow[]> {
  const params: Record<string, string | number> = { limit: q.limit, min_sent: q.minSent };
  const source = rollupSource(store.table, { rollup: 'campaign', tenantId: q.tenantId, start: q.start, end: q.end }, params, 's');
  const isRate = q.metric.endsWith('_rate');
  const rows = await (
    await store.client.query({
      query: `select toString(campaign_id) as campaign, toFloat64(${RANK_EXPR[q.metric]}) as value, ${mergedCounts()}
              from (${source}) group by campaign_id
              ${isRate ? `having ${countExpr('sent')} >= {min_sent:Int64}` : ''}
              order by value desc, campaign limit {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
      ...callSettings(),
    })
  ).json<Record<string, string | number>>();
  return rows.map((r) => ({ campaignId: String(r.campaign), value: Number(r.value), ...readCounts(r) }));
}
