import { LEAD_COLUMNS, type LeadInsert, type LeadRow, type Queryable } from './rows';

/**
 * Hand-written: a bulk insert. One `insert … select from unnest(…) on conflict do nothing
 * returning`: one round trip for thousands of rows (ImportLeads) instead of one per lead, and
 * addresses the tenant has already are skipped, not an error. Returns the inserted rows.
 */
export async function insertLeads(db: Queryable, tenantId: string, leads: LeadInsert[]): Promise<LeadRow[]> {
  const { rows } = await db.query<LeadRow>(
    `insert into leads (tenant_id, email, first_name, last_name, company, custom_fields, status)
     select $1, * from unnest($2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::jsonb[], $7::varchar[])
     on conflict (tenant_id, email) do nothing
     returning ${LEAD_COLUMNS}`,
    [
      tenantId,
      leads.map((l) => l.email),
      leads.map((l) => l.firstName),
      leads.map((l) => l.lastName),
      leads.map((l) => l.company),
      leads.map((l) => JSON.stringify(l.customFields ?? {})),
      leads.map((l) => l.status),
    ],
  );
  return rows;
}
