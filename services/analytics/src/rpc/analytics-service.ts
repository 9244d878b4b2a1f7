import type { analyticsV1 } from '@penguinmails/contracts';
import { Validator, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { ingestEvents } from '../domain/events';
import { freshness } from '../domain/freshness';
import { metricsCounts } from '../domain/metrics';
import { toFreshnessResponse, toMetricsReport } from './mappers';
import { ingestBatch, metricsQuery } from './validate';

/** penguinmails.analytics.v1.AnalyticsService: validate → domain → response, nothing else. */
export function analyticsHandlers(deps: Pick<ServerDeps, 'store' | 'limits' | 'consumer'>): Handlers<analyticsV1.AnalyticsServiceServer> {
  const { store, limits } = deps;
  return {
    ingestEvents: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const events = ingestBatch(v, req.events ?? [], limits);
      v.done();
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
      return toFreshnessResponse(await freshness(store, deps.consumer, tenantId));
    },
  };
}
