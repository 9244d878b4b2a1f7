import type { Pool } from 'pg';
import { AbortedError, withTransaction } from '@penguinmails/service-kit';
import { deleteGroupLimit, listGroupLimits as listGroupLimitsSql, upsertGroupLimit, type GroupLimitKey, type GroupLimitRow } from '../db/group-limits';
import { notifyRunnable } from '../db/listen-runnable-jobs';

// Group limits (SetGroupLimit / ListGroupLimits): how many jobs of a concurrency group may run at
// once, set per tenant, queue and group (or for a queue's every group: group_key ''), or for a
// queue's every group in every tenant (the platform's setting: no tenant, group_key ''). The
// grouped claim reads them (db/claim-grouped-jobs.ts, lockRunnableGroups).

/**
 * Sets (maxRunning 1..1000) or removes (0) one setting. Long-polling claimers of the queue are
 * woken in the same transaction (the NOTIFY goes out when it commits), as by a release: a raised
 * limit may make grouped jobs claimable now. A removed setting comes back with maxRunning 0 and
 * no `updated`.
 */
export async function setGroupLimit(
  pool: Pool,
  a: GroupLimitKey & { maxRunning: number },
): Promise<Omit<GroupLimitRow, 'updated'> & { updated?: Date }> {
  return withTransaction(pool, async (client) => {
    let row: Omit<GroupLimitRow, 'updated'> & { updated?: Date };
    if (a.maxRunning === 0) {
      await deleteGroupLimit(client, a);
      row = { queue: a.queue, groupKey: a.groupKey, maxRunning: 0 };
    } else {
      const set = await upsertGroupLimit(client, a);
      if (!set) throw new AbortedError(`group limit ${a.queue}/${a.groupKey} was changed by other calls while this one set it; call again`);
      row = set;
    }
    // The platform's setting wakes the queue's claimers of every tenant (wake-ups.ts: tenant '*').
    await notifyRunnable(client, a.tenantId ?? '*', a.queue);
    return row;
  });
}

/** A page of a tenant's (or the platform's) settings in (queue, group key) order, and the cursor of the next one. */
export async function listGroupLimits(
  pool: Pool,
  a: { tenantId?: string; queue?: string; after?: { queue: string; groupKey: string }; size: number },
): Promise<{ rows: GroupLimitRow[]; next?: { queue: string; groupKey: string } }> {
  const rows = await listGroupLimitsSql(pool, { ...a, limit: a.size + 1 });
  const page = rows.slice(0, a.size);
  const last = page[page.length - 1];
  return { rows: page, next: rows.length > a.size ? { queue: last.queue, groupKey: last.groupKey } : undefined };
}
