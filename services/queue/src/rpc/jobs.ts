import { queueV1 } from '@penguinmails/contracts';
import { Validator, decodeCursor, encodeCursor, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { statusFromProto } from '../domain/enums';
import * as jobs from '../domain/jobs';
import type { LeaseHolder } from '../domain/jobs';
import { toJob } from './mappers';
import { jsonSize, name, optionalTime } from './validate';

type JobHandlers = Pick<
  Handlers<queueV1.QueueServiceServer>,
  'enqueueJob' | 'getJob' | 'listJobs' | 'claimJobs' | 'extendLease' | 'completeJob' | 'failJob' | 'cancelJob'
>;

/** Thin handlers: validate (INVALID_ARGUMENT naming every wrong field, nothing written) → domain → proto. */
export function jobHandlers(deps: ServerDeps): JobHandlers {
  const { limits } = deps;

  const leaseHolder = (v: Validator, req: { tenantId: string; jobId: string; workerId: string; attempt: number }): LeaseHolder => ({
    tenantId: v.uuid('tenant_id', req.tenantId),
    jobId: v.uuid('job_id', req.jobId),
    workerId: v.string('worker_id', req.workerId, { max: 200, required: true }),
    attempt: v.int('attempt', req.attempt, { min: 1, max: 100 }),
  });

  const leaseSeconds = (v: Validator, value: number) =>
    value === 0 ? limits.leaseSecondsDefault : v.int('lease_seconds', value, { min: 1, max: limits.leaseSecondsMax });

  return {
    enqueueJob: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const queue = name(v, 'queue', req.queue);
      const task = name(v, 'task', req.task);
      jsonSize(v, 'payload', req.payload, limits.payloadMaxBytes);
      const priority = v.int('priority', req.priority, { min: -1000, max: 1000 });
      const runAt = optionalTime(v, 'run_at', req.runAt);
      const maxAttempts = req.maxAttempts === 0 ? limits.maxAttemptsDefault : v.int('max_attempts', req.maxAttempts, { min: 1, max: 100 });
      // Keys are compared exactly: no trimming.
      const idempotencyKey = v.string('idempotency_key', req.idempotencyKey, { max: 200, trim: false }) || undefined;
      v.done();
      const { row, created } = await jobs.enqueueJob(deps, {
        tenantId,
        queue,
        task,
        payload: req.payload ?? {},
        priority,
        runAt,
        maxAttempts,
        idempotencyKey,
      });
      return { job: toJob(row), created };
    },

    getJob: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const jobId = v.uuid('job_id', req.jobId);
      v.done();
      return { job: toJob(await jobs.getJob(deps, tenantId, jobId)) };
    },

    listJobs: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const pageSize = v.pageSize('page.page_size', req.page?.pageSize, { default: limits.pageSizeDefault, max: limits.pageSizeMax });
      v.enumValue('status', req.status, queueV1.JobStatus, { required: false });
      const queue = name(v, 'queue', req.queue, { required: false }) || undefined;
      v.done();
      const status = statusFromProto(req.status);
      const binding = JSON.stringify(['jobs', tenantId, status ?? '', queue ?? '']);
      const cursor = decodeCursor(deps.pageTokens, req.page?.pageToken, binding);
      const page = await jobs.listJobs(deps, { tenantId, status, queue, cursor, size: pageSize });
      return { jobs: page.rows.map(toJob), page: { nextPageToken: encodeCursor(deps.pageTokens, page.next, binding) } };
    },

    claimJobs: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const queue = name(v, 'queue', req.queue);
      const workerId = v.string('worker_id', req.workerId, { max: 200, required: true });
      const limit = req.maxJobs === 0 ? 1 : v.int('max_jobs', req.maxJobs, { min: 1, max: limits.claimBatchMax });
      const lease = leaseSeconds(v, req.leaseSeconds);
      v.done();
      const rows = await jobs.claimJobs(deps, { tenantId, queue, workerId, limit, leaseSeconds: lease });
      return { jobs: rows.map(toJob) };
    },

    extendLease: async (req) => {
      const v = new Validator();
      const holder = leaseHolder(v, req);
      const lease = leaseSeconds(v, req.leaseSeconds);
      v.done();
      return { job: toJob(await jobs.extendLease(deps, holder, lease)) };
    },

    completeJob: async (req) => {
      const v = new Validator();
      const holder = leaseHolder(v, req);
      v.done();
      return { job: toJob(await jobs.completeJob(deps, holder)) };
    },

    failJob: async (req) => {
      const v = new Validator();
      const holder = leaseHolder(v, req);
      const error = v.string('error', req.error, { max: 10_000, required: true });
      const retryAfterSeconds = v.int('retry_after_seconds', req.retryAfterSeconds, { min: 0, max: 86_400 });
      v.done();
      return { job: toJob(await jobs.failJob(deps, holder, { error, permanent: req.permanent, retryAfterSeconds })) };
    },

    cancelJob: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const jobId = v.uuid('job_id', req.jobId);
      v.done();
      return { job: toJob(await jobs.cancelJob(deps, tenantId, jobId)) };
    },
  };
}
