import type { PoolClient } from 'pg';
import { PURGE_CANDIDATE_COLUMNS, type PurgeCandidate } from './rows';

/**
 * Locks up to `limit` orphans, oldest first, with their logical sizes: live objects created more
 * than `olderThanMs` ago that no message ref names (no content_refs row). The caller cuts the
 * batch by bytes and deletes them (deleteContentKeys; attachments go by the FK's cascade).
 * Expired objects are left to the retention sweeper (their reason is EXPIRED).
 *
 * Hand-written for `for update skip locked` (replicas sweep at once, never deleting or
 * announcing an object twice) and the anti-join on content_refs' primary key. The scan walks
 * content_objects_created_idx from the oldest object and stops after `limit` orphans; when
 * there are none it visits every object older than the cutoff (one index probe each), so its
 * cost grows with the table: see README "Orphans".
 */
export async function lockOrphanCandidates(client: PoolClient, opts: { limit: number; olderThanMs: number }): Promise<PurgeCandidate[]> {
  const { rows } = await client.query<PurgeCandidate>(
    `select ${PURGE_CANDIDATE_COLUMNS} from content_objects c
      where c.created < now() - make_interval(secs => $2)
        and (c.expires is null or c.expires > now())
        and not exists (select 1 from content_refs r where r.tenant_id = c.tenant_id and r.storage_key = c.storage_key)
      order by c.created
      limit $1
        for update of c skip locked`,
    [opts.limit, opts.olderThanMs / 1000],
  );
  return rows;
}
