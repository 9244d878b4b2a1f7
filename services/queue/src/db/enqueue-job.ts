import { uuid7 } from './uuid7';
import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

export interface NewJob {
  tenantId: string;
  queue: string;
  task: string;
  payload: unknown;
  /** The payload as JSON text (EnqueueJobs' payload_json, checked by the rpc layer); wins over `payload`. */
  payloadJson?: string;
  priority: number;
  /** Undefined = now (the database's clock, like every other time the queue compares). */
  runAt?: Date;
  maxAttempts: number;
  idempotencyKey?: string;
  /** Concurrency group and its limit of running jobs (claim-grouped-jobs.ts). */
  groupKey?: string;
  groupLimit?: number;
  /** At most one waiting job per key; with `debounce` a new enqueue replaces it; with `throttleSeconds` one per window. */
  singletonKey?: string;
  debounce?: boolean;
  throttleSeconds?: number;
  /** While job_holds holds this key the job waits as `held` (db/holds.ts). */
  holdKey?: string;
}

/**
 * Inserts the job, or returns the existing one with the same (tenant, queue, idempotency_key).
 *
 * `on conflict do nothing` rather than select-then-insert: two concurrent enqueues with one key
 * cannot both insert (the second waits on the unique index for the first to commit, then
 * skips), and a rolled-back first lets the second insert. When nothing was inserted the winner
 * is committed and visible to the follow-up select in READ COMMITTED. The existing row comes
 * back with `samePayload` so the caller can refuse a key reused for different work.
 */
export async function enqueueJob(db: PoolClient, job: NewJob): Promise<{ row: JobRow; created: boolean; sameWork: boolean }> {
  const inserted = await db.query<JobRow>(
    `insert into jobs (id, tenant_id, queue, task, payload, priority, run_at, max_attempts, idempotency_key)
     values ($9, $1, $2, $3, $4::jsonb, $5, coalesce($6::timestamptz, now()), $7, $8)
     on conflict (tenant_id, queue, idempotency_key) where idempotency_key is not null do nothing
     returning ${jobColumns()}`,
    [job.tenantId, job.queue, job.task, JSON.stringify(job.payload ?? {}), job.priority, job.runAt ?? null, job.maxAttempts, job.idempotencyKey ?? null, uuid7()],
  );
  if (inserted.rows[0]) return { row: inserted.rows[0], created: true, sameWork: true };
  const existing = await db.query<JobRow & { sameWork: boolean }>(
    `select ${jobColumns()}, (jobs.task = $4 and jobs.payload = $5::jsonb) as "sameWork"
       from jobs
      where tenant_id = $1 and queue = $2 and idempotency_key = $3`,
    [job.tenantId, job.queue, job.idempotencyKey ?? null, job.task, JSON.stringify(job.payload ?? {})],
  );
  const row = existing.rows[0];
  // Only reachable if the conflicting row vanished between the two statements (no RPC deletes jobs).
  if (!row) throw new Error(`enqueue: idempotency key ${job.idempotencyKey} conflicted but no job holds it`);
  const { sameWork, ...rest } = row;
  return { row: rest as JobRow, created: false, sameWork };
}
