import type { analyticsV1 } from '@penguinmails/contracts';
import { analyticsV1 as pb } from '@penguinmails/contracts';
import type { Freshness } from '../domain/freshness';
import type { CampaignRankRow, FunnelStepCounts, ReplyTimingRows, TimeSeriesRow, VariantRow } from '../domain/insights';
import type { HealthStatus, MailboxHealthFacts } from '../domain/mailbox-health';
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

export function toFreshnessResponse(f: Freshness, rawRetentionDays: number): analyticsV1.GetFreshnessResponse {
  return {
    rawRetentionDays,
    pendingEvents: BigInt(f.pending),
    lagSeconds: f.lagSeconds,
    lastBatchAt: f.lastBatchAt,
    deadLettered: BigInt(f.deadLettered),
    tenantNewestEvent: f.tenantNewest,
    acceptedPendingBatches: BigInt(f.acceptedPending),
    acceptedLagSeconds: f.acceptedLagSeconds,
  };
}

export function toTimeSeries(r: { points: TimeSeriesRow[]; totals: CountsRow }): analyticsV1.GetTimeSeriesResponse {
  return {
    points: r.points.map((p) => ({ start: new Date(p.start * 1000), localStart: p.localStart, metrics: toEmailMetrics(p) })),
    totals: toEmailMetrics(r.totals),
  };
}

const rateOf = (n: number, d: number) => (d > 0 ? n / d : 0);

export function toStepFunnel(steps: FunnelStepCounts[]): analyticsV1.GetStepFunnelResponse {
  return {
    steps: steps.map((s) => ({
      sequenceStepId: s.stepId,
      sent: BigInt(s.sent),
      opened: BigInt(s.unique_opened),
      clicked: BigInt(s.unique_clicked),
      replied: BigInt(s.replied),
      bounced: BigInt(s.bounced),
      openRate: rateOf(s.unique_opened, s.sent),
      clickRate: rateOf(s.unique_clicked, s.sent),
      replyRate: rateOf(s.replied, s.sent),
      bounceRate: rateOf(s.bounced, s.sent),
      dropOffRate: s.dropOff,
    })),
  };
}

const STATUS: Record<HealthStatus, pb.MailboxHealthStatus> = {
  healthy: pb.MailboxHealthStatus.MAILBOX_HEALTH_STATUS_HEALTHY,
  at_risk: pb.MailboxHealthStatus.MAILBOX_HEALTH_STATUS_AT_RISK,
  insufficient_data: pb.MailboxHealthStatus.MAILBOX_HEALTH_STATUS_INSUFFICIENT_DATA,
};

export function toMailboxHealth(h: MailboxHealthFacts): analyticsV1.MailboxHealth {
  return {
    emailAccountId: h.mailboxId,
    sent24h: BigInt(h.sent24h),
    dailyLimit: h.dailyLimit,
    dailyLimitUsed: h.limitUsed,
    sent28d: BigInt(h.d28.sent),
    bounced28d: BigInt(h.d28.bounced),
    hardBounced28d: BigInt(h.d28.hard_bounced),
    softBounced28d: BigInt(h.d28.soft_bounced),
    complained28d: BigInt(h.d28.complained),
    replied28d: BigInt(h.d28.replied),
    autoReplied28d: BigInt(h.d28.auto_replied),
    bounceRate28d: h.bounceRate,
    complaintRate28d: h.complaintRate,
    replyRate28d: h.replyRate,
    status: STATUS[h.status],
    reasons: h.reasons,
  };
}

export function toTopCampaigns(rows: CampaignRankRow[]): analyticsV1.GetTopCampaignsResponse {
  return { campaigns: rows.map((r) => ({ campaignId: r.campaignId, value: r.value, metrics: toEmailMetrics(r) })) };
}

export function toReplyTiming(t: ReplyTimingRows): analyticsV1.GetReplyTimingResponse {
  return {
    sent: BigInt(t.sent),
    replied: BigInt(t.replied),
    firstReplyP50Seconds: t.p50,
    firstReplyP90Seconds: t.p90,
    bySendHour: t.cells.map((c) => ({ weekday: c.weekday, hour: c.hour, sent: BigInt(c.sent), replied: BigInt(c.replied), replyRate: rateOf(c.replied, c.sent) })),
  };
}

export function toVariantMetrics(rows: VariantRow[]): analyticsV1.GetVariantMetricsResponse {
  return {
    variants: rows.map((r) => ({
      sequenceStepId: r.stepId,
      variant: r.variant,
      sent: BigInt(r.sent),
      opened: BigInt(r.opened),
      clicked: BigInt(r.clicked),
      replied: BigInt(r.replied),
      bounced: BigInt(r.bounced),
      openRate: rateOf(r.opened, r.sent),
      clickRate: rateOf(r.clicked, r.sent),
      replyRate: rateOf(r.replied, r.sent),
      bounceRate: rateOf(r.bounced, r.sent),
    })),
  };
}
