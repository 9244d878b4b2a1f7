import { metadataV1 } from '@penguinmails/contracts';
import { FailedPreconditionError, NotFoundError, withTransaction, type EventNames } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { listRows } from '../db/list';
import type { Cursor } from '../db/keyset';
import { mapPrismaError, type PrismaClient } from '../db/prisma';
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

export interface CampaignRow {
  id: string;
  tenantId: string;
  name: string;
  status: string;
  timezone: string;
  windowStartMinute: number;
  windowEndMinute: number;
  sendDays: number;
  startAt: Date | null;
  created: Date;
  updated: Date;
}

export type Schedule = Pick<CampaignRow, 'timezone' | 'windowStartMinute' | 'windowEndMinute' | 'sendDays' | 'startAt'>;

const COLUMNS = `id, tenant_id as "tenantId", name, status, timezone, window_start_minute as "windowStartMinute",
  window_end_minute as "windowEndMinute", send_days as "sendDays", start_at as "startAt", created, updated`;

export function campaignToProto(r: CampaignRow): metadataV1.Campaign {
  const days: number[] = [];
  for (let d = 0; d < 7; d++) if (r.sendDays & (1 << d)) days.push(d);
  return {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    status: campaignStatus.fromDb(r.status),
    schedule: {
      timezone: r.timezone,
      windowStartMinute: r.windowStartMinute,
      windowEndMinute: r.windowEndMinute,
      sendDays: days,
      startAt: r.startAt ?? undefined,
    },
    created: r.created,
    updated: r.updated,
  };
}

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
    const cur = await c.query<CampaignRow>(`select ${COLUMNS} from campaigns where tenant_id = $1 and id = $2 for update`, [tenantId, id]);
    if (cur.rowCount === 0) throw new NotFoundError('campaign', id);
    const old = cur.rows[0];
    if (old.status === status) return old;
    if (!CAMPAIGN_TRANSITIONS[old.status]?.includes(status)) {
      throw new FailedPreconditionError(
        `campaign ${id}`,
        `a ${old.status} campaign cannot become ${status}; allowed: ${CAMPAIGN_TRANSITIONS[old.status]?.join(', ') || 'none'}`,
      );
    }
    const { rows } = await c.query<CampaignRow>(
      `update campaigns set status = $3, updated = now() where tenant_id = $1 and id = $2 returning ${COLUMNS}`,
      [tenantId, id, status],
    );
    const row = rows[0];
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

export function listCampaigns(pool: Pool, tenantId: string, f: { status?: string }, cursor: Cursor | undefined, size: number) {
  return listRows<CampaignRow>(pool, 'campaigns', COLUMNS, tenantId, [['status', f.status]], cursor, size);
}
