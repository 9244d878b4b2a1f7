import { FailedPreconditionError, NotFoundError, listPage, withTransaction, type EventNames, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { lockCampaign } from '../db/lock-campaign';
import { mapPrismaError, type PrismaClient } from '../db/prisma';
import { CAMPAIGN_COLUMNS, type CampaignRow } from '../db/rows';
import { updateCampaignStatus } from '../db/update-campaign-status';
import { withArticle } from './article';
import { campaignStatus } from './enums';
import { EVENTS, outboxInsert, outboxRow } from './events';

// Campaigns are archived, never deleted: message refs reference them (ON DELETE RESTRICT) and
// the analytics tier aggregates by campaign id. Their steps go with them (ON DELETE CASCADE)
// should an operator ever delete one by hand.

/** Allowed status transitions (see CampaignStatus in resources.proto). */
export const CAMPAIGN_TRANSITIONS: Record<string, readonly string[]> = {
  draft: ['active', 'archived'],
  active: ['paused', 'completed'],
  paused: ['active', 'completed', 'archived'],
  completed: ['archived'],
  archived: [],
};

export type { CampaignRow };

export type Schedule = Pick<CampaignRow, 'timezone' | 'windowStartMinute' | 'windowEndMinute' | 'sendDays' | 'startAt'>;

export async function createCampaign(prisma: PrismaClient, input: { tenantId: string; name: string } & Schedule): Promise<CampaignRow> {
  return prisma.campaign.create({ data: input });
}

export async function getCampaign(prisma: PrismaClient, tenantId: string, id: string): Promise<CampaignRow> {
  const c = await prisma.campaign.findFirst({ where: { id, tenantId } });
  if (!c) throw new NotFoundError('campaign', id);
  return c;
}

export async function updateCampaign(
  prisma: PrismaClient,
  tenantId: string,
  id: string,
  patch: Partial<{ name: string } & Schedule>,
): Promise<CampaignRow> {
  try {
    return await prisma.campaign.update({ where: { id, tenantId }, data: patch });
  } catch (err) {
    return mapPrismaError(err, 'campaign', id);
  }
}

/**
 * Moves a campaign to `status` if CAMPAIGN_TRANSITIONS allows it, and writes
 * CampaignStatusChanged to the outbox in the same transaction. The row is locked (for update)
 * so two concurrent transitions are judged one after the other. Same status: no-op, no event.
 */
export async function changeCampaignStatus(pool: Pool, names: EventNames, tenantId: string, id: string, status: string): Promise<CampaignRow> {
  return withTransaction(pool, async (c) => {
    const old = await lockCampaign(c, tenantId, id);
    if (!old) throw new NotFoundError('campaign', id);
    if (old.status === status) return old;
    if (!CAMPAIGN_TRANSITIONS[old.status]?.includes(status)) {
      throw new FailedPreconditionError(
        `campaign ${id}`,
        `${withArticle(old.status)} campaign cannot become ${status}; allowed: ${CAMPAIGN_TRANSITIONS[old.status]?.join(', ') || 'none'}`,
      );
    }
    const row = await updateCampaignStatus(c, tenantId, id, status);
    const ev = outboxRow(names, EVENTS.campaignStatusChanged, tenantId, {
      campaignId: id,
      oldStatus: campaignStatus.fromDb(old.status),
      newStatus: campaignStatus.fromDb(status),
      changedAt: row.updated,
    });
    const q = outboxInsert(ev);
    await c.query(q.text, q.values);
    return row;
  });
}

export function listCampaigns(pool: Pool, tenantId: string, f: { status?: string }, cursor: KeysetCursor | undefined, size: number) {
  return listPage<CampaignRow>(pool, { table: 'campaigns', columns: CAMPAIGN_COLUMNS, tenantId, filters: [['status', f.status]], cursor, size });
}
