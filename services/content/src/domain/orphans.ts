import { contentV1 } from '@penguinmails/contracts';
import { PeriodicTask, withTransaction, type EventNames, type Logger } from '@penguinmails/service-kit';
import type { Pool, PoolClient } from 'pg';
import { deleteOrphanedContent } from '../db/delete-orphaned-content';
import { emitContentDeleted } from './events';

/**
 * Deletes up to `limit` orphans older than `olderThanMs` with their ContentDeleted (ORPHANED)
 * events, in the caller's transaction; resolves with how many.
 */
export async function deleteOrphans(client: PoolClient, names: EventNames, opts: { limit: number; olderThanMs: number }): Promise<number> {
  const deleted = await deleteOrphanedContent(client, opts);
  await emitContentDeleted(client, names, deleted, contentV1.DeletionReason.DELETION_REASON_ORPHANED);
  return deleted.length;
}

export interface OrphanSweeperOptions {
  pool: Pool;
  names: EventNames;
  logger: Logger;
  /** Between sweeps (ms); 0 disables the sweeper on this replica. */
  intervalMs: number;
  /** Objects deleted per transaction. */
  batchSize: number;
  /** An object without a ref is an orphan this long after it was stored (ms); 0 disables. */
  graceMs: number;
  /**
   * How far behind the metadata stream the ref consumer is (its EventConsumer.lag). The grace
   * is extended by the age of the oldest event not yet recorded, so a lagging consumer (a
   * replay after an outage) never makes a referenced object look orphaned; when the lag cannot
   * be read (NATS down) the sweep is skipped. Absent: no extension (tests).
   */
  lag?: () => Promise<{ lagSeconds: number }>;
}

/**
 * Collects content whose message ref was never recorded (its writer died between PutContent
 * and recording the ref): live objects older than the grace with no content_refs row are
 * deleted (attachments by cascade) in batches, each batch with its ContentDeleted (ORPHANED)
 * events in one transaction. Safe on every replica at once (`skip locked`).
 */
export class OrphanSweeper extends PeriodicTask {
  constructor(private readonly opts: OrphanSweeperOptions) {
    super({ logger: opts.logger, intervalMs: opts.intervalMs, doneMessage: 'orphans: content without a message ref deleted', failedMessage: 'orphan sweep failed; will retry' });
  }

  protected override enabled(): boolean {
    return super.enabled() && this.opts.graceMs > 0;
  }

  run(): Promise<number> {
    return this.sweep();
  }

  /** Deletes every orphan, batch by batch; resolves with how many (0 when disabled). */
  async sweep(): Promise<number> {
    if (this.opts.graceMs <= 0) return 0;
    // Read once per sweep: the cutoff must not move back while later batches run.
    const lagMs = this.opts.lag ? (await this.opts.lag()).lagSeconds * 1000 : 0;
    const olderThanMs = this.opts.graceMs + Math.ceil(lagMs);
    let total = 0;
    for (;;) {
      const n = await withTransaction(this.opts.pool, (client) => deleteOrphans(client, this.opts.names, { limit: this.opts.batchSize, olderThanMs }));
      total += n;
      if (n < this.opts.batchSize || this.stopped) return total;
    }
  }
}
