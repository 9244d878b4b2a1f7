import type { PoolClient } from 'pg';
import { LEAN_RETURNING, candidateBytes, fitCte, type LeanRow } from './claim-jobs';
import { ungroupedTenants } from './claim-jobs-all-tenants';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/**
 * The limit a claim applies to the group (`tenant`, `queue`, `group`: SQL expressions), first
 * found: its SetGroupLimit setting, its tenant's default for the queue (group_key ''), the
 * queue's platform-wide default (platform_group_limits), `jobLimit` (the group_limit of its next
 * job), 1. One probe of group_limits_pkey, a second only when the first finds nothing (coalesce
 * stops at the first value), then the platform row: when `queue` is a parameter (the claim's $2)
 * that subquery is uncorrelated and PostgreSQL runs it once per statement (an InitPlan), not per
 * group. GetQueueStats' group_waiting reads the same expression.
 */
export const groupLimitSql = (tenant: string, queue: string, group: string, jobLimit: string) =>
  `coalesce((select l.max_running from group_limits l where l.tenant_id = ${tenant} and l.queue = ${queue} and l.group_key = ${group}),
                       (select l.max_running from group_limits l where l.tenant_id = ${tenant} and l.queue = ${queue} and l.group_key = ''),
                       (select p.max_running from platform_group_limits p where p.queue = ${queue}),
                       ${jobLimit}, 1)`;

/** The group's running (leased, unexpired) jobs as a SQL expression: a probe of jobs_group_running_idx. */
export const groupRunningSql = (tenant: string, queue: string, group: string) =>
  `(select count(*) from jobs r
                where r.tenant_id = ${tenant} and r.queue = ${queue} and r.group_key = ${group}
                  and r.status = 'running' and r.group_key is not null and r.locked_until > now())`;

/** A concurrency group this transaction holds the lock of, with its limit (its setting's, else its next job's). */
export interface LockedGroup {
  tenantId: string;
  groupKey: string;
  limit: number;
}

/** What lockRunnableGroups locked, and the per-tenant cap of the claim. */
export interface LockedGroups {
  groups: LockedGroup[];
  /**
   * The most jobs of one tenant this claim may take: the claim's limit for a tenant's own claim;
   * across tenants, ceil(limit / T) over the T tenants with claimable work of the queue, grouped
   * or not.
   */
  tenantCap: number;
}

/**
 * Step 1 of the grouped claim: walks the groups of the queue that have a runnable job and (as
 * far as this statement's snapshot can tell) room for one more running job, best next job
 * first, and takes a transaction-scoped advisory lock on each — `pg_try_advisory_xact_lock`,
 * so a group another claimer is working on right now is skipped, never waited for (no
 * deadlocks, no convoy) — until the locked groups' free slots make up `limit`. Returns the
 * groups it locked.
 *
 * Why a lock per group and a count, rather than a `job_groups` table of running counts
 * maintained by claim, complete, fail and the lease sweep (pg-boss 11+ keeps group concurrency
 * in SQL over the job table; graphile-worker keeps `job_queues.locked_at`, i.e. a limit of one):
 *  - nothing but the claim of grouped jobs changes: CompleteJob(s), FailJob(s), the lease sweep
 *    and the ungrouped claim write no counter, so they cost what they did, and a count cannot
 *    drift — a finished, failed or expired job simply stops being counted;
 *  - "running" is `status = 'running' and locked_until > now()` read from
 *    `jobs_group_running_idx`, so a lease that expired frees its slot at once (the issue:
 *    "release when jobs complete/fail/lease expires") even before the sweep takes it back.
 * The count has to be read AFTER the lock is held, in a statement whose snapshot sees every
 * claim committed by the previous holder: that is claimGroupedJobs, the next statement of the
 * same READ COMMITTED transaction (each statement takes a new snapshot; an advisory xact lock
 * is released only after its holder's commit is visible). The count here is only a filter so
 * that full groups do not fill the `limit`.
 *
 * Across tenants (a platform worker's claim, `tenantId` undefined) the tenants take turns, as
 * in claim-jobs-all-tenants.ts: T counts the tenants with a group that has room or with
 * ungrouped runnable jobs (a loose index scan of `jobs_runnable_idx`, one probe per tenant), each
 * tenant may have at most cap = ceil(limit / T) groups here, and the groups are taken round-robin
 * (every tenant's best group, then every tenant's second, ...). Before, the groups were taken in
 * claim order alone: a tenant with a burst over many mailboxes filled every claim until its
 * burst drained, and the ungrouped step after it got nothing (test/groups-keys.test.ts).
 *
 * Cost: one index descent of `jobs_grouped_runnable_idx` when the queue has no grouped jobs
 * (the common case); otherwise one descent per group with due jobs (a loose index scan: the
 * recursive `cand`), one probe of `jobs_group_running_idx` and one or two of `group_limits_pkey`
 * per group. bench:queue-groups (20,000 jobs in 200 groups of limit 5, 4 workers, bench/README.md
 * "Concurrency groups"): grouped processing at 0.33x the ungrouped rate when `cand` was a
 * `distinct on` over the whole grouped backlog (every claim read every waiting grouped job;
 * PostgreSQL 154-176 µs a job), 0.41x with the loose scan (94-96 µs), 0.55x once the walk
 * locked only the groups a claim can fill instead of the first `limit` groups (80 µs; jobs per
 * claim of 100: ~50 → ~80).
 */
