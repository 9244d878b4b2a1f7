import {
  AlreadyExistsError,
  FailedPreconditionError,
  NotFoundError,
  withTransaction,
  takePage,
} from '@penguinmails/service-kit';
import { cancelJob as cancelJobSql } from '../db/cancel-job';
import { claimJobs as claimJobsSql } from '../db/claim-jobs';
import { completeJob as completeJobSql } from '../db/complete-job';
import { enqueueJob as enqueueJobSql, type NewJob } from '../db/enqueue-job';
import { extendLease as extendLeaseSql } from '../db/extend-lease';
import { failJob as failJobSql } from '../db/fail-job';
import { findJob } from '../db/find-job';
import type { LeaseHolder } from '../db/lease';
import type { JobRow } from '../db/prisma';
import { reclaimExpiredLeases } from '../db/reclaim-expired-leases';
import type { ServerDeps } from '../deps';
import { retryDelayMs } from './backoff';
import type { JobStatusValue } from './enums';
import { emitJobEvents } from './events';

// The rules of the `jobs` table. Every function here gets input the rpc layer validated;
// everything that changes a status runs in one transaction with the events it causes.

type Deps = Pick<ServerDeps, 'pool' | 'prisma' | 'names' | 'limits' | 'pageTokens'>;

export async function enqueueJob(deps: Deps, job: NewJob): Promise<{ row: JobRow; created: boolean }> {
  const client = await deps.pool.connect();
  try {
    const { row, created, sameWork } = await enqueueJobSql(client, job);
    if (!sameWork) {
      throw new AlreadyExistsError(
        'job',
        row.id,
        `idempotency_key "${job.idempotencyKey}" of queue "${job.queue}" already names job ${row.id} with another task or payload; ` +
          'use a new key for different work, or resend the same task and payload to get that job back',
      );
    }
    return { row, created };
  } finally {
    client.release();
  }
}

export async function getJob(deps: Deps, tenantId: string, jobId: string): Promise<JobRow> {
  const row = await deps.prisma.job.findFirst({ where: { id: jobId, tenantId } });
  if (!row) throw new NotFoundError('job', jobId);
  return row;
}

interface JobCursor {
  c: string;
  i: string;
}

/** Newest first, keyset-paged on (created, id): stable while jobs are being added. */
export async function listJobs(
  deps: Deps,
  args: { tenantId: string; status?: JobStatusValue; queue?: string; pageSize: number; pageToken?: string },
): Promise<{ rows: JobRow[]; nextPageToken: string }> {
  const binding = `jobs|${args.tenantId}|${args.status ?? ''}|${args.queue ?? ''}`;
  const cursor = deps.pageTokens.decode<JobCursor>(args.pageToken, binding);
  const after = cursor ? new Date(cursor.c) : undefined;
  const rows = await deps.prisma.job.findMany({
    where: {
      tenantId: args.tenantId,
      ...(args.status ? { status: args.status } : {}),
      ...(args.queue ? { queue: args.queue } : {}),
      ...(cursor && after ? { OR: [{ created: { lt: after } }, { created: after, id: { lt: cursor.i } }] } : {}),
    },
    orderBy: [{ created: 'desc' }, { id: 'desc' }],
    take: args.pageSize + 1,
  });
  const page = takePage(rows, args.pageSize);
  return {
    rows: page.rows,
    nextPageToken: page.last ? deps.pageTokens.encode({ c: page.last.created.toISOString(), i: page.last.id } satisfies JobCursor, binding) : '',
  };
}

/**
 * Takes back expired leases of the queue (each a failed attempt), then leases up to `limit`
 * runnable jobs to the worker; one transaction, so a job reclaimed here can be handed out by
 * this same call. Jobs that died because their last lease expired emit JobDead.
 */
export async function claimJobs(
  deps: Deps,
  args: { tenantId: string; queue: string; workerId: string; limit: number; leaseSeconds: number },
): Promise<JobRow[]> {
  return withTransaction(deps.pool, async (client) => {
    const reclaimed = await reclaimExpiredLeases(client, { tenantId: args.tenantId, queue: args.queue, limit: deps.limits.claimBatchMax });
    await emitJobEvents(client, deps.names, reclaimed);
    return claimJobsSql(client, args);
  });
}

export async function extendLease(deps: Deps, lease: LeaseHolder, leaseSeconds: number): Promise<JobRow> {
  return withTransaction(deps.pool, async (client) => {
    const row = await extendLeaseSql(client, lease, leaseSeconds);
    if (!row) throw await leaseRefusal(client, lease, 'extend the lease of');
    return row;
  });
}

export async function completeJob(deps: Deps, lease: LeaseHolder): Promise<JobRow> {
  return withTransaction(deps.pool, async (client) => {
    const row = await completeJobSql(client, lease);
    if (!row) throw await leaseRefusal(client, lease, 'complete');
    await emitJobEvents(client, deps.names, [row]);
    return row;
  });
}

export async function failJob(
  deps: Deps,
  lease: LeaseHolder,
  failure: { error: string; permanent: boolean; retryAfterSeconds: number },
): Promise<JobRow> {
  const delay =
    failure.retryAfterSeconds > 0
      ? failure.retryAfterSeconds * 1000
      : retryDelayMs(lease.attempt, { baseMs: deps.limits.retryBaseMs, maxMs: deps.limits.retryMaxMs });
  return withTransaction(deps.pool, async (client) => {
    const row = await failJobSql(client, lease, { error: failure.error, permanent: failure.permanent, retryDelayMs: delay });
    if (!row) throw await leaseRefusal(client, lease, 'fail');
    await emitJobEvents(client, deps.names, [row]);
    return row;
  });
}

export async function cancelJob(deps: Deps, tenantId: string, jobId: string): Promise<JobRow> {
  return withTransaction(deps.pool, async (client) => {
    const row = await cancelJobSql(client, { tenantId, jobId });
    if (row) return row;
    const current = await findJob(client, { tenantId, jobId });
    if (!current) throw new NotFoundError('job', jobId);
    throw new FailedPreconditionError(
      `job/${jobId}`,
      current.status === 'running'
        ? `job ${jobId} is running (leased to ${current.lockedBy}); only queued or failed jobs can be cancelled — let the worker finish or fail it`
        : `job ${jobId} is ${current.status}, which is final; only queued or failed jobs can be cancelled`,
    );
  });
}

/** Why a lease holder's call matched no row: NOT_FOUND, or the state that forbids it. */
async function leaseRefusal(client: import('pg').PoolClient, lease: LeaseHolder, action: string): Promise<Error> {
  const job = await findJob(client, { tenantId: lease.tenantId, jobId: lease.jobId });
  if (!job) return new NotFoundError('job', lease.jobId);
  const subject = `job/${lease.jobId}`;
  if (job.status !== 'running') {
    return new FailedPreconditionError(
      subject,
      `cannot ${action} job ${lease.jobId}: it is ${job.status}, not running` +
        (job.status === 'failed' || job.status === 'dead' ? ` (last error: ${clip(job.lastError ?? '')})` : '') +
        '; the lease was lost — drop this attempt',
      'LEASE',
    );
  }
  return new FailedPreconditionError(
    subject,
    `cannot ${action} job ${lease.jobId}: its lease is held by worker "${job.lockedBy}" for attempt ${job.attempts}, ` +
      `not by "${lease.workerId}" for attempt ${lease.attempt}; the job was claimed again after your lease expired — drop this attempt`,
    'LEASE',
  );
}

function clip(s: string): string {
  return s.length > 200 ? s.slice(0, 197) + '...' : s;
}
