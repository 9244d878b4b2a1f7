import { withTransaction } from '@penguinmails/service-kit';
import type { Pool } from 'pg';
import { cancelWaitingJobs } from '../db/cancel-job';
import { holdJobs as holdJobsSql, listHolds as listHoldsSql, releaseJobs as releaseJobsSql, setHoldRow, type HoldRow } from '../db/holds';

// Hold keys: a tenant's jobs tagged with a key wait (HELD) while the key is held. The rules of
// how a hold and the enqueues, failures and expired leases racing with it agree are in db/holds.ts.

export interface HoldChange {
  /** False: an older event than the one that set the key last (nothing changed). */
  applied: boolean;
  /** Jobs moved: to HELD by a hold, to QUEUED by a release, to CANCELLED by a hold that cancels. */
  jobs: number;
}

/**
 * Holds or releases a key of a tenant in one transaction (see db/holds.ts for the order). A hold
 * with `cancel` cancels the key's waiting jobs instead of holding them: the row is held first,
 * so nothing of the key becomes runnable meanwhile, and jobs enqueued later wait as HELD.
 */
export async function setHold(pool: Pool, a: { tenantId: string; holdKey: string; held: boolean; cancel?: boolean; sourceSeq?: number }): Promise<HoldChange> {
  return withTransaction(pool, async (client) => {
    const applied = await setHoldRow(client, a);
    if (!applied) return { applied, jobs: 0 };
    const move = !a.held ? releaseJobsSql : a.cancel ? cancelWaitingJobs : holdJobsSql;
    return { applied, jobs: await move(client, a) };
  });
}

/** A page of the tenant's held keys in key order; `next` is the last key when another page follows. */
export async function listHolds(pool: Pool, a: { tenantId: string; afterKey?: string; size: number }): Promise<{ rows: HoldRow[]; next?: string }> {
  const rows = await listHoldsSql(pool, { tenantId: a.tenantId, afterKey: a.afterKey, limit: a.size + 1 });
  const page = rows.slice(0, a.size);
  return { rows: page, next: rows.length > a.size ? page[page.length - 1].holdKey : undefined };
}
