import type { PoolClient } from 'pg';
import { DELETED_RETURNING, type DeletedContent } from './rows';

/**
 * Deletes up to `limit` orphans, oldest first: live objects created more than `olderThanMs`
 * ago that no message ref names (no content_refs row). Their attachments go by the FK's cascade.
 * Expired objects are left to the retention sweeper (their reason is EXPIRED).
 *
 * Hand-written for `for update skip locked` (replicas sweep at once, never deleting or
 * announcing an object twice) and the anti-join on content_refs' primary key. The scan walks
 * content_objects_created_idx from the oldest object and stops after `limit` orphans; when
 * there are none it visits every object older than the cutoff (one index probe each), so its
 * cost grows with the table: see README "Orphans".
 */
export async function deleteOrphanedContent(client: PoolClient, opts: { limit: number; olderThanMs: number }): Promise<DeletedContent[]> {
  const { rows } = await client.query<DeletedContent>(
    `delete from content_objects c
      where c.storage_key in (
              select o.storage_key from content_objects o
               where o.created < now() - make_interval(secs => $2)
                 and (o.expires is null or o.expires > now())
                 and not exists (select 1 from content_refs r where r.tenant_id = o.tenant_id and r.storage_key = o.storage_key)
               order by o.created
               limit $1
                 for update of o skip locked)
      returning ${DELETED_RETURNING}`,
    [opts.limit, opts.olderThanMs / 1000],
  );
  return rows;
}
