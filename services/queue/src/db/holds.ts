import type { Pool, PoolClient } from 'pg';

/**
 * Holds (HoldJobs / ReleaseJobs, and the tier's own hold of `campaign:<id>`, consumers/
 * campaign-holds.ts). A job with a hold_key waits as `held` while job_holds holds its key.
 *
 * The two statements of a change must run in one transaction, in this order:
 *  1. setHoldRow: the key's row gets the new `held`. Its row lock waits for every statement in
 *     flight that asked pm_queue_hold_status about the key (they read the row FOR SHARE until
 *     they commit), and every such statement that starts later waits for this transaction and
 *     then reads the new value.
 *  2. holdJobs / releaseJobs: moves the key's jobs. A new statement, so a new snapshot in READ
 *     COMMITTED: it sees every job those waited-for statements committed.
 * Together: when HoldJobs commits, no job of the key is runnable (and none can become so while
 * it stays held); when ReleaseJobs commits, none is held. Why not a filter in the claim instead:
 * a paused campaign's backlog would sit in front of every claim's index scan, read and skipped
 * on every call; as HELD it is out of the claim indexes altogether (migration 20270103000000_job_holds).
 */

/**
 * Step 1: sets the key's `held`. `sourceSeq` (the consumer's JetStream stream sequence) makes
 * the change conditional: an event older than the one that set the row last changes nothing
 * (a redelivery after a newer event). False when nothing changed for that reason.
 */
export async function setHoldRow(db: PoolClient, a: { tenantId: string; holdKey: string; held: boolean; sourceSeq?: number }): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'queue_set_hold_row',
    text: `insert into job_holds (tenant_id, hold_key, held, source_seq, updated)
           values ($1, $2, $3, $4, now())
           on conflict (tenant_id, hold_key) do update
              set held = excluded.held, source_seq = coalesce(excluded.source_seq, job_holds.source_seq), updated = now()
            where excluded.source_seq is null or job_holds.source_seq is null or job_holds.source_seq < excluded.source_seq`,
    values: [a.tenantId, a.holdKey, a.held, a.sourceSeq ?? null],
  });
  return rowCount === 1;
}

/** Step 2 of a hold: the key's queued and failed jobs → held. Returns how many. */
export async function holdJobs(db: PoolClient, a: { tenantId: string; holdKey: string }): Promise<number> {
  const { rowCount } = await db.query({
    name: 'queue_hold_jobs',
    text: `update jobs set status = 'held', updated = now()
            where tenant_id = $1 and hold_key = $2 and status in ('queued', 'failed')`,
    values: [a.tenantId, a.holdKey],
  });
  return rowCount ?? 0;
}

/**
 * Step 2 of a release: the key's held jobs → queued (attempts and last_error kept; each runs at
 * its run_at), and one NOTIFY per queue they are in, as an enqueue's, to wake long-polling
 * claimers (the insert trigger does not see an update). Returns how many.
 */
export async function releaseJobs(db: PoolClient, a: { tenantId: string; holdKey: string }): Promise<number> {
  const { rows } = await db.query<{ queue: string; jobs: number }>({
    name: 'queue_release_jobs',
    text: `with released as (
             update jobs set status = 'queued', updated = now()
              where tenant_id = $1 and hold_key = $2 and status = 'held'
             returning queue
           )
           select queue, count(*)::int as jobs, pg_notify('pm_queue_jobs', $1::text || ' ' || queue) as notified
             from released group by queue`,
    values: [a.tenantId, a.holdKey],
  });
  return rows.reduce((n, r) => n + r.jobs, 0);
}

export interface HoldRow {
  holdKey: string;
  heldSince: Date;
  heldJobs: number;
}

/**
 * A page of the tenant's held keys in key order, after `afterKey` (job_holds_held_idx), each with
 * its count of HELD jobs (jobs_hold_key_idx). `limit` rows at most; the caller asks for one more
 * than the page to know whether another follows.
 */
export async function listHolds(db: Pool, a: { tenantId: string; afterKey?: string; limit: number }): Promise<HoldRow[]> {
  const { rows } = await db.query<{ holdKey: string; heldSince: Date; heldJobs: string }>({
    name: 'queue_list_holds',
    text: `select h.hold_key as "holdKey", h.updated as "heldSince",
                  (select count(*) from jobs j where j.tenant_id = h.tenant_id and j.hold_key = h.hold_key and j.status = 'held')::text as "heldJobs"
             from job_holds h
            where h.tenant_id = $1 and h.held and ($2::varchar is null or h.hold_key > $2)
            order by h.hold_key
            limit $3`,
    values: [a.tenantId, a.afterKey ?? null, a.limit],
  });
  return rows.map((r) => ({ holdKey: r.holdKey, heldSince: r.heldSince, heldJobs: Number(r.heldJobs) }));
}

/**
 * Makes sure the key has its job_holds row (not held when new), so that statements enqueueing
 * jobs of the key later only read it FOR SHARE and never insert it: a schedule's fires, which
 * take several keys in one statement in no particular order, cannot deadlock on new rows.
 */
export async function ensureHoldRow(db: Pool | PoolClient, a: { tenantId: string; holdKey: string }): Promise<void> {
  await db.query({
    name: 'queue_ensure_hold_row',
    text: `insert into job_holds (tenant_id, hold_key) values ($1, $2) on conflict do nothing`,
    values: [a.tenantId, a.holdKey],
  });
}
