import { FailedPreconditionError, NotFoundError } from '@penguinmails/service-kit';
import { mapPrismaError, type PrismaClient, type PrismaTx } from '../db/prisma';
import { shareLockCampaign } from '../db/share-lock-campaign';
import { withArticle } from './article';

// Steps of a campaign's sequence, unique by (campaign_id, step_number). They can change only
// while the campaign is draft or paused: an active campaign's send workers read them. The
// campaign row is locked (for share) in the same transaction so a concurrent activation waits.
// Deleting a step keeps the message refs sent for it (sequence_step_id → NULL).

export interface StepRow {
  id: string;
  tenantId: string;
  campaignId: string;
  stepNumber: number;
  delayMinutes: number;
  subjectTemplateKey: string;
  bodyTemplateKey: string;
  created: Date;
  updated: Date;
}

export const EDITABLE_CAMPAIGN_STATUSES = ['draft', 'paused'];
export const MAX_STEPS = 100;

async function lockEditableCampaign(tx: PrismaTx, tenantId: string, campaignId: string): Promise<void> {
  const status = await shareLockCampaign(tx, tenantId, campaignId);
  if (status === undefined) throw new NotFoundError('campaign', campaignId);
  if (!EDITABLE_CAMPAIGN_STATUSES.includes(status)) {
    throw new FailedPreconditionError(`campaign ${campaignId}`, `steps of ${withArticle(status)} campaign cannot change; pause it first`);
  }
}

export async function createStep(prisma: PrismaClient, input: Omit<StepRow, 'id' | 'created' | 'updated'>): Promise<StepRow> {
  try {
    return await prisma.$transaction(async (tx) => {
      await lockEditableCampaign(tx, input.tenantId, input.campaignId);
      return tx.campaignSequenceStep.create({ data: input });
    });
  } catch (err) {
    return mapPrismaError(err, 'sequence_step', `step ${input.stepNumber} of campaign ${input.campaignId}`);
  }
}

export async function getStep(prisma: PrismaClient, tenantId: string, id: string): Promise<StepRow> {
  const s = await prisma.campaignSequenceStep.findFirst({ where: { id, tenantId } });
  if (!s) throw new NotFoundError('sequence_step', id);
  return s;
}

export async function updateStep(
  prisma: PrismaClient,
  tenantId: string,
  id: string,
  patch: Partial<Pick<StepRow, 'stepNumber' | 'delayMinutes' | 'subjectTemplateKey' | 'bodyTemplateKey'>>,
): Promise<StepRow> {
  try {
    return await prisma.$transaction(async (tx) => {
      const cur = await tx.campaignSequenceStep.findFirst({ where: { id, tenantId } });
      if (!cur) throw new NotFoundError('sequence_step', id);
      await lockEditableCampaign(tx, tenantId, cur.campaignId);
      return tx.campaignSequenceStep.update({ where: { id }, data: patch });
    });
  } catch (err) {
    return mapPrismaError(err, 'sequence_step', `step ${patch.stepNumber} of its campaign`);
  }
}

export async function deleteStep(prisma: PrismaClient, tenantId: string, id: string): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const cur = await tx.campaignSequenceStep.findFirst({ where: { id, tenantId } });
    if (!cur) throw new NotFoundError('sequence_step', id);
    await lockEditableCampaign(tx, tenantId, cur.campaignId);
    await tx.campaignSequenceStep.delete({ where: { id } });
  });
}

export async function listSteps(prisma: PrismaClient, tenantId: string, campaignId: string): Promise<StepRow[]> {
  const campaign = await prisma.campaign.findFirst({ where: { id: campaignId, tenantId }, select: { id: true } });
  if (!campaign) throw new NotFoundError('campaign', campaignId);
  return prisma.campaignSequenceStep.findMany({ where: { tenantId, campaignId }, orderBy: { stepNumber: 'asc' }, take: MAX_STEPS });
}
