import { AlreadyExistsError, NotFoundError, listPage, outboxInsertMany, withTransaction, type EventNames, type KeysetCursor } from '@penguinmails/service-kit';
import type { Pool, PoolClient } from 'pg';
import { deleteLead as deleteLeadRow } from '../db/delete-lead';
import { insertLeads } from '../db/insert-leads';
import { LEAD_COLUMNS, type LeadInsert, type LeadRow } from '../db/rows';
import { selectLead } from '../db/select-lead';
import { updateLead as updateLeadRow } from '../db/update-lead';
import { EVENTS, leadOf, outboxRow } from './events';

export type { LeadInsert, LeadRow };

// Leads: email unique per tenant. DeleteLead (e.g. an erasure request) keeps the message refs
// sent to the lead with lead_id set NULL (FK ON DELETE SET NULL): the metadata of what was
// sent stays for analytics, the person does not.

/**
 * Inserts leads (one statement, known addresses skipped: db/insert-leads.ts) and LeadCreated
 * for every inserted lead to the outbox in the same transaction (one statement as well).
 */
async function createLeads(c: PoolClient, names: EventNames, tenantId: string, leads: LeadInsert[]): Promise<LeadRow[]> {
  const rows = await insertLeads(c, tenantId, leads);
  if (rows.length) {
    const q = outboxInsertMany(rows.map((r) => outboxRow(names, EVENTS.leadCreated, tenantId, { lead: leadOf(r) })));
    await c.query(q.text, q.values);
  }
  return rows;
}

/** CreateLead: one lead; an address the tenant has already is ALREADY_EXISTS. */
export async function createLead(pool: Pool, names: EventNames, tenantId: string, lead: LeadInsert): Promise<LeadRow> {
  return withTransaction(pool, async (c) => {
    const rows = await createLeads(c, names, tenantId, [lead]);
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
  const rows = await withTransaction(pool, (c) => createLeads(c, names, tenantId, unique));
  const created = new Set(rows.map((r) => r.email));
  for (const l of unique) if (!created.has(l.email)) skipped.push(l.email);
  return { created: rows.length, skipped };
}

export async function getLead(pool: Pool, tenantId: string, id: string): Promise<LeadRow> {
  const row = await selectLead(pool, tenantId, id);
  if (!row) throw new NotFoundError('lead', id);
  return row;
}

/** UpdateLead: the fields given; none given reads the lead (NOT_FOUND all the same). */
export async function updateLead(pool: Pool, tenantId: string, id: string, patch: Partial<LeadInsert>): Promise<LeadRow> {
  if (Object.values(patch).every((v) => v === undefined)) return getLead(pool, tenantId, id);
  const row = await updateLeadRow(pool, tenantId, id, patch);
  if (!row) throw new NotFoundError('lead', id);
  return row;
}

export async function deleteLead(pool: Pool, tenantId: string, id: string): Promise<void> {
  if (!(await deleteLeadRow(pool, tenantId, id))) throw new NotFoundError('lead', id);
}

/**
 * A lead's upper bound in a reply: its custom fields (≤ 16 KiB of JSON) as a
 * google.protobuf.Struct take at most ~3.7x their JSON text, so 4x, plus the short fields.
 */
const leadBytes = (r: LeadRow): number => 4 * Buffer.byteLength(JSON.stringify(r.customFields ?? {})) + 1536;

/**
 * Newest first, keyset-paged. `maxReplyBytes`: a page holds fewer than `size` leads when their
 * custom fields would not fit in one reply (100 leads of 16 KiB fields are ~6 MB as Structs,
 * over the 4 MiB GRPC_MAX_SEND_BYTES default; grpc-js refused such a page and nobody could list
 * past it); next_page_token goes on after the last lead returned.
 */
export function listLeads(pool: Pool, tenantId: string, f: { status?: string }, cursor: KeysetCursor | undefined, size: number, maxReplyBytes: number) {
  return listPage<LeadRow>(pool, {
    table: 'leads',
    columns: LEAD_COLUMNS,
    tenantId,
    filters: [['status', f.status]],
    cursor,
    size,
    budget: { maxBytes: maxReplyBytes, bytesOf: leadBytes },
  });
}
