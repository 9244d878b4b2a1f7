import type { Queryable } from './rows';

/**
 * Hand-written: adds to several mailboxes' hard_bounce_count in one statement (an increment,
 * not a read-then-write: concurrent recorders cannot lose a count), locking them in id order.
 */
export async function addHardBounces(db: Queryable, tenantId: string, counts: Map<string, number>): Promise<void> {
  if (counts.size === 0) return;
  const ids = [...counts.keys()].sort();
  await db.query(
    `with a as (select id from email_accounts where tenant_id = $1 and id = any($2::uuid[]) order by id for update)
     update email_accounts e set hard_bounce_count = e.hard_bounce_count + u.n, updated = now()
       from a, unnest($2::uuid[], $3::int[]) as u(aid, n)
      where e.id = a.id and e.id = u.aid`,
    [tenantId, ids, ids.map((id) => counts.get(id)!)],
  );
}
