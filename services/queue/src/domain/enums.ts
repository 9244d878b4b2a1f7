import { queueV1 } from '@penguinmails/contracts';

/** The `jobs.status` values (checked by jobs_status_check) and their proto enum. */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'] as const;
export type JobStatusValue = (typeof JOB_STATUSES)[number];

const STATUS_TO_PROTO: Record<JobStatusValue, queueV1.JobStatus> = {
  queued: queueV1.JobStatus.JOB_STATUS_QUEUED,
  running: queueV1.JobStatus.JOB_STATUS_RUNNING,
  succeeded: queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
  failed: queueV1.JobStatus.JOB_STATUS_FAILED,
  dead: queueV1.JobStatus.JOB_STATUS_DEAD,
  cancelled: queueV1.JobStatus.JOB_STATUS_CANCELLED,
};

export function statusToProto(s: string): queueV1.JobStatus {
  return STATUS_TO_PROTO[s as JobStatusValue] ?? queueV1.JobStatus.JOB_STATUS_UNSPECIFIED;
}

export function statusFromProto(s: queueV1.JobStatus): JobStatusValue | undefined {
  return JOB_STATUSES.find((k) => STATUS_TO_PROTO[k] === s);
}

/** Final statuses: nothing moves a job out of them. */
export const FINAL_STATUSES: readonly JobStatusValue[] = ['succeeded', 'dead', 'cancelled'];

/** The `job_logs.level` values (checked by job_logs_level_check). */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevelValue = (typeof LOG_LEVELS)[number];

const LEVEL_TO_PROTO: Record<LogLevelValue, queueV1.JobLogLevel> = {
  debug: queueV1.JobLogLevel.JOB_LOG_LEVEL_DEBUG,
  info: queueV1.JobLogLevel.JOB_LOG_LEVEL_INFO,
  warn: queueV1.JobLogLevel.JOB_LOG_LEVEL_WARN,
  error: queueV1.JobLogLevel.JOB_LOG_LEVEL_ERROR,
};

export function levelToProto(l: string): queueV1.JobLogLevel {
  return LEVEL_TO_PROTO[l as LogLevelValue] ?? queueV1.JobLogLevel.JOB_LOG_LEVEL_UNSPECIFIED;
}

export function levelFromProto(l: queueV1.JobLogLevel): LogLevelValue | undefined {
  return LOG_LEVELS.find((k) => LEVEL_TO_PROTO[k] === l);
}
