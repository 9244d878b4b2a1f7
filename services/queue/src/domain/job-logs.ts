import { NotFoundError, listPage, type KeysetCursor } from '@penguinmails/service-kit';
import { JOB_LOG_COLUMNS } from '../db/job-log-columns';
import type { JobLogRow } from '../db/prisma';
import { JOB_LOG_BYTES, pageBudget } from './reply-size';
import type { ServerDeps } from '../deps';
import type { LogLevelValue } from './enums';

// The rules of `job_logs`: lines belong to a job of the same tenant and to the job's current
// attempt; they are append-only and go when their job goes (on delete cascade).

export type { JobLogRow };

type Deps = Pick<ServerDeps, 'pool' | 'prisma' | 'grpc'>;

export async function appendJobLog(
  deps: Deps,
  args: { tenantId: string; jobId: string; level: LogLevelValue; message: string; data?: object },
): Promise<JobLogRow> {
  const job = await deps.prisma.job.findFirst({ where: { id: args.jobId, tenantId: args.tenantId }, select: { attempts: true } });
  if (!job) throw new NotFoundError('job', args.jobId);
  return deps.prisma.jobLog.create({
    data: {
      jobId: args.jobId,
      tenantId: args.tenantId,
      attempt: job.attempts,
      level: args.level,
      message: args.message,
      ...(args.data ? { data: args.data } : {}),
    },
  });
}

/**
 * Oldest first (insertion order: `created` is clock_timestamp()), keyset-paged on (created, id)
 * by the kit's `listPage`. NOT_FOUND when the job is not this tenant's.
 */
export async function listJobLogs(
  deps: Deps,
  args: { tenantId: string; jobId: string; cursor?: KeysetCursor; size: number },
): Promise<{ rows: JobLogRow[]; next?: KeysetCursor }> {
  const job = await deps.prisma.job.findFirst({ where: { id: args.jobId, tenantId: args.tenantId }, select: { id: true } });
  if (!job) throw new NotFoundError('job', args.jobId);
  return listPage<JobLogRow>(deps.pool, {
    table: 'job_logs',
    columns: JOB_LOG_COLUMNS,
    tenantId: args.tenantId,
    filters: [['job_id', args.jobId]],
    cursor: args.cursor,
    size: args.size,
    order: 'asc',
    budget: pageBudget(deps, JOB_LOG_BYTES),
  });
}
