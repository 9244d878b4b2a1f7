import { CAMPAIGN_COLUMNS, type CampaignRow, type Queryable } from './rows';

/**
 * Hand-written: `select … for update`, which Prisma cannot express. Locks the campaign so two
 * concurrent status transitions are judged one after the other. Undefined if none.
 */
export async function lockCampaign(db: Queryable, tenantId: string, id: string): Promise<CampaignRow | undefined> {
  const { rows } = await db.query<CampaignRow>(`select ${CAMPAIGN_COLUMNS} from campaigns where tenant_id = $1 and id = $2 for update`, [tenantId, id]);
  return rows[0];
}
