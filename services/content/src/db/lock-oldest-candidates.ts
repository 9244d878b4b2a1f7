import type { PoolClient } from 'pg';
import { PURGE_CANDIDATE_COLUMNS, type PurgeCandidate } from './rows';

// Hand-written: the candidates are locked `for update of c skip locked`, so replicas sweeping at
// once take disjoint rows and never delete (or announce) an object twice, and each comes with its
// size so the sweeper can cut the batch by bytes before deleting (a window function cannot
// share a query level with `for update`).

/**
 * Up to `limit` of one tenant's live, not exempted objects, oldest first (the over-budget
 * sweep: the caller holds the tenant's budget lock and cuts at the excess).
 */
export async function lockOldestCandidates(client: PoolClient, tenantId: string, limit: number): Promise<PurgeCandidate[]> {
  const { rows } = await client.query<PurgeCandidate>(
    `select ${PURGE_CANDIDATE_COLUMNS} from content_objects c
      where c.tenant_id = $1 and not c.policy_exempt and (c.expires is null or c.expires > now())
      order by c.created, c.storage_key
      limit $2
        for update of c skip locked`,
    [tenantId, limit],
  );
  return rows;
}
