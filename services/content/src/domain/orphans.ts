import { contentV1 } from '@penguinmails/contracts';
import { PeriodicTask, type EventNames, type Logger } from '@penguinmails/service-kit';
import type { Pool, PoolClient } from 'pg';
import { deleteContentKeys } from '../db/delete-content-keys';
import { lockOrphanCandidates } from '../db/lock-orphan-candidates';
import { emitContentDeleted } from './events';
import { cutBatch, paced } from './retention';

/**
 * Deletes up to `limit` orphans older than `olderThanMs`, and no more than `batchBytes` logical
 * bytes of them (at least one), with their ContentDeleted (ORPHANED) events, in the caller's
 * transaction; resolves with how many were deleted and whether more candidates were locked.
 */
export async function deleteOrphans(
  client: PoolClient,
  names: EventNames,
  opts: { limit: number; olderThanMs: number; batchBytes?: number },
): Promise<{ deleted: number; more: boolean }> {
  const candidates = await lockOrphanCandidates(client, opts);
  const batch = cutBatch(candidates, opts.batchBytes ?? Number.MAX_SAFE_INTEGER);
  const deleted = await deleteContentKeys(client, batch.map((c) => c.storageKey));
  await emitContentDeleted(client, names, deleted, contentV1.DeletionReason.DELETION_REASON_ORPHANED);
  return { deleted: deleted.length, more: candidates.length >= opts.limit || batch.length < candidates.length };
}

export interface OrphanSweeperOptions {
  pool: Pool;
  names: EventNames;
  logger: Logger;
  /** Between sweeps (ms); 0 disables the sweeper on this replica. */
  intervalMs: number;
  /** Objects deleted per transaction. */
  batchSize: number;
  /** Logical bytes deleted per transaction at most (CONTENT_SWEEP_BATCH_BYTES; at least one object). Default: no byte cut. */
  batchBytes?: number;
  /** An object without a ref is an orphan this long after it was stored (ms); 0 disables. */
  graceMs: number;
  /**
   * How far behind the metadata stream the ref consumer is (its EventConsumer.lag). The grace
   * is extended by the age of the oldest event not yet recorded, so a lagging consumer (a
   * replay after an outage) never makes a referenced object look orphaned; when the lag cannot
   * be read (NATS down) the sweep is skipped. Absent: no extension (tests).
   */
  lag?: () => Promise<{ lagSeconds: number }>;
  /** Pause after each transaction, as a multiple of its time (CONTENT_SWEEP_PAUSE_RATIO); default 0. */
  pauseRatio?: number;
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
      const { deleted, more } = await paced(this.opts.pool, this.opts.pauseRatio ?? 0, (client) =>
        deleteOrphans(client, this.opts.names, { limit: this.opts.batchSize, olderThanMs, batchBytes: this.opts.batchBytes }),
      );
      total += deleted;
      if (!more || deleted === 0 || this.stopped) return total;
    }
  }
}
