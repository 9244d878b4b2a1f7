import { metadataV1 } from '@penguinmails/contracts';
import { AlreadyExistsError, NotFoundError, outboxInsertMany, withTransaction, type EventNames } from '@penguinmails/service-kit';
import type { Pool, PoolClient } from 'pg';
import { listRows } from '../db/list';
import type { Cursor } from '../db/keyset';
import { leadStatus } from './enums';
import { EVENTS, outboxRow } from './events';

// Leads: email unique per tenant. DeleteLead (e.g. an erasure request) keeps the message refs
// sent to the lead with lead_id set NULL (FK ON DELETE SET NULL): the metadata of what was
// sent stays for analytics, the person does not.

export interface LeadRow {
  id: string;
  tenantId: string;
  email: string;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  customFields: Record<string, unknown>;
  status: string;
  created: Date;
  updated: Date;
}

export type LeadInsert = Omit<LeadRow, 'id' | 'tenantId' | 'created' | 'updated'>;

const COLUMNS = `id, tenant_id as "tenantId", email, first_name as "firstName", last_name as "lastName", company,
  custom_fields as "customFields", status, created, updated`;

export function leadToProto(r: LeadRow): metadataV1.Lead {
  return {
    id: r.id,
    tenantId: r.tenantId,
    email: r.email,
    firstName: r.firstName ?? '',
    lastName: r.lastName ?? '',
    company: r.company ?? '',
    customFields: r.customFields,
    status: leadStatus.fromDb(r.status),
    created: r.created,
    updated: r.updated,
  };
}

/**
 * Inserts leads with one `insert … select from unnest(…) on conflict do nothing returning`:
 * one round trip for thousands of rows instead of one per lead, and addresses the tenant has
 * already are skipped, not an error. LeadCreated for
 * every inserted lead goes to the outbox in the same transaction (one statement as well).
 */
async function insertLeads(c: PoolClient, names: EventNames, tenantId: string, leads: LeadInsert[]): Promise<LeadRow[]> {
  const { rows } = await c.query<LeadRow>(
    `insert into leads (tenant_id, email, first_name, last_name, company, custom_fields, status)
     select $1, * from unnest($2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::jsonb[], $7::varchar[])
     on conflict (tenant_id, email) do nothing
     returning ${COLUMNS}`,
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
  if (rows.length) {
    const q = outboxInsertMany(rows.map((r) => outboxRow(names, EVENTS.leadCreated, tenantId, { lead: leadToProto(r) })));
    await c.query(q.text, q.values);
  }
  return rows;
}

/** CreateLead: one lead; an address the tenant has already is ALREADY_EXISTS. */
export async function createLead(pool: Pool, names: EventNames, tenantId: string, lead: LeadInsert): Promise<LeadRow> {
  return withTransaction(pool, async (c) => {
    const rows = await insertLeads(c, names, tenantId, [lead]);
    if (rows.length === 0) {
      throw new AlreadyExistsError('lead', lead.email);
    }
    return rows[0];
  });
}

/** ImportLeads: all in one transaction; repeats (in the request or the table) are skipped. */
export async function importLeads(pool: Pool, names: EventNames, tenantId: string, leads: LeadInsert[]): Promise<{ created: number; skipped: string[] }> {
  const seen = new Set<string>();
  const unique: LeadInsert[] = [];
  const skipped: string[] = [];
  for (const l of leads) {
    if (seen.has(l.email)) skipped.push(l.email);
    else {
      seen.add(l.email);
      unique.push(l);
    }
  }
  const rows = await withTransaction(pool, (c) => insertLeads(c, names, tenantId, unique));
  const created = new Set(rows.map((r) => r.email));
  for (const l of unique) if (!created.has(l.email)) skipped.push(l.email);
  return { created: rows.length, skipped };
}

export async function getLead(pool: Pool, tenantId: string, id: string): Promise<LeadRow> {
  const { rows } = await pool.query<LeadRow>(`select ${COLUMNS} from leads where tenant_id = $1 and id = $2`, [tenantId, id]);
  if (rows.length === 0) throw new NotFoundError('lead', id);
  return rows[0];
}

export async function updateLead(pool: Pool, tenantId: string, id: string, patch: Partial<LeadInsert>): Promise<LeadRow> {
  const cols: Record<string, string> = { email: 'email', firstName: 'first_name', lastName: 'last_name', company: 'company', customFields: 'custom_fields', status: 'status' };
  const sets: string[] = [];
  const values: unknown[] = [tenantId, id];
  for (const [k, col] of Object.entries(cols)) {
    const v = (patch as Record<string, unknown>)[k];
    if (v === undefined) continue;
    values.push(k === 'customFields' ? JSON.stringify(v) : v);
    sets.push(`${col} = $${values.length}`);
  }
  if (sets.length === 0) return getLead(pool, tenantId, id);
  const { rows } = await pool.query<LeadRow>(
    `update leads set ${sets.join(', ')}, updated = now() where tenant_id = $1 and id = $2 returning ${COLUMNS}`,
    values,
  );
  if (rows.length === 0) throw new NotFoundError('lead', id);
  return rows[0];
}

export async function deleteLead(pool: Pool, tenantId: string, id: string): Promise<void> {
  const { rowCount } = await pool.query('delete from leads where tenant_id = $1 and id = $2', [tenantId, id]);
  if (!rowCount) throw new NotFoundError('lead', id);
}

export function listLeads(pool: Pool, tenantId: string, f: { status?: string }, cursor: Cursor | undefined, size: number) {
  return listRows<LeadRow>(pool, 'leads', COLUMNS, tenantId, [['status', f.status]], cursor, size);
}
