import type { Pool } from 'pg';
import { groupLimitSql, groupRunningSql } from './claim-grouped-jobs';

export interface QueueStatsRow {
  queue: string;
  queued: string;
  running: string;
  succeeded: string;
  failed: string;
  dead: string;
  cancelled: string;
  oldestRunnableAgeMs: string;
  succeededLastMinute: string;
  deadLastMinute: string;
  held: string;
  groupWaiting: string;
}

/**
 * Depth per status, oldest runnable age and the last minute's finishes of a tenant's queues,
 * in one pass over the tenant's rows (`jobs_tenant_id_status_created_id_idx` leads with the
 * tenant). Counts come back as text (bigint). A tenant's whole history is read: cheap while
 * retention keeps it bounded; a dashboard polling this every second for a tenant with millions
 * of finished jobs would want counters instead.
 *
 * `groupWaiting`: runnable jobs of concurrency groups beyond their groups' free slots, from a
 * second pass over the grouped runnable jobs only (`jobs_grouped_runnable_idx`; one probe of
 * `jobs_group_running_idx` and of `group_limits_pkey` per group): none without grouped jobs.
 *
 * Without `tenantId` (a service-scope caller's question about every tenant): the same figures
 * per queue over all tenants' jobs, i.e. one pass over the whole table (no index leads with the
 * queue) — an operator's or an autoscaler's question every few seconds at most; the Prometheus
 * gauges (metrics.ts) are the cheap always-on view.
 */
export async function getQueueStats(db: Pool, args: { tenantId?: string; queue?: string }): Promise<QueueStatsRow[]> {
  const all = args.tenantId === undefined;
  const { rows } = await db.query<QueueStatsRow>({
    name: all ? 'queue_stats_all_tenants' : 'queue_stats',
    text: `with stats as (
     select queue,
            count(*) filter (where status = 'queued')::text as queued,
            count(*) filter (where status = 'running')::text as running,
            count(*) filter (where status = 'succeeded')::text as succeeded,
            count(*) filter (where status = 'failed')::text as failed,
            count(*) filter (where status = 'dead')::text as dead,
            count(*) filter (where status = 'cancelled')::text as cancelled,
            coalesce(floor(extract(epoch from now() - min(run_at) filter (where status in ('queued', 'failed') and run_at <= now())) * 1000), 0)::bigint::text
              as "oldestRunnableAgeMs",
            count(*) filter (where status = 'succeeded' and finished > now() - interval '1 minute')::text as "succeededLastMinute",
            count(*) filter (where status = 'dead' and finished > now() - interval '1 minute')::text as "deadLastMinute",
            count(*) filter (where status = 'held')::text as held
       from jobs
      where ${all ? '$1::uuid is null' : 'tenant_id = $1'} and ($2::varchar is null or queue = $2)
      group by queue
     ), groups as materialized (
       -- Each concurrency group with runnable jobs: how many, and the group_limit of its next
       -- job in claim order (what the claim falls back to: db/claim-grouped-jobs.ts).
       select tenant_id, queue, group_key, count(*) as due,
              (array_agg(group_limit order by priority desc, run_at, id))[1] as job_limit
         from jobs
        where ${all ? '$1::uuid is null' : 'tenant_id = $1'} and ($2::varchar is null or queue = $2)
          and status in ('queued', 'failed') and group_key is not null and run_at <= now()
        group by tenant_id, queue, group_key
     ), waiting as (
       -- Per group, its runnable jobs beyond its free slots: limit (as the claim reads it)
       -- minus running (leased, unexpired) jobs.
       select g.queue,
              sum(greatest(g.due - greatest(
                ${groupLimitSql('g.tenant_id', 'g.queue', 'g.group_key', 'g.job_limit')}
                - ${groupRunningSql('g.tenant_id', 'g.queue', 'g.group_key')}, 0), 0)) as n
         from groups g
        group by g.queue
     )
     select s.*, coalesce(w.n, 0)::text as "groupWaiting"
       from stats s left join waiting w on w.queue = s.queue
      order by s.queue`,
    values: [args.tenantId ?? null, args.queue ?? null],
  });
  return rows;
}
