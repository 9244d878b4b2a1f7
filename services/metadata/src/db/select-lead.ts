import { LEAD_COLUMNS, type LeadRow, type Queryable } from './rows';

/**
 * Hand-written: reads the lead with the same select list (custom_fields as jsonb) as
 * insertLeads and updateLead return, so all three give one row shape. Undefined if none.
 */
export async function selectLead(db: Queryable, tenantId: string, id: string): Promise<LeadRow | undefined> {
  const { rows } = await db.query<LeadRow>(`select ${LEAD_COLUMNS} from leads where tenant_id = $1 and id = $2`, [tenantId, id]);
  return rows[0];
}
