import type { analyticsV1 } from '@penguinmails/contracts';
import type { Handlers } from '@penguinmails/service-kit';
import type { Store } from '../db/client';
import { ingestEvents, validateIngest, type IngestLimits } from '../domain/events';
import { metricsReport, validateMetricsRequest } from '../domain/metrics';

/** penguinmails.analytics.v1.AnalyticsService: validate → domain → response, nothing else. */
export function analyticsHandlers(deps: { store: Store; limits: IngestLimits }): Handlers<analyticsV1.AnalyticsServiceServer> {
  const { store, limits } = deps;
  return {
    ingestEvents: async (req) => {
      const { rows } = validateIngest(req, limits);
      const acceptedCount = await ingestEvents(store, rows);
      return { acceptedCount };
    },

    getCampaignMetrics: async (req) => {
      const q = validateMetricsRequest({ tenantId: req.tenantId, id: req.campaignId, timeRange: req.timeRange }, 'campaign_id');
      return { report: await metricsReport(store, 'campaign_id', q) };
    },

    getMailboxMetrics: async (req) => {
      const q = validateMetricsRequest({ tenantId: req.tenantId, id: req.emailAccountId, timeRange: req.timeRange }, 'email_account_id');
      return { report: await metricsReport(store, 'email_account_id', q) };
    },

    getSequenceStepMetrics: async (req) => {
      const q = validateMetricsRequest({ tenantId: req.tenantId, id: req.sequenceStepId, timeRange: req.timeRange }, 'sequence_step_id');
      return { report: await metricsReport(store, 'sequence_step_id', q) };
    },
  };
}
