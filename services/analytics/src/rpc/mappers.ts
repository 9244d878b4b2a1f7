import type { analyticsV1 } from '@penguinmails/contracts';
import type { Freshness } from '../domain/freshness';
import type { CountsRow, MetricsCounts } from '../domain/metrics';

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
    hardBounced: BigInt(c.hard_bounced),
    softBounced: BigInt(c.soft_bounced),
    autoReplied: BigInt(c.auto_replied),
    deliveryRate: rate(c.delivered),
    openRate: rate(c.unique_opened),
    clickRate: rate(c.unique_clicked),
    replyRate: rate(c.replied),
    bounceRate: rate(c.bounced),
    unsubscribeRate: rate(c.unsubscribed),
    complaintRate: rate(c.complained),
  };
}

export function toMetricsReport(m: MetricsCounts): analyticsV1.MetricsReport {
  return {
    totals: toEmailMetrics(m.totals),
    daily: m.daily.map((d) => ({ date: d.date, metrics: toEmailMetrics(d) })),
  };
}

export function toFreshnessResponse(f: Freshness): analyticsV1.GetFreshnessResponse {
  return {
    pendingEvents: BigInt(f.pending),
    lagSeconds: f.lagSeconds,
    lastBatchAt: f.lastBatchAt,
    deadLettered: BigInt(f.deadLettered),
    tenantNewestEvent: f.tenantNewest,
  };
}
