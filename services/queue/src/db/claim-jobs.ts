import type { PoolClient } from 'pg';
import { jobColumns } from './job-columns';
import type { JobRow } from './prisma';

/**
 * A claimed job as the lean ClaimJobs reply needs it: the payload as the jsonb's text (the
 * bytes the worker gets, never parsed into an object in this process), no timestamps.
 */
export interface LeanRow {
  id: string;
  tenantId: string;
  attempts: number;
  task: string;
  payload: string;
}

/**
 * The end of both claim statements for a lean claim: the update returns only what LeanRow
 * needs, and the rows are put in claim order by PostgreSQL (`order by` over the updated rows,
 * for which it keeps priority and run_at) instead of parsing run_at into a Date per row here.
 * Measured with --cpu-prof on the service during bench:queue-peers: see README "Measured".
 */
export const LEAN_RETURNING = `returning jobs.id, jobs.tenant_id as "tenantId", jobs.attempts, jobs.task, jobs.payload::text as payload, jobs.priority, jobs.run_at
     ) select id, "tenantId", attempts, task, payload from claimed order by priority desc, run_at, id`;

/**
 * Per job in a claim's reply, besides payload and task: ids, attempt, tags and lengths, and the
 * full Job's timestamps and other fields.
 */
export const REPLY_JOB_OVERHEAD = 512;

/**
 * The CTE `fit` over a CTE `from` of locked candidates (id, priority, run_at, bytes): the
 * candidates, in claim order, whose running total of estimated reply bytes stays within
 * `budget` (a parameter reference), and always the first.
 *
 * Why: a claim's reply is one gRPC message, and grpc-js refuses to send one over
 * GRPC_MAX_SEND_BYTES (RESOURCE_EXHAUSTED, "Sent message larger than max"). A claim of many
 * large payloads used to lease jobs whose reply was then never sent: nobody got them, they
 * stayed running until their lease ended, and each such claim cost every job an attempt.
 * Every claim statement now takes jobs in claim order while their estimated encoded size fits
 * (rpc/jobs.ts passes the budget): `bytes * weight + REPLY_JOB_OVERHEAD` per job, `bytes` being
 * the jsonb payload's text plus the task name; `weight` 1 for the lean reply (the payload goes
 * as that text), 4 for the full Job (a google.protobuf.Struct takes at most ~3.7x the JSON
 * text: an array of small numbers). Pub/Sub's pull does the same: fewer messages than asked
 * when they do not fit. The rest stay queued for the next claim.
 */
export const fitCte = (from: string, budget: string, weight: 1 | 4) => `fit as (
       select f.id from (
         select c.id, row_number() over w as n, sum(c.bytes::bigint * ${weight} + ${REPLY_JOB_OVERHEAD}) over w as total
           from ${from} c
         window w as (order by c.priority desc, c.run_at, c.id)
       ) f
      where f.n = 1 or f.total <= ${budget}
     )`;

/** The estimated bytes column of a candidate row of `jobs` (alias `t`): payload text and task. */
export const candidateBytes = (t: string) => `octet_length(${t}.payload::text) + octet_length(${t}.task) as bytes`;

