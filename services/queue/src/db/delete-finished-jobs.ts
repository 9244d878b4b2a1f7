import type { PoolClient } from 'pg';

/** Which finished jobs a retention batch removes, and after how long. */
export type FinishedClass = 'succeeded' | 'dead_or_cancelled';

const STATUS: Record<FinishedClass, string> = {
  succeeded: `status = 'succeeded'`,
  dead_or_cancelled: `status in ('dead', 'cancelled')`,
};

/**
 * Deletes up to `limit` jobs of one class that finished more than `olderThanSeconds` ago
 * (the database's clock); their job_logs go with them (`on delete cascade`, through
 * `job_logs (job_id, …)`). Returns how many jobs.
 *
 * There is no index on `finished` (migration 20261231000000_jobs_no_finished_index: it cost every
 * completion an index entry, ~12 % of processing throughput). A job finishes after it was
 * created, so a job that finished before the cutoff was created before it too: the statement
 * walks the tenants (a loose scan of `jobs_status_created_idx`, one descent per tenant: PostgreSQL
 * before 18 has no skip scan) and reads each tenant's range `(tenant_id, <finished status>,
 * created < cutoff)` of that index, checking `finished < cutoff` on the rows, until it has `limit`
 * jobs; the recursive CTE is evaluated only as far as the limit needs. What it reads beyond the
 * rows it deletes: one index descent per tenant with nothing to delete (~10 µs: ~10 ms for
 * 1,000 tenants, measured on 1.1 M jobs), and jobs created before the cutoff that finished after
 * it (a job delayed or retried for longer than the retention), until they are old enough. That
 * second cost is real for this product: sequence steps are enqueued with a delay (run_at days
 * ahead), and each of them is read by every sweep for as long as its delay (from created +
 * retention to finished + retention). Measured: one tenant with 400,000 such jobs (created 8 days
 * ago, finished an hour ago, retention 7 days) makes a sweep that deletes nothing take 160-270 ms
 * (warm cache; rows inserted together, so their heap pages are few), every
 * QUEUE_RETENTION_INTERVAL_MS. The index this replaced cost every completion an entry instead;
 * at the benchmark's 30,000 jobs/s that was ~12 % of processing (bench/README.md).
 * Oldest first within a tenant for succeeded jobs (the index order); tenants in id order.
 *
 * `for update skip locked` on finished rows only: claims, completions and the lease sweep never
 * touch a finished row, so a retention batch never makes them wait, and two replicas running
 * retention split the rows instead of queueing. The status test is written out per class (not a
 * parameter), so the planner can match the partial index. A batch is bounded (e.g. 1000 jobs):
 * short transactions, short locks, and WAL in slices.
 */
export async function deleteFinishedJobs(db: PoolClient, args: { cls: FinishedClass; olderThanSeconds: number; limit: number }): Promise<number> {
  const { rowCount } = await db.query({
    name: `queue_delete_finished_jobs_${args.cls}`,
    text: `with recursive tenants(tenant_id) as (
       (select tenant_id from jobs where status <> 'running' order by tenant_id limit 1)
       union all
       select (select j.tenant_id from jobs j where j.status <> 'running' and j.tenant_id > t.tenant_id order by j.tenant_id limit 1)
         from tenants t
        where t.tenant_id is not null
     ), doomed as (
       select d.id
         from tenants t
        cross join lateral (
          select id from jobs
           where jobs.tenant_id = t.tenant_id and ${STATUS[args.cls]}
             and created < now() - make_interval(secs => $1)
             and finished < now() - make_interval(secs => $1)
           limit $2
             for update skip locked
        ) d
        limit $2
     )
     delete from jobs using doomed where jobs.id = doomed.id`,
    values: [args.olderThanSeconds, args.limit],
  });
  return rowCount ?? 0;
}
