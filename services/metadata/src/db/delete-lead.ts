import type { Queryable } from './rows';

/**
 * Hand-written alongside the other lead SQL (leads are written with pg, not Prisma): the
 * message refs of the lead keep their metadata with lead_id set NULL by the FK
 * (ON DELETE SET NULL, index (lead_id, created, id)). Returns whether a row was deleted.
 */
export async function deleteLead(db: Queryable, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('delete from leads where tenant_id = $1 and id = $2', [tenantId, id]);
  return !!rowCount;
}
