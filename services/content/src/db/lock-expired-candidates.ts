import type { PoolClient } from 'pg';
import { PURGE_CANDIDATE_COLUMNS, type PurgeCandidate } from './rows';

// Hand-written: the candidates are locked `for update of c skip locked`, so replicas sweeping at
// once take disjoint rows and never delete (or announce) an object twice, and each comes with its
// size so the sweeper can cut the batch by bytes before deleting (a window function cannot
// share a query level with `for update`).

/** Up to `limit` expired objects, oldest expiry first (content_objects_expires_idx). */
export async function lockExpiredCandidates(client: PoolClient, limit: number): Promise<PurgeCandidate[]> {
  const { rows } = await client.query<PurgeCandidate>(
    `select ${PURGE_CANDIDATE_COLUMNS} from content_objects c
      where c.expires <= now()
      order by c.expires
      limit $1
        for update of c skip locked`,
    [limit],
  );
  return rows;
}
