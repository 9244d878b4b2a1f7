import { defaultMetrics, type Metrics } from '@penguinmails/service-kit';
import type { Pool } from 'pg';

/** The statuses a job waits or runs in; finished ones (succeeded, dead, cancelled) are not counted on scrape (they grow without bound). */
const LIVE = ['queued', 'running', 'failed'] as const;

/**
 * `pm_queue_jobs{status}` (queued, running, failed = waiting for a retry) and
 * `pm_queue_oldest_runnable_age_seconds` (how long the oldest runnable job has been due), read
 * on scrape through the partial indexes on live jobs; cached for 2 s so both gauges share one
 * query. No queue or tenant label: queue names are chosen by callers. Every replica reports the
 * same table: aggregate with max().
 */
export function registerQueueMetrics(pool: Pool, metrics: Metrics = defaultMetrics()): () => void {
  let last: Promise<{ counts: Map<string, number>; age: number }> | undefined;
  let at = 0;
  const read = () => {
    if (!last || Date.now() - at > 2_000) {
      at = Date.now();
      last = Promise.all([
        pool.query<{ status: string; n: string }>(`select status, count(*) as n from jobs where status = any($1::text[]) group by status`, [LIVE]),
        pool.query<{ age: number | null }>(
          // One min() per partial index of runnable jobs (ungrouped, grouped): each reads only the backlog.
          `select extract(epoch from now() - least(
                    (select min(run_at) from jobs where status in ('queued', 'failed') and group_key is null and run_at <= now()),
                    (select min(run_at) from jobs where status in ('queued', 'failed') and group_key is not null and run_at <= now())))::float8 as age`,
        ),
      ]).then(([c, a]) => ({ counts: new Map(c.rows.map((r) => [r.status, Number(r.n)])), age: Math.max(0, a.rows[0]?.age ?? 0) }));
      last.catch(() => undefined);
    }
    return last;
  };
  const a = metrics.collect('pm_queue_jobs', 'Jobs by live status (queued, running, failed and waiting for a retry).', ['status'], async () => {
    const { counts } = await read();
    return LIVE.map((status) => ({ labels: { status }, value: counts.get(status) ?? 0 }));
  });
  const b = metrics.collect('pm_queue_oldest_runnable_age_seconds', 'How long the oldest runnable job has been due, seconds (0 when none).', [], async () => [
    { value: (await read()).age },
  ]);
  return () => {
    a();
    b();
  };
}
