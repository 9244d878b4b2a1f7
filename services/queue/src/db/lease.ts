/** Who must hold a running job for a worker call to act on it. */
export interface LeaseHolder {
  tenantId: string;
  jobId: string;
  workerId: string;
  /**
   * The attempt number the worker was handed. A fencing token: if the lease expired and the
   * same worker id claimed the job again, the stale first attempt still cannot act on it.
   */
  attempt: number;
}

/**
 * The where clause of every lease-holder transition ($1..$4 = tenant, job, worker, attempt).
 *
 * runningAndHeldBy, not `status = 'running' and …`: a plain status test lets the planner
 * prove the predicate of the partial index jobs_leased_idx (where status = 'running'), and with
 * statistics that count almost no running jobs (the usual case: ANALYZE sees jobs waiting or
 * done) it estimated one row there and read EVERY running job of the tenant through that index
 * to find this one (EXPLAIN: `Index Scan using jobs_leased_idx … Index Cond: (tenant_id = $1)
 * Filter: (id = $2 …)`), so each CompleteJob, FailJob and ExtendLease cost grew with the
 * tenant's running jobs. A `case` is opaque to that proof: no partial index is a candidate and
 * the job is one probe of jobs_pkey. Same rows: null (false) for any status but running.
 */
export const runningAndHeldBy = (worker: string, attempt: string) =>
  `case jobs.status when 'running' then jobs.locked_by = ${worker} and jobs.attempts = ${attempt} end`;

/**
 * A plan per call: the statements that find a worker's jobs by id (HOLDS_LEASE, completeJobs,
 * failJobs) are unnamed, so PostgreSQL plans each execution with its values. A named statement
 * switches to a cached generic plan after five executions when that plan costs no more than the
 * custom ones, and keeps it until an ANALYZE or a DDL invalidates it. The jobs table grows from
 * empty faster than ANALYZE runs (never, with autovacuum off), so a plan cached on a few rows
 * stayed a seq scan: CompleteJobs cached `Nested Loop → Materialize → Seq Scan on jobs` (every
 * job read once per id of the batch, 95-100 ms a call of 50 at ~60k rows; auto_explain in
 * bench:queue-sdk-worker, where it made 3 of 12 rounds 5-7x slower). Planning each call costs
 * ~0.1 ms. The enqueue statements stay named: an insert from `unnest` has one plan whatever the
 * table's size, and planning it with its 1000-row arrays cost ~3 µs a job (A/B, 2026-11-28).
 */
export const HOLDS_LEASE = `tenant_id = $1 and id = $2 and ${runningAndHeldBy('$3', '$4')}`;

export const leaseParams = (l: LeaseHolder) => [l.tenantId, l.jobId, l.workerId, l.attempt];
