import type { analyticsV1, commonV1 } from '@penguinmails/contracts';
import { Validator } from '@penguinmails/service-kit';
import type { Store } from '../db/client';
import { queryMetrics, type CountsRow, type DimensionColumn } from '../db/query-metrics';
import { NIL_UUID, toClickHouseTime } from './ids';

/**
 * What the three Get*Metrics RPCs share: one tenant, one id of one dimension, a time range.
 *
 * This tier cannot know whether a campaign exists (the metadata tier owns campaigns), so an id
 * without events, or an id of another tenant, gives zero counts, never NOT_FOUND. Every query
 * is filtered by tenant_id, so another tenant's events are never counted.
 */
export interface MetricsRequest {
  tenantId: string;
  id: string;
  timeRange?: commonV1.TimeRange;
}

export function validateMetricsRequest(req: MetricsRequest, idField: string): { tenantId: string; id: string; start?: Date; end?: Date } {
  const v = new Validator();
  const tenantId = v.uuid('tenant_id', req.tenantId);
  const id = v.uuid(idField, req.id);
  v.check(id !== NIL_UUID, idField, 'NIL_UUID', `${idField} must not be the nil UUID`);
  const start = req.timeRange?.start;
  const end = req.timeRange?.end;
  v.check(!start || !Number.isNaN(start.getTime()), 'time_range.start', 'MALFORMED', 'time_range.start is not a valid timestamp');
  v.check(!end || !Number.isNaN(end.getTime()), 'time_range.end', 'MALFORMED', 'time_range.end is not a valid timestamp');
  if (start && end && end.getTime() <= start.getTime())
    v.add('time_range.end', 'OUT_OF_RANGE', `time_range.end (${end.toISOString()}) must be after time_range.start (${start.toISOString()})`);
  v.done();
  return { tenantId, id, start, end };
}

const ZERO: CountsRow = {
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
};

/** Rates are over `sent` (the count every sending path reports); 0 when nothing was sent. */
export function toEmailMetrics(c: CountsRow): analyticsV1.EmailMetrics {
  const rate = (n: number) => (c.sent > 0 ? n / c.sent : 0);
  return {
    sent: BigInt(c.sent),
    delivered: BigInt(c.delivered),
    opened: BigInt(c.opened),
    clicked: BigInt(c.clicked),
    replied: BigInt(c.replied),
    bounced: BigInt(c.bounced),
    unsubscribed: BigInt(c.unsubscribed),
    complained: BigInt(c.complained),
    uniqueOpened: BigInt(c.unique_opened),
    uniqueClicked: BigInt(c.unique_clicked),
    deliveryRate: rate(c.delivered),
    openRate: rate(c.unique_opened),
    clickRate: rate(c.unique_clicked),
    replyRate: rate(c.replied),
    bounceRate: rate(c.bounced),
    unsubscribeRate: rate(c.unsubscribed),
    complaintRate: rate(c.complained),
  };
}

export async function metricsReport(
  store: Store,
  column: DimensionColumn,
  q: { tenantId: string; id: string; start?: Date; end?: Date },
): Promise<analyticsV1.MetricsReport> {
  const rows = await queryMetrics(store, {
    tenantId: q.tenantId,
    column,
    id: q.id,
    start: q.start && toClickHouseTime(q.start),
    end: q.end && toClickHouseTime(q.end),
  });
  return {
    totals: toEmailMetrics(rows.totals ?? ZERO),
    daily: rows.daily.map((d) => ({ date: d.date, metrics: toEmailMetrics(d) })),
  };
}
