/**
 * The `job_logs` columns as the camelCase names of Prisma's `JobLog` model, so a row read by
 * hand-written SQL (the kit's keyset `listPage`) is the same `JobLogRow` that Prisma returns.
 */
export const JOB_LOG_COLUMNS = ['id', 'job_id as "jobId"', 'tenant_id as "tenantId"', 'attempt', 'level', 'message', 'data', 'created'].join(', ');
