import { CAMPAIGN_COLUMNS, type CampaignRow, type Queryable } from './rows';

/**
 * Hand-written: runs on the pg client of the transaction that holds lockCampaign's lock (and
 * writes the outbox row), returning the new row for the event.
 */
export async function updateCampaignStatus(db: Queryable, tenantId: string, id: string, status: string): Promise<CampaignRow> {
  const { rows } = await db.query<CampaignRow>(
    `update campaigns set status = $3, updated = now() where tenant_id = $1 and id = $2 returning ${CAMPAIGN_COLUMNS}`,
    [tenantId, id, status],
  );
  return rows[0];
}
