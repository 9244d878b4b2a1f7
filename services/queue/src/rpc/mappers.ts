import type { queueV1 } from '@penguinmails/contracts';
import { levelToProto } from '../domain/enums';
import { toJob, toStruct } from '../domain/events';
import type { JobLogRow } from '../domain/job-logs';
import type { ScheduleRow } from '../domain/schedules';

// Rows → proto for the replies. A Job is the same message the events carry, so its one mapping
// lives with the event payloads (domain/events.ts, which may not import rpc/) and is used here.
export { toJob };

export function toJobLog(r: JobLogRow): queueV1.JobLog {
  return {
    id: r.id,
    jobId: r.jobId,
    tenantId: r.tenantId,
    attempt: r.attempt,
    level: levelToProto(r.level),
    message: r.message,
    data: toStruct(r.data),
    created: r.created,
  };
}

export function toSchedule(r: ScheduleRow): queueV1.Schedule {
  return {
    id: r.id,
    tenantId: r.tenantId,
    name: r.name,
    cron: r.cron,
    timeZone: r.timeZone,
    queue: r.queue,
    task: r.task,
    payload: toStruct(r.payload) ?? {},
    priority: r.priority,
    maxAttempts: r.maxAttempts,
    nextFireAt: r.nextFireAt,
    lastFireAt: r.lastFireAt ?? undefined,
    created: r.created,
    pausedAt: r.pausedAt ?? undefined,
    holdKey: r.holdKey ?? '',
  };
}
