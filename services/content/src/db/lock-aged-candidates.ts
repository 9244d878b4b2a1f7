import type { PoolClient } from 'pg';
import { PURGE_CANDIDATE_COLUMNS, type PurgeCandidate } from './rows';

// Hand-written: the candidates are locked `for update of c skip locked`, so replicas sweeping at
// once take disjoint rows and never delete (or announce) an object twice, and each comes with its
// size so the sweeper can cut the batch by bytes before deleting (a window function cannot
// share a query level with `for update`).

/**
 * Up to `limit` live objects older than their tenant's max_age_days (a tenant's own, else
 * `defaultDays`; 0 = no limit), oldest first per tenant, skipping objects SetExpiry exempted.
 * The tenants are those with counters (tenant_usage); for each, a range of
 * content_objects_tenant_created_idx below its cutoff.
 */
export async function lockAgedCandidates(client: PoolClient, opts: { limit: number; defaultDays: number }): Promise<PurgeCandidate[]> {
  const { rows } = await client.query<PurgeCandidate>(
    `with t as (
       select u.tenant_id, coalesce(p.max_age_days, $2::int) as days
         from (select distinct tenant_id from tenant_usage) u
         left join retention_policies p on p.tenant_id = u.tenant_id
        where coalesce(p.max_age_days, $2::int) > 0)
     select o.* from t cross join lateral (
       select ${PURGE_CANDIDATE_COLUMNS} from content_objects c
        where c.tenant_id = t.tenant_id
          and c.created < now() - make_interval(days => t.days)
          and not c.policy_exempt
          and (c.expires is null or c.expires > now())
        order by c.created
        limit $1
          for update of c skip locked) o
     limit $1`,
    [opts.limit, opts.defaultDays],
  );
  return rows;
}