export async function lockRunnableGroups(
  db: PoolClient,
  args: { tenantId?: string; queue: string; limit: number },
): Promise<LockedGroups> {
  const all = args.tenantId === undefined;
  const { rows } = await db.query<LockedGroup & { tenantCap: number }>({
    name: all ? 'queue_lock_runnable_groups_all' : 'queue_lock_runnable_groups',
    text: `with recursive ${all ? `${ungroupedTenants('$2')}, ` : ''}cand as (
       -- Each group's next due job, by a loose index scan of jobs_grouped_runnable_idx: the first
       -- due entry (index order is claim order), then from each group the first due entry of the
       -- next one — one descent per group, not a read of every waiting job.
       (select j.tenant_id, j.group_key, j.group_limit, j.priority, j.run_at, j.id
          from jobs j
         where ${all ? '$1::uuid is null' : 'j.tenant_id = $1'}
           and j.queue = $2 and j.status in ('queued', 'failed') and j.group_key is not null and j.run_at <= now()
         order by j.tenant_id, j.queue, j.group_key, j.priority desc, j.run_at, j.id
         limit 1)
       union all
       select n.*
         from cand c
        cross join lateral (
          select j.tenant_id, j.group_key, j.group_limit, j.priority, j.run_at, j.id
            from jobs j
           where ${all ? '(j.tenant_id, j.queue, j.group_key) > (c.tenant_id, $2, c.group_key)' : 'j.tenant_id = $1 and j.group_key > c.group_key'}
             and j.queue = $2 and j.status in ('queued', 'failed') and j.group_key is not null and j.run_at <= now()
           order by j.tenant_id, j.queue, j.group_key, j.priority desc, j.run_at, j.id
           limit 1) n
     ), limited as materialized (
       -- The group's limit (groupLimitSql). Materialized, so lim is computed once per group:
       -- inlined, each later use of it evaluated it again. This statement with 1,000 candidate groups (20,000 grouped jobs, one
       -- connection, 35 calls each, alternated): 17.5 ms before group limits, 18.1 ms without
       -- settings, 19.4 ms with 500 of the groups set (one "in (key, '')" probe, not
       -- materialized: 23.9 ms); with 20 groups 0.47 ms either way.
       select c.*, ${groupLimitSql('c.tenant_id', '$2', 'c.group_key', 'c.group_limit')} as lim
         from cand c
     ), counted as materialized (
       -- Each group's running (leased, unexpired) jobs, once per group.
       select c.*, ${groupRunningSql('c.tenant_id', '$2', 'c.group_key')} as running
         from limited c
     ), roomy as (
       select c.tenant_id, c.group_key, c.lim, c.lim - c.running as free, c.priority, c.run_at, c.id,
              row_number() over (partition by c.tenant_id order by c.priority desc, c.run_at, c.id) as turn
         from counted c
        where c.running < c.lim
     ), cap as (
       select ${
         all
           ? `ceil($3::numeric / greatest((select count(*) from (select tenant_id from tenants where tenant_id is not null union select tenant_id from roomy) u), 1))::int`
           : '$3::int'
       } as n
     ), ordered as (
       -- The groups with room, best next job first (tenants taking turns), as arrays the walk
       -- below reads by position.
       select array_agg(r.tenant_id order by r.turn, r.priority desc, r.run_at, r.id) as t,
              array_agg(r.group_key order by r.turn, r.priority desc, r.run_at, r.id) as g,
              array_agg(r.lim order by r.turn, r.priority desc, r.run_at, r.id) as l,
              array_agg(r.free order by r.turn, r.priority desc, r.run_at, r.id) as f,
              count(*) as total, max(cap.n) as cap
         from roomy r cross join cap
        where r.turn <= cap.n
     ), walk as (
       -- Down that list, each group try-locked in turn, until the locked groups' free slots make
       -- up the claim's limit: a group another claimer holds is passed over for the next one,
       -- and no more groups are locked than the claim can fill. (Before, the first groups up to
       -- the claim's limit were chosen and then locked: concurrent claimers chose the same best
       -- groups, the first took them all, and the others came back empty — bench:queue-groups,
       -- half the claims of 4 workers.)
       select 0 as i, 0::bigint as got, false as locked
       union all
       select w.i + 1,
              w.got + case when k.locked then o.f[w.i + 1] else 0 end,
              k.locked
         from walk w
        cross join ordered o
        cross join lateral (
          select pg_try_advisory_xact_lock(hashtextextended('pm_queue_group ' || o.t[w.i + 1]::text || ' ' || $2 || ' ' || o.g[w.i + 1], 0)) as locked
        ) k
        where w.i < o.total and w.got < $3
     )
     select o.t[w.i] as "tenantId", o.g[w.i] as "groupKey", o.l[w.i] as "limit", o.cap as "tenantCap"
       from walk w cross join ordered o
      where w.locked`,
    values: [args.tenantId ?? null, args.queue, args.limit],
  });
  // The cap is the statement's, the same on every row; with no row locked nothing uses it.
  return { groups: rows, tenantCap: rows[0]?.tenantCap ?? args.limit };
}

