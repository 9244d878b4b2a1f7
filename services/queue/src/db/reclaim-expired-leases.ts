import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import { notifyLeasesEnded } from './listen-runnable-jobs';
import type { JobRow } from './prisma';

/**
 * Takes back the jobs of one tenant's queue whose lease ended: their worker died or hung. Each
 * counts as a failed attempt: FAILED and runnable at once (the lease already served as the
 * delay), or DEAD when it was the last attempt — a job that kills its worker every time must
 * not loop forever. A log line per job records whose lease expired, in the same statement.
 *
 * Runs in the claim's transaction, before the claim, so an expired job is claimable by that
 * very call: no sweeper process has to be alive for work to be recovered. `skip locked` again,
 * so concurrent claimers split the expired rows instead of waiting on each other; the
 * `status = 'running' and locked_until <= now()` re-check after locking keeps a job that was
 * just completed or extended from being taken back.
 *
 * It also answers whether the queue has runnable jobs of concurrency groups (`groupedRunnable`,
 * one probe of `jobs_grouped_runnable_idx`, an empty index when nobody uses groups): the claim
 * runs the grouped steps (claim-grouped-jobs.ts) only then, so a claim without grouped jobs
 * makes the round trips it made before groups existed. Measured with `bench:queue --variants
 * service,separate-groups-probe` (interleaved rows, one run, 8 s each, 2 shared cores): the
 * groups statement as a round trip of its own before every claim cost, at batch 1, 14 % and 27 %
 * of jobs/s (1 / 4 workers, load ~28) and 7 % and 47 % (load ~14); at batch 50 it was within the
 * noise. Folded in here, what remains is one `exists` descent into an (empty) partial index.
 * The answer is read in this statement's snapshot: a grouped job enqueued a moment later is
 * seen by the next claim. Every reclaimed row comes with the flag; with none reclaimed, one row
 * of nulls carries it (`left join`).
 *
 * Taken-back attempts are announced on `pm_queue_lease_ended` (CheckLeases of their workers).
 *
 * Named statement (parsed once per connection): it runs before every claim, and when nothing
 * expired (the usual case) it runs in 0.1 ms but takes 0.7 ms to prepare (EXPLAIN, 220k jobs);
 * see claim-jobs.ts for the measurement.
 */
export async function reclaimExpiredLeases(
  db: PoolClient,
  args: { tenantId?: string; queue: string; limit: number },
): Promise<{ reclaimed: JobRow[]; groupedRunnable: boolean }> {
  // Without a tenant (a platform worker's claim across tenants): the same statement over the
  // queue of every tenant. Two statement texts, not `($1 is null or tenant_id = $1)`, so each
  // keeps its own plan on jobs_leased_idx.
  const all = args.tenantId === undefined;
  const { rows } = await db.query<JobRow & { groupedRunnable: boolean }>({
    name: all ? 'queue_reclaim_expired_leases_all' : 'queue_reclaim_expired_leases',
    text: `with expired as (
       select id, locked_by, locked_until
         from jobs
        where ${all ? '$1::uuid is null' : 'tenant_id = $1'}
          and queue = $2
          and status = 'running'
          and locked_until <= now()
        order by locked_until
        limit $3
          for update skip locked
     ), reclaimed as (
       update jobs
          set status = case when jobs.attempts >= jobs.max_attempts then 'dead'
                            when jobs.hold_key is null then 'failed'
                            -- the retry waits while its hold key is held (db/holds.ts)
                            else pm_queue_hold_status(jobs.tenant_id, jobs.hold_key, 'failed') end,
              finished = case when jobs.attempts >= jobs.max_attempts then now() end,
              run_at = now(),
              locked_by = null,
              locked_until = null,
              last_error = format('lease of worker %s expired at %s before the job was completed or failed',
                                  expired.locked_by, expired.locked_until),
              updated = now()
         from expired
        where jobs.id = expired.id
       returning ${jobColumns()}
     ), logged as (
       insert into job_logs (job_id, tenant_id, attempt, level, message)
       select id, "tenantId", attempts, 'error', "lastError" from reclaimed
     )
     select r.*, p.grouped as "groupedRunnable"
       from (select exists(select 1 from jobs g
                            where ${all ? '$1::uuid is null' : 'g.tenant_id = $1'} and g.queue = $2
                              and g.status in ('queued', 'failed') and g.group_key is not null and g.run_at <= now()) as grouped) p
       left join reclaimed r on true`,
    values: [args.tenantId ?? null, args.queue, args.limit],
  });
  const groupedRunnable = rows[0]?.groupedRunnable ?? false;
  const reclaimed = rows.filter((r) => r.id !== null).map(({ groupedRunnable: _, ...row }) => row as JobRow);
  // Their workers may be alive and waiting in CheckLeases (a hung handler, a lost heartbeat): tell
  // them when this commits. Only when something expired, i.e. not on the claim's usual path.
  if (reclaimed.length) await notifyLeasesEnded(db, reclaimed.map((r) => r.id));
  return { reclaimed, groupedRunnable };
}
