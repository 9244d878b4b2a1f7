import type { Queryable } from './rows';

/**
 * Hand-written: moves the leads `ids` that are in one of the statuses `from` to `status`, in
 * one statement; the rows are locked in id order first (two recording batches touching the
 * same leads cannot deadlock). Returns how many changed.
 */
export async function updateLeadsStatus(db: Queryable, tenantId: string, ids: string[], from: readonly string[], status: string): Promise<number> {
  if (ids.length === 0) return 0;
  const res = await db.query(
    `with l as (select id from leads where tenant_id = $1 and id = any($2::uuid[]) and status = any($3::varchar[]) order by id for update)
     update leads set status = $4, updated = now() from l where leads.id = l.id`,
    [tenantId, ids, [...from], status],
  );
  return res.rowCount ?? 0;
}
