import type { analyticsV1 } from '@penguinmails/contracts';
import { Validator, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { analyticsV1 as pb } from '@penguinmails/contracts';
import { DEFAULT_QUERY_LIMITS, DEFAULT_RAW_TTL_DAYS } from '../deps';
import { NO_ACCEPTED_INGEST } from '../consumers/accepted-ingest';
import { ingestEvents } from '../domain/events';
import { freshness } from '../domain/freshness';
import { replyTiming, stepFunnel, timeSeries, topCampaigns, variantMetrics, type RankMetric } from '../domain/insights';
import { mailboxHealth, rankMailboxes } from '../domain/mailbox-health';
import { metricsCounts } from '../domain/metrics';
import {
  toFreshnessResponse,
  toMetricsReport,
  toMailboxHealth,
  toReplyTiming,
  toStepFunnel,
  toTimeSeries,
  toTopCampaigns,
  toVariantMetrics,
} from './mappers';
import { asOf, enumChoice, ingestBatch, metricsQuery, optionalId, queryRange, requiredId, rowLimit, timeZone } from './validate';

const BUCKETS: Record<number, 'hour' | 'day'> = { [pb.TimeBucket.TIME_BUCKET_HOUR]: 'hour', [pb.TimeBucket.TIME_BUCKET_DAY]: 'day' };
const METRICS: Record<number, RankMetric> = {
  [pb.CampaignMetric.CAMPAIGN_METRIC_SENT]: 'sent',
  [pb.CampaignMetric.CAMPAIGN_METRIC_REPLIED]: 'replied',
  [pb.CampaignMetric.CAMPAIGN_METRIC_REPLY_RATE]: 'reply_rate',
  [pb.CampaignMetric.CAMPAIGN_METRIC_OPEN_RATE]: 'open_rate',
  [pb.CampaignMetric.CAMPAIGN_METRIC_CLICK_RATE]: 'click_rate',
  [pb.CampaignMetric.CAMPAIGN_METRIC_BOUNCE_RATE]: 'bounce_rate',
};
const MAX_DAILY_LIMITS = 1000;
const DURABILITY: Record<number, 'stored' | 'accepted'> = {
  [pb.IngestDurability.INGEST_DURABILITY_STORED]: 'stored',
  [pb.IngestDurability.INGEST_DURABILITY_ACCEPTED]: 'accepted',
};

/** penguinmails.analytics.v1.AnalyticsService: validate → domain → response, nothing else. */
export function analyticsHandlers(deps: Pick<ServerDeps, 'store' | 'limits' | 'consumer' | 'queries' | 'accepted' | 'acceptedConsumer' | 'rawTtlDays'>): Handlers<analyticsV1.AnalyticsServiceServer> {
  const { store, limits } = deps;
  const queries = deps.queries ?? DEFAULT_QUERY_LIMITS;
  return {
    ingestEvents: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const events = ingestBatch(v, req.events ?? [], limits);
      // UNSPECIFIED (0) is STORED, the behaviour from before the field existed.
      const durability = req.durability ? enumChoice(v, 'durability', req.durability, DURABILITY, 'INGEST_DURABILITY_') : 'stored';
      v.done();
      if (durability === 'accepted') {
        // Published as the caller sent them (the consumer validates the message again); the count
        // is of distinct event ids, as STORED's is before fact ids are derived.
        await (deps.accepted ?? NO_ACCEPTED_INGEST).publish(tenantId, req.events);
        return { acceptedCount: new Set(events.map((e) => e.eventId.toLowerCase())).size };
      }
      return { acceptedCount: await ingestEvents(store, tenantId, events) };
    },

    getCampaignMetrics: async (req) => {
      const v = new Validator();
      const q = metricsQuery(v, { tenantId: req.tenantId, id: req.campaignId, timeRange: req.timeRange }, 'campaign_id');
      v.done();
      return { report: toMetricsReport(await metricsCounts(store, 'campaign_id', q)) };
    },

    getMailboxMetrics: async (req) => {
      const v = new Validator();
      const q = metricsQuery(v, { tenantId: req.tenantId, id: req.emailAccountId, timeRange: req.timeRange }, 'email_account_id');
      v.done();
      return { report: toMetricsReport(await metricsCounts(store, 'email_account_id', q)) };
    },

    getSequenceStepMetrics: async (req) => {
      const v = new Validator();
      const q = metricsQuery(v, { tenantId: req.tenantId, id: req.sequenceStepId, timeRange: req.timeRange }, 'sequence_step_id');
      v.done();
      return { report: toMetricsReport(await metricsCounts(store, 'sequence_step_id', q)) };
    },

    getFreshness: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      v.done();
      return toFreshnessResponse(await freshness(store, deps.consumer, tenantId, deps.acceptedConsumer), deps.rawTtlDays ?? DEFAULT_RAW_TTL_DAYS);
    },

    getTimeSeries: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const given = (['campaign_id', 'sequence_step_id', 'email_account_id'] as const).filter(
        (f) => ({ campaign_id: req.campaignId, sequence_step_id: req.sequenceStepId, email_account_id: req.emailAccountId })[f],
      );
      if (given.length !== 1)
        v.add(given[1] ?? 'campaign_id', given.length ? 'CONFLICT' : 'REQUIRED', 'exactly one of campaign_id, sequence_step_id, email_account_id must be set');
      const column = given[0] ?? 'campaign_id';
      const id = given.length ? requiredId(v, column, { campaign_id: req.campaignId, sequence_step_id: req.sequenceStepId, email_account_id: req.emailAccountId }[column]) : '';
      const { start, end } = queryRange(v, 'time_range', req.timeRange, { required: true, maxDays: queries.maxRangeDays });
      const bucket = enumChoice(v, 'bucket', req.bucket, BUCKETS, 'TIME_BUCKET_');
      const zone = timeZone(v, 'time_zone', req.timeZone);
      if (start && end && bucket && !v.violations.some((x) => x.field.startsWith('time_range'))) {
        // Upper bound of the bucket count (a day bucket is at least 23 h, hence +2).
        const n = bucket === 'hour' ? Math.ceil((end.getTime() - start.getTime()) / 3_600_000) + 1 : Math.ceil((end.getTime() - start.getTime()) / 86_400_000) + 2;
        v.check(n <= queries.maxBuckets, 'time_range.end', 'OUT_OF_RANGE', `at most ${queries.maxBuckets} buckets per series, this range needs up to ${n}; shorten it or use day buckets`);
      }
      v.done();
      const rows = await timeSeries(store, { tenantId, column, id, start: start!, end: end!, bucket: bucket!, timeZone: zone });
      return toTimeSeries(rows);
    },

    getStepFunnel: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const campaignId = requiredId(v, 'campaign_id', req.campaignId);
      const { start, end } = queryRange(v, 'time_range', req.timeRange, { required: false, maxDays: queries.maxRangeDays });
      const order = req.sequenceStepIds ?? [];
      if (order.length > 100) v.add('sequence_step_ids', 'OUT_OF_RANGE', `at most 100 sequence_step_ids, got ${order.length}`);
      else order.forEach((id, i) => requiredId(v, `sequence_step_ids[${i}]`, id));
      if (new Set(order).size !== order.length) v.add('sequence_step_ids', 'DUPLICATE', 'sequence_step_ids lists a step twice');
      v.done();
      return toStepFunnel(await stepFunnel(store, { tenantId, campaignId, start, end, order: order.map((s) => s.toLowerCase()) }));
    },

    getMailboxHealth: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const mailboxId = requiredId(v, 'email_account_id', req.emailAccountId);
      const at = asOf(v, 'as_of', req.asOf, limits.maxFutureMs);
      v.done();
      return { health: toMailboxHealth(await mailboxHealth(store, { tenantId, mailboxId, dailyLimit: req.dailyLimit ?? 0, asOf: at })) };
    },

    listMailboxHealth: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const given = req.dailyLimits ?? [];
      const daily = new Map<string, number>();
      if (given.length > MAX_DAILY_LIMITS) v.add('daily_limits', 'OUT_OF_RANGE', `at most ${MAX_DAILY_LIMITS} daily_limits, got ${given.length}`);
      else given.forEach((d, i) => daily.set(requiredId(v, `daily_limits[${i}].email_account_id`, d.emailAccountId).toLowerCase(), d.dailyLimit ?? 0));
      const at = asOf(v, 'as_of', req.asOf, limits.maxFutureMs);
      const limit = rowLimit(v, 'limit', req.limit, { default: 100, max: 500 });
      v.done();
      const ranked = await rankMailboxes(store, { tenantId, limits: daily, defaultLimit: req.defaultDailyLimit ?? 0, asOf: at, limit });
      return { mailboxes: ranked.mailboxes.map(toMailboxHealth), totalMailboxes: ranked.total };
    },

    getTopCampaigns: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const { start, end } = queryRange(v, 'time_range', req.timeRange, { required: true, maxDays: queries.maxRangeDays });
      const metric = enumChoice(v, 'metric', req.metric, METRICS, 'CAMPAIGN_METRIC_');
      const limit = rowLimit(v, 'limit', req.limit, { default: 10, max: 100 });
      v.done();
      const rows = await topCampaigns(store, { tenantId, start: start!, end: end!, metric: metric!, limit, minSent: Math.max(1, req.minSent ?? 0) });
      return toTopCampaigns(rows);
    },

    getReplyTiming: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const campaignId = optionalId(v, 'campaign_id', req.campaignId);
      const { start, end } = queryRange(v, 'time_range', req.timeRange, { required: true, maxDays: queries.maxRangeDays });
      const zone = timeZone(v, 'time_zone', req.timeZone);
      v.done();
      return toReplyTiming(await replyTiming(store, { tenantId, campaignId, start: start!, end: end!, timeZone: zone }));
    },

    getVariantMetrics: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const campaignId = requiredId(v, 'campaign_id', req.campaignId);
      const stepId = optionalId(v, 'sequence_step_id', req.sequenceStepId);
      const { start, end } = queryRange(v, 'time_range', req.timeRange, { required: false, maxDays: queries.maxRangeDays });
      v.done();
      return toVariantMetrics(await variantMetrics(store, { tenantId, campaignId, stepId, start, end }));
    },
  };
}
