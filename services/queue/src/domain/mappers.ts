import { queueV1 } from '@penguinmails/contracts';
import type { JobLogRow, JobRow } from '../db/prisma';
import { levelToProto, statusToProto } from './enums';

const struct = (v: unknown): { [key: string]: unknown } | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as { [key: string]: unknown }) : undefined;

/** A jobs row (from Prisma or hand-written SQL) as the proto Job. */
export function toJob(r: JobRow): queueV1.Job {
  return {
    id: r.id,
    tenantId: r.tenantId,
    queue: r.queue,
    task: r.task,
    payload: struct(r.payload) ?? {},
    status: statusToProto(r.status),
    priority: r.priority,
    runAt: r.runAt,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    lockedBy: r.lockedBy ?? '',
    lockedUntil: r.lockedUntil ?? undefined,
    idempotencyKey: r.idempotencyKey ?? '',
    lastError: r.lastError ?? '',
    created: r.created,
    updated: r.updated,
    finished: r.finished ?? undefined,
  };
}

export function toJobLog(r: JobLogRow): queueV1.JobLog {
  return {
    id: r.id,
    jobId: r.jobId,
    tenantId: r.tenantId,
    attempt: r.attempt,
    level: levelToProto(r.level),
    message: r.message,
    data: struct(r.data),
    created: r.created,
  };
}
