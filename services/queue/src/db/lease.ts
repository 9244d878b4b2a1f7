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

/** The where clause of every lease-holder transition ($1..$4 = tenant, job, worker, attempt). */
export const HOLDS_LEASE = `tenant_id = $1 and id = $2 and status = 'running' and locked_by = $3 and attempts = $4`;

export const leaseParams = (l: LeaseHolder) => [l.tenantId, l.jobId, l.workerId, l.attempt];
