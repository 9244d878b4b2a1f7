import { queueV1 } from '@penguinmails/contracts';

/**
 * Both directions between a column's values and its proto enum: a value the proto lacks maps to
 * `unspecified`, a proto number the column lacks (UNSPECIFIED, unknown) to undefined.
 */
function enumMapping<V extends string, P extends number>(toProto: Record<V, P>, unspecified: P) {
  const values = Object.keys(toProto) as V[];
  return {
    toProto: (v: string): P => toProto[v as V] ?? unspecified,
    fromProto: (p: P): V | undefined => values.find((k) => toProto[k] === p),
  };
}

/** The `jobs.status` values (checked by jobs_status_check) and their proto enum. */
export type JobStatusValue = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead' | 'cancelled' | 'held';

const STATUS = enumMapping<JobStatusValue, queueV1.JobStatus>(
  {
    queued: queueV1.JobStatus.JOB_STATUS_QUEUED,
    running: queueV1.JobStatus.JOB_STATUS_RUNNING,
    succeeded: queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
    failed: queueV1.JobStatus.JOB_STATUS_FAILED,
    dead: queueV1.JobStatus.JOB_STATUS_DEAD,
    cancelled: queueV1.JobStatus.JOB_STATUS_CANCELLED,
    held: queueV1.JobStatus.JOB_STATUS_HELD,
  },
  queueV1.JobStatus.JOB_STATUS_UNSPECIFIED,
);
export const statusToProto = STATUS.toProto;
export const statusFromProto = STATUS.fromProto;

/** The `job_logs.level` values (checked by job_logs_level_check) and their proto enum. */
export type LogLevelValue = 'debug' | 'info' | 'warn' | 'error';

const LEVEL = enumMapping<LogLevelValue, queueV1.JobLogLevel>(
  {
    debug: queueV1.JobLogLevel.JOB_LOG_LEVEL_DEBUG,
    info: queueV1.JobLogLevel.JOB_LOG_LEVEL_INFO,
    warn: queueV1.JobLogLevel.JOB_LOG_LEVEL_WARN,
    error: queueV1.JobLogLevel.JOB_LOG_LEVEL_ERROR,
  },
  queueV1.JobLogLevel.JOB_LOG_LEVEL_UNSPECIFIED,
);
export const levelToProto = LEVEL.toProto;
export const levelFromProto = LEVEL.fromProto;
