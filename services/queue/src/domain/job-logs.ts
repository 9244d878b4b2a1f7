import { NotFoundError, takePage } from '@penguinmails/service-kit';
import type { JobLogRow } from '../db/prisma';
import type { ServerDeps } from '../deps';
import type { LogLevelValue } from './enums';

// The rules of `job_logs`: lines belong to a job of the same tenant and to the job's current
// attempt; they are append-only and go when their job goes (on delete cascade).

type Deps = Pick<ServerDeps, 'prisma' | 'pageTokens'>;

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

interface LogCursor {
  c: string;
  i: string;
}

/** Oldest first, keyset-paged on (created, id). */
export async function listJobLogs(
  deps: Deps,
  args: { tenantId: string; jobId: string; pageSize: number; pageToken?: string },
): Promise<{ rows: JobLogRow[]; nextPageToken: string }> {
  const binding = `job_logs|${args.tenantId}|${args.jobId}`;
  const cursor = deps.pageTokens.decode<LogCursor>(args.pageToken, binding);
  const job = await deps.prisma.job.findFirst({ where: { id: args.jobId, tenantId: args.tenantId }, select: { id: true } });
  if (!job) throw new NotFoundError('job', args.jobId);
  const after = cursor ? new Date(cursor.c) : undefined;
  const rows = await deps.prisma.jobLog.findMany({
    where: {
      jobId: args.jobId,
      tenantId: args.tenantId,
      ...(cursor && after ? { OR: [{ created: { gt: after } }, { created: after, id: { gt: cursor.i } }] } : {}),
    },
    orderBy: [{ created: 'asc' }, { id: 'asc' }],
    take: args.pageSize + 1,
  });
  const page = takePage(rows, args.pageSize);
  return {
    rows: page.rows,
    nextPageToken: page.last ? deps.pageTokens.encode({ c: page.last.created.toISOString(), i: page.last.id } satisfies LogCursor, binding) : '',
  };
}