/**
 * Leases up to `limit` runnable jobs of one tenant's queue to `workerId`, as many as fit in
 * the reply's budget (`maxReplyBytes`, fitCte).
 *
 * The shape is graphile-worker's (src/sql/getJobs.ts): a lowercase CTE that picks the rows
 * with `for update skip locked`, feeding an `update … returning`. Why this and not the others:
 *  - `for update` alone makes concurrent claimers queue behind the first one's row locks and
 *    then re-check rows that are no longer runnable: throughput collapses to one claimer.
 *  - advisory locks (`pg_try_advisory_xact_lock(id)` in the where clause) may lock rows the
 *    limit then discards, and need a second statement to mark them claimed.
 *  - `skip locked` makes each claimer take the next rows nobody holds; READ COMMITTED
 *    re-evaluates the where clause on the newest row version after locking, so a row another
 *    claimer committed as running in the meantime is dropped, never handed out twice.
 * The lease end is computed by the database's clock (`now()`), never the worker's, so skewed
 * worker clocks cannot shorten or stretch leases. `attempts` is bumped here, at the start of an
 * attempt: a worker that dies mid-job still used an attempt (poison jobs end up dead).
 * `ended_by` is cleared with it: whoever ended the previous attempt has no say over this one,
 * and an attempt that ends by lease expiry (reclaim-expired-leases.ts) must not look as if a
 * worker had completed or failed it (see domain/jobs.ts, endedByThisAttempt).
 *
 * Only UNGROUPED jobs (`group_key is null`): jobs of a concurrency group are claimed by
 * claim-grouped-jobs.ts under their group's lock. The index predicate says the same
 * (20261221000000_job_features), so this plan and its cost are those of before groups existed.
 *
 * Index: `jobs_runnable_idx (tenant_id, queue, priority desc, run_at, id) where status in
 * ('queued','failed') and group_key is null`, chosen with EXPLAIN (ANALYZE, BUFFERS) on 1.05M jobs (1M finished,
 * 50k runnable over 20 tenants × 5 queues), claiming 50 (PostgreSQL 15, 2 cores):
 *   partial index in claim order      index scan, no sort, 154 buffers, 2.7 ms; index 4.6 MB
 *   (tenant, status, created, id)     bitmap scan of 2500 rows + sort, 14.7 ms
 *   full (tenant, queue, status, priority desc, run_at, id)
 *                                     bitmap scan + sort (two statuses break the order), 13.3 ms; 86 MB
 * The partial index holds only the backlog, so finished jobs cost it nothing.
 *
 * A named statement (parsed and analysed once per connection): preparing this UPDATE costs more
 * than running it — EXPLAIN on 20k runnable jobs: planning 1.1-1.2 ms (294 catalog buffers),
 * execution 0.5-0.7 ms. PostgreSQL still plans it per call with the real parameters
 * (pg_prepared_statements: 0 generic, 8 custom plans after 8 runs), so the index scan above is
 * kept for any limit; what is saved is the parse, analysis and rewrite of each call.
 * Measured with `bench:queue` (database only, workers on their own connections looping
 * sweep + claim → complete + outbox row, 20k backlog, 10 s per row, named and unnamed
 * interleaved in one run; PostgreSQL 15, 2 cores, ±20 % noise per row; batch 10 at 1 worker
 * came out slower named although its claim p50 was lower, 2.5 vs 3.0 ms — noise):
 *   batch 1, workers 1 / 4 / 8    named 267 / 564 / 533 jobs/s   unnamed 226 / 451 / 363
 *                    claim p50    named 1.7 / 3.2 / 6.2 ms       unnamed 2.3 / 4.5 / 9.3 ms
 *   batch 10, workers 1 / 4 / 8   named 428 / 1202 / 1235        unnamed 534 / 832 / 1070
 * The same run answers the non-scaling suspicion: the claim scales ~2x from 1 to 4 workers on
 * 2 cores (the bench's own client is the limit: workers are idle in transaction ~50 % of the
 * samples). Dead entries of claimed jobs are killed on first visit (2-5 index entries returned
 * per claim of 1) but their pages stay until VACUUM: the index scan reads 4 buffers on a
 * vacuumed backlog and ~1.3 more per 100 claims since (72 after 5.3k claims, 0.05 → 0.45 ms).
 * At 8 workers 12-25 % of samples wait on `Lock:object`, the database-wide lock NOTIFY (the
 * outbox trigger of CompleteJob) holds through its commit.
 */
export async function claimJobs(
  db: PoolClient,
  args: { tenantId: string; queue: string; workerId: string; limit: number; leaseSeconds: number; maxReplyBytes: number },
): Promise<JobRow[]> {
  return claimJobsAs<JobRow>(db, args, false);
}

/** claimJobs with the lean reply's columns (LEAN_RETURNING), in claim order. */
export async function claimJobsLean(
  db: PoolClient,
  args: { tenantId: string; queue: string; workerId: string; limit: number; leaseSeconds: number; maxReplyBytes: number },
): Promise<LeanRow[]> {
  return claimJobsAs<LeanRow>(db, args, true);
}

async function claimJobsAs<R extends JobRow | LeanRow>(
  db: PoolClient,
  args: { tenantId: string; queue: string; workerId: string; limit: number; leaseSeconds: number; maxReplyBytes: number },
  lean: boolean,
): Promise<R[]> {
  const { rows } = await db.query<R>({
    name: lean ? 'queue_claim_jobs_lean' : 'queue_claim_jobs',
    text: `with runnable as (
       select r.id, r.priority, r.run_at, ${candidateBytes('r')}
         from jobs r
        where r.tenant_id = $1
          and r.queue = $2
          and r.status in ('queued', 'failed')
          and r.group_key is null
          and r.run_at <= now()
        order by r.priority desc, r.run_at, r.id
        limit $3
          for update skip locked
     ), ${fitCte('runnable', '$6', lean ? 1 : 4)}
     ${lean ? ', claimed as (' : ''}
     update jobs
        set status = 'running',
            attempts = jobs.attempts + 1,
            locked_by = $4,
            locked_until = now() + make_interval(secs => $5),
            ended_by = null,
            updated = now()
       from fit
      where jobs.id = fit.id
     ${lean ? LEAN_RETURNING : `returning ${jobColumns()}`}`,
    values: [args.tenantId, args.queue, args.limit, args.workerId, args.leaseSeconds, args.maxReplyBytes],
  });
  if (lean) return rows;
  // update … returning has no order; hand them out in claim order.
  return (rows as JobRow[]).sort(
    (a, b) => b.priority - a.priority || a.runAt.getTime() - b.runAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  ) as R[];
}