/**
 * Step 2 of the grouped claim, for the groups lockRunnableGroups locked: per group, counts its
 * running (leased, unexpired) jobs — now exact, see above — and leases at most `limit − running`
 * of its runnable jobs (claim order within the group, `for update skip locked`), then the best
 * `max` of all those, at most `tenantCap` of a tenant, tenants taking turns (for one tenant's
 * claim: claim order). Returns the claimed rows (full or lean, as claim-jobs.ts).
 * The limit (lockRunnableGroups) is the group's SetGroupLimit setting, else the queue's default
 * setting, else the `group_limit` of the group's next job (jobs of one group should share it).
 */
export async function claimGroupedJobs<L extends boolean>(
  db: PoolClient,
  args: { queue: string; workerId: string; limit: number; leaseSeconds: number; groups: LockedGroup[]; tenantCap: number; maxReplyBytes: number },
  lean: L,
): Promise<L extends true ? LeanRow[] : JobRow[]> {
  const { rows } = await db.query({
    name: lean ? 'queue_claim_grouped_jobs_lean' : 'queue_claim_grouped_jobs',
    text: `with g as (
       select t.tenant_id, t.group_key, t.lim,
              ${groupRunningSql('t.tenant_id', '$3', 't.group_key')} as running
         from unnest($1::uuid[], $2::varchar[], $4::int[]) as t(tenant_id, group_key, lim)
     ), picked as (
       select q.id, q.priority, q.run_at, q.bytes from (
         select p.id, p.priority, p.run_at, p.bytes,
                row_number() over (partition by g.tenant_id order by p.priority desc, p.run_at, p.id) as turn
           from g
          cross join lateral (
            select j.id, j.priority, j.run_at, ${candidateBytes('j')} from jobs j
             where j.tenant_id = g.tenant_id and j.queue = $3 and j.group_key = g.group_key
               and j.status in ('queued', 'failed') and j.group_key is not null and j.run_at <= now()
             order by j.priority desc, j.run_at, j.id
             limit greatest(g.lim - g.running, 0)
               for update skip locked
          ) p
       ) q
        where q.turn <= $9
        order by q.turn, q.priority desc, q.run_at, q.id
        limit $5
     ), ${fitCte('picked', '$8', lean ? 1 : 4)}
     ${lean ? ', claimed as (' : ''}
     update jobs
        set status = 'running',
            attempts = jobs.attempts + 1,
            locked_by = $6,
            locked_until = now() + make_interval(secs => $7),
            ended_by = null,
            updated = now()
       from fit
      where jobs.id = fit.id
     ${lean ? LEAN_RETURNING : `returning ${jobColumns()}`}`,
    values: [
      args.groups.map((x) => x.tenantId),
      args.groups.map((x) => x.groupKey),
      args.queue,
      args.groups.map((x) => x.limit),
      args.limit,
      args.workerId,
      args.leaseSeconds,
      args.maxReplyBytes,
      args.tenantCap,
    ],
  });
  return rows as L extends true ? LeanRow[] : JobRow[];
}
