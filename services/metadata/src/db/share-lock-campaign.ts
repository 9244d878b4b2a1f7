import type { PrismaTx } from './prisma';

/**
 * Hand-written: `select … for share`, which Prisma cannot express. Holds the campaign's status
 * for the rest of a step-editing transaction, so a concurrent activation waits for it.
 * Returns the status, undefined if the tenant has no such campaign.
 */
export async function shareLockCampaign(tx: PrismaTx, tenantId: string, campaignId: string): Promise<string | undefined> {
  const rows = await tx.$queryRawUnsafe<{ status: string }[]>(
    'select status from campaigns where tenant_id = $1::uuid and id = $2::uuid for share',
    tenantId,
    campaignId,
  );
  return rows[0]?.status;
}
