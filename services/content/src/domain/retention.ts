import { contentV1 } from '@penguinmails/contracts';
import { PeriodicTask, withTransaction, type EventNames, type Logger } from '@penguinmails/service-kit';
import type { Pool, PoolClient } from 'pg';
import { deleteExpiredContent } from '../db/delete-expired-content';
import { deleteExpiredNotifications } from '../db/delete-expired-notifications';
import { emitContentDeleted } from './events';

/**
 * Deletes expired objects (up to `limit`, oldest expiry first, or only `storageKey`) with their
 * ContentDeleted (EXPIRED) events, in the caller's transaction; resolves with how many.
 */
export async function deleteExpired(client: PoolClient, names: EventNames, opts: { limit: number; storageKey?: string }): Promise<number> {
  const deleted = await deleteExpiredContent(client, opts);
  await emitContentDeleted(client, names, deleted, contentV1.DeletionReason.DELETION_REASON_EXPIRED);
  return deleted.length;
}

/**
 * The retention policy of the content tier: objects past `expires` are deleted (attachments by
 * cascade) in batches, each batch with its ContentDeleted events in one transaction. Reads
 * already hide expired objects, so the sweeper's lag only costs disk, never correctness.
 * Safe on every replica at once (`skip locked`).
 */
export class RetentionSweeper extends PeriodicTask {
  constructor(private readonly opts: { pool: Pool; names: EventNames; logger: Logger; intervalMs: number; batchSize: number }) {
    super({ logger: opts.logger, intervalMs: opts.intervalMs, doneMessage: 'retention: expired content deleted', failedMessage: 'retention sweep failed; will retry' });
  }

  run(): Promise<number> {
    return this.sweep();
  }

  /** Deletes every expired object, batch by batch; resolves with how many. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.sweepOnce();
      total += n;
      if (n < this.opts.batchSize || this.stopped) return total;
    }
  }

  /**
   * One batch in one transaction: expired objects, and as many expired notifications (no event:
   * nobody needs to hear that a read-and-expired notice left); resolves with the larger count,
   * so the sweep goes on while either has a full batch.
   */
  async sweepOnce(): Promise<number> {
    return withTransaction(this.opts.pool, async (client) => {
      const objects = await deleteExpired(client, this.opts.names, { limit: this.opts.batchSize });
      const notices = await deleteExpiredNotifications(client, this.opts.batchSize);
      return Math.max(objects, notices);
    });
  }
}
