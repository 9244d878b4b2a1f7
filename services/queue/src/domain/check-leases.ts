import { leaseStates, type LeaseState } from '../db/lease-states';
import type { JobRow } from '../db/prisma';
import type { ServerDeps } from '../deps';
import { leaseRefusal } from './jobs';
import { leaseKey, longPoll } from './wake-ups';

type Deps = Pick<ServerDeps, 'pool' | 'limits' | 'wakeups'>;

/** An attempt its worker no longer holds, and why (CheckLeases' LostLease). */
export interface LostLease {
  jobId: string;
  attempt: number;
  /** cancelled: CancelJob (include_running) ended it; lost: anything else (LeaseLoss). */
  reason: 'cancelled' | 'lost';
  /** What leaseRefusal would tell the worker's next call for the attempt. */
  detail: string;
}

/**
 * Which of `jobs` (attempts `workerId` claimed) it no longer holds, in request order. Held means
 * what lets the worker still complete the attempt: running, leased to it, the same attempt — a
 * lease that ran out but was not taken back still counts, except in a concurrency group, whose
 * slot is free once the lease runs out (leaseRefusal says the same to its ExtendLease).
 *
 * `waitMs` > 0 and every attempt held: waits — never past the call's deadline — until the end
 * of one of them by a cancel or by a claim or sweep taking back its expired lease wakes it
 * (their NOTIFY, db/listen-runnable-jobs.ts notifyLeasesEnded, wake-ups.ts leaseKey, on
 * whichever replica serves this call) or, as a fallback, every `claimWaitPollMs` (notifications
 * are lost while the LISTEN connection is down; a grouped lease that merely ran out sends none),
 * and checks again (wake-ups.ts longPoll, as a waiting ClaimJobs); answers with what it found,
 * possibly nothing, when the wait ends. A read: no transaction, no lock, nothing written.
 */
export async function checkLeases(
  deps: Deps,
  args: { tenantId?: string; workerId: string; jobs: { jobId: string; attempt: number }[]; waitMs: number },
): Promise<LostLease[]> {
  return longPoll(
    deps.wakeups,
    { waitMs: args.waitMs, pollMs: deps.limits.claimWaitPollMs, keys: args.jobs.map((j) => leaseKey(j.jobId)) },
    async () => lostOf(args, await leaseStates(deps.pool, { tenantId: args.tenantId, ids: args.jobs.map((j) => j.jobId) })),
    (lost) => lost.length > 0,
  );
}

function lostOf(args: { tenantId?: string; workerId: string; jobs: { jobId: string; attempt: number }[] }, rows: LeaseState[]): LostLease[] {
  const byId = new Map(rows.map((r) => [r.id.toLowerCase(), r]));
  const out: LostLease[] = [];
  for (const { jobId, attempt } of args.jobs) {
    const row = byId.get(jobId.toLowerCase());
    const held = row && row.status === 'running' && row.lockedBy === args.workerId && row.attempts === attempt && !(row.groupKey !== null && row.expired);
    if (held) continue;
    const lease = { tenantId: args.tenantId ?? '', jobId, workerId: args.workerId, attempt };
    out.push({
      jobId,
      attempt,
      reason: row?.status === 'cancelled' && row.attempts === attempt ? 'cancelled' : 'lost',
      // The partial row has every column leaseRefusal reads.
      detail: leaseRefusal(row as JobRow | undefined, lease, 'keep working on').message,
    });
  }
  return out;
}
