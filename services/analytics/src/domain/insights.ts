import { InvalidArgumentError } from '@penguinmails/service-kit';
import type { Store } from '../db/client';
import { queryReplyTiming, type ReplyTimingRows } from '../db/query-reply-timing';
import { MAX_FUNNEL_STEPS, queryStepFunnel, type StepRow } from '../db/query-step-funnel';
import { queryTimeSeries, type TimeSeriesRow } from '../db/query-time-series';
import { queryTopCampaigns, type CampaignRankRow, type RankMetric } from '../db/query-top-campaigns';
import { queryVariants, type VariantRow } from '../db/query-variants';
import type { IdColumn, Rollup } from '../db/rollup-source';
import { ZERO, metricsCounts, type CountsRow } from './metrics';

export type { RankMetric, TimeSeriesRow, CampaignRankRow, ReplyTimingRows, VariantRow };

// The questions outreach teams ask (issue 10). Every function is scoped to one tenant: its
// queries filter on tenant_id first, so another tenant's ids answer zeros / nothing.

/**
 * Node's zone database (ICU) and ClickHouse's (tzdata of the build) can differ: a name the
 * handler accepted that ClickHouse cannot load is the caller's bad argument, not INTERNAL.
 */
async function inZone<T>(field: string, zone: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (/Cannot load time zone/i.test((err as Error).message))
      throw new InvalidArgumentError([{ field, reason: 'UNKNOWN_VALUE', description: `${field} "${zone}" is not a time zone this store knows` }]);
    throw err;
  }
}

const ROLLUP_OF: Record<IdColumn, Rollup> = { campaign_id: 'campaign', email_account_id: 'mailbox', sequence_step_id: 'step' };

export async function timeSeries(
  store: Store,
  q: { tenantId: string; column: IdColumn; id: string; start: Date; end: Date; bucket: 'hour' | 'day'; timeZone: string },
): Promise<{ points: TimeSeriesRow[]; totals: CountsRow }> {
  // Totals are their own merge over the whole range, not a sum of buckets: a message opened in
  // two buckets is one unique open of the range.
  const [points, totals] = await Promise.all([
    inZone('time_zone', q.timeZone, () => queryTimeSeries(store, { ...q, rollup: ROLLUP_OF[q.column] })),
    metricsCounts(store, q.column, q),
  ]);
  return { points, totals: totals.totals };
}

export interface FunnelStepCounts extends StepRow {
  /** 1 - next.sent / sent; 0 for the last step or when sent = 0 */
  dropOff: number;
}

/**
 * A campaign's steps in sequence order: the caller's order when given (listed steps without
 * events are zeros; unlisted steps with events follow by first event), else by first event.
 */
export async function stepFunnel(store: Store, q: { tenantId: string; campaignId: string; start?: Date; end?: Date; order: string[] }): Promise<FunnelStepCounts[]> {
  const rows = await queryStepFunnel(store, q);
  const byId = new Map(rows.map((r) => [r.stepId, r]));
  const ordered: StepRow[] = q.order.map((id) => byId.get(id) ?? { stepId: id, firstHour: 0, ...ZERO });
  const listed = new Set(q.order);
  for (const r of rows) if (!listed.has(r.stepId)) ordered.push(r);
  const steps = ordered.slice(0, MAX_FUNNEL_STEPS);
  return steps.map((s, i) => {
    const next = steps[i + 1];
    return { ...s, dropOff: next && s.sent > 0 ? 1 - next.sent / s.sent : 0 };
  });
}

export async function topCampaigns(
  store: Store,
  q: { tenantId: string; start: Date; end: Date; metric: RankMetric; limit: number; minSent: number },
): Promise<CampaignRankRow[]> {
  return queryTopCampaigns(store, q);
}

export async function replyTiming(store: Store, q: { tenantId: string; campaignId?: string; start: Date; end: Date; timeZone: string }): Promise<ReplyTimingRows> {
  return inZone('time_zone', q.timeZone, () => queryReplyTiming(store, q));
}

export async function variantMetrics(store: Store, q: { tenantId: string; campaignId: string; stepId?: string; start?: Date; end?: Date }): Promise<VariantRow[]> {
  return queryVariants(store, q);
}
