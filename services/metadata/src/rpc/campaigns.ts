import { metadataV1 } from '@penguinmails/contracts';
import { decodeCursor, encodeCursor, Validator } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import * as campaigns from '../domain/campaigns';
import { campaignStatus } from '../domain/enums';
import * as steps from '../domain/sequence-steps';
import { assertTenant } from '../domain/tenants';
import { pageSizeOf, tenantOf } from './fields';
import { campaignToProto, stepToProto } from './mappers';

const DEFAULT_WINDOW = { start: 540, end: 1020 };
const WEEKDAYS = 62; // Monday..Friday

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function schedule(v: Validator, s: metadataV1.CampaignSchedule | undefined): campaigns.Schedule {
  const timezone = v.string('schedule.timezone', s?.timezone, { max: 64 }) || 'UTC';
  v.check(isTimeZone(timezone), 'schedule.timezone', 'UNKNOWN_VALUE', `schedule.timezone must be an IANA time zone like Europe/Berlin, got "${timezone}"`);
  let start = s?.windowStartMinute ?? 0;
  let end = s?.windowEndMinute ?? 0;
  if (start === 0 && end === 0) ({ start, end } = DEFAULT_WINDOW);
  v.int('schedule.window_start_minute', start, { min: 0, max: 1439 });
  v.int('schedule.window_end_minute', end, { min: 1, max: 1440 });
  v.check(start < end, 'schedule.window_end_minute', 'OUT_OF_RANGE', 'schedule.window_end_minute must be after window_start_minute');
  let sendDays = 0;
  for (const d of s?.sendDays ?? []) {
    if (!Number.isInteger(d) || d < 0 || d > 6) v.add('schedule.send_days', 'OUT_OF_RANGE', `schedule.send_days holds weekdays 0 (Sunday) .. 6, got ${d}`);
    else sendDays |= 1 << d;
  }
  return { timezone, windowStartMinute: start, windowEndMinute: end, sendDays: sendDays || WEEKDAYS, startAt: s?.startAt ?? null };
}

function stepFields(v: Validator, r: { stepNumber?: number; delayMinutes?: number; subjectTemplateKey?: string; bodyTemplateKey?: string }, required: boolean) {
  const out: Partial<Pick<steps.StepRow, 'stepNumber' | 'delayMinutes' | 'subjectTemplateKey' | 'bodyTemplateKey'>> = {};
  if (required || r.stepNumber !== undefined) out.stepNumber = v.int('step_number', r.stepNumber, { min: 1, max: steps.MAX_STEPS });
  if (required || r.delayMinutes !== undefined) out.delayMinutes = v.int('delay_minutes', r.delayMinutes, { min: 0, max: 525_600 });
  if (required || r.subjectTemplateKey !== undefined) out.subjectTemplateKey = v.string('subject_template_key', r.subjectTemplateKey, { max: 500, required: true });
  if (required || r.bodyTemplateKey !== undefined) out.bodyTemplateKey = v.string('body_template_key', r.bodyTemplateKey, { max: 500, required: true });
  return out;
}

export function campaignHandlers(deps: ServerDeps) {
  return {
    async createCampaign(req: metadataV1.CreateCampaignRequest): Promise<metadataV1.CreateCampaignResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const name = v.string('name', req.name, { max: 200, required: true });
      const sched = schedule(v, req.schedule);
      v.done();
      await assertTenant(deps.prisma, tenantId);
      return { campaign: campaignToProto(await campaigns.createCampaign(deps.prisma, { tenantId, name, ...sched })) };
    },
    async getCampaign(req: metadataV1.GetCampaignRequest): Promise<metadataV1.GetCampaignResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('campaign_id', req.campaignId);
      v.done();
      return { campaign: campaignToProto(await campaigns.getCampaign(deps.prisma, tenantId, id)) };
    },
    async updateCampaign(req: metadataV1.UpdateCampaignRequest): Promise<metadataV1.UpdateCampaignResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('campaign_id', req.campaignId);
      const name = req.name === undefined ? undefined : v.string('name', req.name, { max: 200, required: true });
      const sched = req.schedule ? schedule(v, req.schedule) : {};
      v.done();
      const row = await campaigns.updateCampaign(deps.prisma, tenantId, id, { ...(name !== undefined ? { name } : {}), ...sched });
      return { campaign: campaignToProto(row) };
    },
    async updateCampaignStatus(req: metadataV1.UpdateCampaignStatusRequest): Promise<metadataV1.UpdateCampaignStatusResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('campaign_id', req.campaignId);
      const status = v.enumValue('status', req.status, campaignStatus.names);
      v.done();
      const row = await campaigns.changeCampaignStatus(deps.pool, deps.names, tenantId, id, campaignStatus.toDb(status));
      return { campaign: campaignToProto(row) };
    },
    async listCampaigns(req: metadataV1.ListCampaignsRequest): Promise<metadataV1.ListCampaignsResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const status = req.status ? campaignStatus.toDb(v.enumValue('status', req.status, campaignStatus.names)) : undefined;
      const binding = JSON.stringify(['campaigns', tenantId, status]);
      const size = pageSizeOf(v, deps, req.page);
      v.done();
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const res = await campaigns.listCampaigns(deps.pool, tenantId, { status }, cursor, size);
      return { campaigns: res.rows.map(campaignToProto), page: { nextPageToken: encodeCursor(deps.pageTokens, res.next, binding) } };
    },

    async createSequenceStep(req: metadataV1.CreateSequenceStepRequest): Promise<metadataV1.CreateSequenceStepResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const campaignId = v.uuid('campaign_id', req.campaignId);
      const f = stepFields(v, req, true) as Required<ReturnType<typeof stepFields>>;
      v.done();
      return { step: stepToProto(await steps.createStep(deps.prisma, { tenantId, campaignId, ...f })) };
    },
    async getSequenceStep(req: metadataV1.GetSequenceStepRequest): Promise<metadataV1.GetSequenceStepResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('sequence_step_id', req.sequenceStepId);
      v.done();
      return { step: stepToProto(await steps.getStep(deps.prisma, tenantId, id)) };
    },
    async updateSequenceStep(req: metadataV1.UpdateSequenceStepRequest): Promise<metadataV1.UpdateSequenceStepResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('sequence_step_id', req.sequenceStepId);
      const patch = stepFields(v, req, false);
      v.done();
      return { step: stepToProto(await steps.updateStep(deps.prisma, tenantId, id, patch)) };
    },
    async listSequenceSteps(req: metadataV1.ListSequenceStepsRequest): Promise<metadataV1.ListSequenceStepsResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const campaignId = v.uuid('campaign_id', req.campaignId);
      v.done();
      return { steps: (await steps.listSteps(deps.prisma, tenantId, campaignId)).map(stepToProto) };
    },
    async deleteSequenceStep(req: metadataV1.DeleteSequenceStepRequest): Promise<metadataV1.DeleteSequenceStepResponse> {
      const v = new Validator();
      const tenantId = tenantOf(v, req.tenantId);
      const id = v.uuid('sequence_step_id', req.sequenceStepId);
      v.done();
      await steps.deleteStep(deps.prisma, tenantId, id);
      return {};
    },
  };
}
