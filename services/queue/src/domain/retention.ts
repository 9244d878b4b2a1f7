import { PeriodicTask, defaultMetrics, withTransaction, type Logger, type Metrics } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { deleteFinishedJobs, type FinishedClass } from '../db/delete-finished-jobs';

/**
 * The retention policy of the queue tier: succeeded jobs are deleted `succeededSeconds` after
 * they finished, dead and cancelled ones after `deadSeconds` (longer by default: someone may
 * still want to read why they died, or RetryJob them), each with its logs, in batches of
 * `batchSize` — one short transaction per batch (db/delete-finished-jobs.ts), so claims never
 * wait on it. Running, queued and failed (waiting for a retry) jobs are never touched. Safe on
 * every replica at once (`skip locked`). Counts what it removed in
 * `pm_queue_retention_deleted_total{status}`.
 */
export class JobRetention extends PeriodicTask {
  private readonly deleted;

  constructor(
    private readonly opts: { pool: Pool; logger?: Logger; intervalMs: number; batchSize: number; succeededSeconds: number; deadSeconds: number; metrics?: Metrics },
  ) {
    super({ logger: opts.logger, intervalMs: opts.intervalMs, doneMessage: 'retention: finished jobs deleted', failedMessage: 'retention sweep failed; will retry' });
    this.deleted = (opts.metrics ?? defaultMetrics()).counter('pm_queue_retention_deleted_total', 'Finished jobs (with their logs) deleted by retention, by status class.', ['status']);
  }

  /** Deletes every job past its retention, batch by batch; resolves with how many. */
  async run(): Promise<number> {
    let total = 0;
    for (const [cls, seconds] of [
      ['succeeded', this.opts.succeededSeconds],
      ['dead_or_cancelled', this.opts.deadSeconds],
    ] as [FinishedClass, number][]) {
      for (;;) {
        const n = await this.sweepOnce(cls, seconds);
        total += n;
        if (n < this.opts.batchSize || this.stopped) break;
      }
    }
    return total;
  }

  /** One batch of one class in one transaction. */
  async sweepOnce(cls: FinishedClass, olderThanSeconds: number): Promise<number> {
    const n = await withTransaction(this.opts.pool, (client) => deleteFinishedJobs(client, { cls, olderThanSeconds, limit: this.opts.batchSize }));
    if (n) this.deleted.inc({ status: cls }, n);
    return n;
  }
}
