import { PeriodicTask, defaultMetrics, withTransaction, type EventNames, type Logger, type Metrics } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { notifyRunnable } from '../db/listen-runnable-jobs';
import { queuesWithExpiredLeases } from '../db/queues-with-expired-leases';
import { reclaimExpiredLeases } from '../db/reclaim-expired-leases';
import { emitJobEvents } from './events';

/** Queues looked at per run; the next run takes the rest. */
const QUEUES_PER_RUN = 1000;

/**
 * Takes back expired leases of every queue, every `intervalMs`: the jobs whose worker died or
 * hung. A claim already does this for its own queue before it claims (db/reclaim-expired-leases.ts),
 * so a queue that is being worked recovers its jobs without this task. What this adds is the
 * queue nobody claims any more (its last worker died, or workers moved on): without it, such a
 * job stays `running` with an ended lease until someone claims that queue, and its JobDead
 * (last attempt) is not published until then either.
 *
 * Each (tenant, queue) with expired leases is swept in batches of `batchSize`, one transaction
 * each, by the same statement as the claim's (so the same rules: FAILED and runnable at once, or
 * DEAD on the last attempt, a job log line, `skip locked` against claims doing the same), with
 * the same events (JobDead through the outbox). When a batch made jobs runnable again it
 * notifies `pm_queue_jobs` for that queue in the same transaction, so a worker waiting in
 * ClaimJobs is woken when it commits. Safe on every replica at once.
 * Counts `pm_queue_leases_expired_total{outcome="failed"|"dead"}`.
 */
export class LeaseSweeper extends PeriodicTask {
  private readonly expired;

  constructor(private readonly opts: { pool: Pool; names: EventNames; logger?: Logger; intervalMs: number; batchSize: number; metrics?: Metrics }) {
    super({ logger: opts.logger, intervalMs: opts.intervalMs, doneMessage: 'lease sweep: expired leases taken back', failedMessage: 'lease sweep failed; will retry' });
    this.expired = (opts.metrics ?? defaultMetrics()).counter(
      'pm_queue_leases_expired_total',
      'Running jobs whose lease ended, taken back by the lease sweeper: failed (runnable again) or dead (last attempt).',
      ['outcome'],
    );
  }

  /** Sweeps every queue with expired leases; resolves with how many jobs were taken back. */
  async run(): Promise<number> {
    let total = 0;
    for (const { tenantId, queue } of await queuesWithExpiredLeases(this.opts.pool, QUEUES_PER_RUN)) {
      for (;;) {
        if (this.stopped) return total;
        const n = await this.sweepOnce(tenantId, queue);
        total += n;
        if (n < this.opts.batchSize) break;
      }
    }
    return total;
  }

  /** One batch of one tenant's queue in one transaction. */
  async sweepOnce(tenantId: string, queue: string): Promise<number> {
    const reclaimed = await withTransaction(this.opts.pool, async (client) => {
      const { reclaimed } = await reclaimExpiredLeases(client, { tenantId, queue, limit: this.opts.batchSize });
      await emitJobEvents(client, this.opts.names, reclaimed);
      if (reclaimed.some((r) => r.status === 'failed')) await notifyRunnable(client, tenantId, queue);
      return reclaimed;
    });
    const dead = reclaimed.filter((r) => r.status === 'dead').length;
    if (dead) this.expired.inc({ outcome: 'dead' }, dead);
    if (reclaimed.length > dead) this.expired.inc({ outcome: 'failed' }, reclaimed.length - dead);
    return reclaimed.length;
  }
}
