import type { PoolClient } from 'pg';

/** Which finished jobs a retention batch removes, and after how long. */
export type FinishedClass = 'succeeded' | 'dead_or_cancelled';

const STATUS: Record<FinishedClass, string> = {
  succeeded: `status = 'succeeded'`,
  dead_or_cancelled: `status in ('dead', 'cancelled')`,
};

/**
 * Deletes up to `limit` jobs of one class that finished more than `olderThanSeconds` ago
 * (the database's clock), oldest first; their job_logs go with them (`on delete cascade`,
 * through `job_logs (job_id, …)`). Returns how many jobs.
 *
 * `for update skip locked` on finished rows only: claims, completions and the lease sweep never
 * touch a finished row, so a retention batch never makes them wait, and two replicas running
 * retention split the rows instead of queueing. The scan is `jobs_finished_idx (finished) where
 * status in (succeeded, dead, cancelled)`: only rows it will delete are read. The status test is
 * written out per class (not a parameter), so the planner can match the partial index.
 * A batch is bounded (e.g. 1000 jobs): short transactions, short locks, and WAL in slices.
 */
export async function deleteFinishedJobs(db: PoolClient, args: { cls: FinishedClass; olderThanSeconds: number; limit: number }): Promise<number> {
  const { rowCount } = await db.query({
    name: `queue_delete_finished_jobs_${args.cls}`,
    text: `with doomed as (
       select id from jobs
        where ${STATUS[args.cls]} and finished < now() - make_interval(secs => $1)
        order by finished
        limit $2
          for update skip locked
     )
     delete from jobs using doomed where jobs.id = doomed.id`,
    values: [args.olderThanSeconds, args.limit],
  });
  return rowCount ?? 0;
}
