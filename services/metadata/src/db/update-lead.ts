import { LEAD_COLUMNS, type LeadInsert, type LeadRow, type Queryable } from './rows';

const COLUMN_OF: Record<keyof LeadInsert, string> = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  company: 'company',
  customFields: 'custom_fields',
  status: 'status',
};

/**
 * Hand-written: a partial update of only the fields given (custom_fields written as jsonb
 * text), in one statement returning the row insertLeads' shape. Undefined if no such lead;
 * `patch` must set at least one field.
 */
export async function updateLead(db: Queryable, tenantId: string, id: string, patch: Partial<LeadInsert>): Promise<LeadRow | undefined> {
  const sets: string[] = [];
  const values: unknown[] = [tenantId, id];
  for (const [k, col] of Object.entries(COLUMN_OF) as [keyof LeadInsert, string][]) {
    const v = patch[k];
    if (v === undefined) continue;
    values.push(k === 'customFields' ? JSON.stringify(v) : v);
    sets.push(`${col} = $${values.length}`);
  }
  const { rows } = await db.query<LeadRow>(
    `update leads set ${sets.join(', ')}, updated = now() where tenant_id = $1 and id = $2 returning ${LEAD_COLUMNS}`,
    values,
  );
  return rows[0];
}
