import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import { LEAN_RETURNING, candidateBytes, fitCte, type LeanRow } from './claim-jobs';
import type { JobRow } from './prisma';

export interface AllTenantsClaim {
  queue: string;
  workerId: string;
  limit: number;
  leaseSeconds: number;
  maxReplyBytes: number;
  /**
   * After the grouped step of the same claim (claim-grouped-jobs.ts): the per-tenant cap it
   * computed over the tenants with grouped or ungrouped work, and how many jobs it took of each
   * tenant; a tenant takes here at most its cap minus those. Without: cap = ceil(limit / T) over
   * the tenants with ungrouped work.
   */
  share?: { cap: number; taken: Map<string, number> };
}

/**
 * The recursive CTE `tenants(tenant_id)`: the tenants with runnable UNGROUPED jobs of the queue
 * (`queue`: a parameter reference), by a loose index scan of `jobs_runnable_idx` — one probe
 * per tenant, jumping from one tenant_id to the next — ending with one NULL row. Needs `with
 * recursive`.
 */
export const ungroupedTenants = (queue: string) => `tenants as (
       (select tenant_id from jobs
         where queue = ${queue} and status in ('queued', 'failed') and group_key is null and run_at <= now()
         order by tenant_id limit 1)
       union all
       select (select j.tenant_id from jobs j
                where j.tenant_id > t.tenant_id and j.queue = ${queue} and j.status in ('queued', 'failed') and j.group_key is null and j.run_at <= now()
                order by j.tenant_id limit 1)
         from tenants t
        where t.tenant_id is not null
     )`;

/**
 * claim-jobs.ts for a platform worker: leases up to `limit` runnable jobs of a queue of ANY
 * tenant, fairly: a claim of N over the T tenants that have runnable jobs of the queue takes at
 * most ceil(N / T) of each, round-robin (every tenant's first job, then every second, ...), so
 * one tenant's burst of 100k jobs cannot starve a tenant with 5: each claim serves both.
 *
 * How: the tenants with runnable work are found by a loose index scan (a recursive CTE that
 * jumps from one tenant_id to the next in `jobs_runnable_idx`, one index probe per tenant, not a
 * scan of the backlog); then, per tenant, a lateral `… order by priority desc, run_at, id limit
 * cap for update skip locked` on the same index — the per-tenant claim of claim-jobs.ts. Rows
 * are locked only up to the cap, so the final `limit` discards few (a tenant whose rows are all
 * held by other claimers counts in T, so a claim may come back short; the worker claims again).
 * Ungrouped jobs only, as claim-jobs.ts (grouped ones: claim-grouped-jobs.ts, whose step comes
 * first in the same claim and counts against the same per-tenant cap: `share`).
 * Alternatives: `row_number() over (partition by tenant_id …)` over the whole backlog of the
 * queue reads every runnable row per claim (and cannot `skip locked` through a window); a
 * claim per tenant from the service would be T round trips per claim.
 */
export async function claimJobsAllTenants(
  db: PoolClient,
  args: AllTenantsClaim,
): Promise<JobRow[]> {
  return claimAs<JobRow>(db, args, false);
}

/** claimJobsAllTenants with the lean reply's columns (claim-jobs.ts LEAN_RETURNING). */
export async function claimJobsAllTenantsLean(
  db: PoolClient,
  args: AllTenantsClaim,
): Promise<LeanRow[]> {
  return claimAs<LeanRow>(db, args, true);
}

async function claimAs<R extends JobRow | LeanRow>(
  db: PoolClient,
  args: AllTenantsClaim,
  lean: boolean,
): Promise<R[]> {
  const { rows } = await db.query<R>({
    name: lean ? 'queue_claim_jobs_all_tenants_lean' : 'queue_claim_jobs_all_tenants',
    text: `with recursive ${ungroupedTenants('$1')}, cap as (
       select coalesce($6::int, ceil($2::numeric / greatest(count(*), 1))::int) as n from tenants where tenant_id is not null
     ), taken as (
       select k.tenant_id, k.n from unnest($7::uuid[], $8::int[]) as k(tenant_id, n)
     ), picked as (
       select p.id, p.priority, p.run_at, p.bytes
         from tenants t
        cross join cap
        cross join lateral (
          select x.id, x.priority, x.run_at, x.bytes, row_number() over () as rn
            from (select r.id, r.priority, r.run_at, ${candidateBytes('r')} from jobs r
                   where r.tenant_id = t.tenant_id and r.queue = $1 and r.status in ('queued', 'failed') and r.group_key is null and r.run_at <= now()
                   order by r.priority desc, r.run_at, r.id
                   limit greatest(cap.n - coalesce((select k.n from taken k where k.tenant_id = t.tenant_id), 0), 0)
                     for update skip locked) x
        ) p
        where t.tenant_id is not null
        order by p.rn, random()
        limit $2
     ), ${fitCte('picked', '$5', lean ? 1 : 4)}${lean ? ', claimed as (' : ''}
     update jobs
        set status = 'running',
            attempts = jobs.attempts + 1,
            locked_by = $3,
            locked_until = now() + make_interval(secs => $4),
            ended_by = null,
            updated = now()
       from fit
      where jobs.id = fit.id
     ${lean ? LEAN_RETURNING : `returning ${jobColumns()}`}`,
    values: [
      args.queue,
      args.limit,
      args.workerId,
      args.leaseSeconds,
      args.maxReplyBytes,
      args.share?.cap ?? null,
      [...(args.share?.taken.keys() ?? [])],
      [...(args.share?.taken.values() ?? [])],
    ],
  });
  if (lean) return rows;
  return (rows as JobRow[]).sort(
    (a, b) => b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  ) as R[];
}
