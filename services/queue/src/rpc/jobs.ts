import { queueV1 } from '@penguinmails/contracts';
import { Validator, decodeCursor, defaultMetrics, encodeCursor, maxSendBytes, type Handlers } from '@penguinmails/service-kit';
import type { ServerDeps } from '../deps';
import { statusFromProto, statusToProto } from '../domain/enums';
import { checkLeases } from '../domain/check-leases';
import * as jobs from '../domain/jobs';
import type { LeaseHolder } from '../domain/jobs';
import { toJob } from './mappers';
import { jobKeys, jsonBytes, jsonSize, name, optionalTime, tenantOrEvery } from './validate';

type JobHandlers = Pick<
  Handlers<queueV1.QueueServiceServer>,
  | 'enqueueJob'
  | 'getJob'
  | 'listJobs'
  | 'claimJobs'
  | 'extendLease'
  | 'checkLeases'
  | 'completeJob'
  | 'failJob'
  | 'cancelJob'
  | 'enqueueJobs'
  | 'completeJobs'
  | 'failJobs'
  | 'retryJob'
  | 'getQueueStats'
>;

const ENQUEUE_OUTCOME = {
  created: queueV1.EnqueueOutcome.ENQUEUE_OUTCOME_CREATED,
  existing: queueV1.EnqueueOutcome.ENQUEUE_OUTCOME_EXISTING,
  key_conflict: queueV1.EnqueueOutcome.ENQUEUE_OUTCOME_KEY_CONFLICT,
  debounced: queueV1.EnqueueOutcome.ENQUEUE_OUTCOME_DEBOUNCED,
} as const;
const END_OUTCOME = {
  done: queueV1.EndOutcome.END_OUTCOME_DONE,
  repeated: queueV1.EndOutcome.END_OUTCOME_REPEATED,
  lease_lost: queueV1.EndOutcome.END_OUTCOME_LEASE_LOST,
  not_found: queueV1.EndOutcome.END_OUTCOME_NOT_FOUND,
} as const;
const toEnded = (r: jobs.EndedJob): queueV1.EndedJob => ({
  jobId: r.jobId,
  outcome: END_OUTCOME[r.outcome],
  status: r.status ? statusToProto(r.status) : queueV1.JobStatus.JOB_STATUS_UNSPECIFIED,
  message: r.message ?? '',
});

/**
 * Jobs per second for the dashboards (issue 13: "claims and completions per second"), counted
 * after the domain call returned, i.e. after its transaction committed: jobs leased by claims,
 * and attempts ended by workers (DONE outcomes only: a repeat or a lost lease ended nothing).
 * No tenant or queue label (callers choose those: unbounded).
 */
function throughputCounters() {
  const m = defaultMetrics();
  return {
    enqueued: m.counter('pm_queue_jobs_enqueued_total', 'Jobs created by EnqueueJob(s) (not existing or debounced ones).'),
    claimed: m.counter('pm_queue_jobs_claimed_total', 'Jobs leased to workers by ClaimJobs.'),
    ended: m.counter('pm_queue_jobs_ended_total', 'Attempts ended by their worker, by result (succeeded, failed: retry or dead).', ['result']),
  };
}
const doneCount = (r: jobs.EndedJob[]) => r.reduce((n, e) => n + (e.outcome === 'done' ? 1 : 0), 0);

/** Thin handlers: validate (INVALID_ARGUMENT naming every wrong field, nothing written) → domain → proto. */
export function jobHandlers(deps: ServerDeps): JobHandlers {
  const { limits } = deps;
  const maxSend = maxSendBytes(deps.grpc);
  const replyBudget = (lean: boolean, completed: number) => jobs.claimReplyBudget({ maxSendBytes: maxSend, payloadMaxBytes: limits.payloadMaxBytes, lean, completed });
  const counted = throughputCounters();

  const leaseHolder = (v: Validator, req: { tenantId: string; jobId: string; workerId: string; attempt: number }): LeaseHolder => ({
    tenantId: v.uuid('tenant_id', req.tenantId),
    jobId: v.uuid('job_id', req.jobId),
    workerId: v.string('worker_id', req.workerId, { max: 200, required: true }),
    attempt: v.int('attempt', req.attempt, { min: 1, max: 100 }),
  });

  /** The jobs of a CompleteJobs / FailJobs call: 1..batchMax, each once, each a lease holder's attempt. */
  const attempts = (v: Validator, list: queueV1.JobAttempt[], field = 'jobs', required = true) => {
    if (list.length === 0 && required) v.add(field, 'REQUIRED', `${field} needs at least one job`);
    if (list.length > limits.batchMax) v.add(field, 'TOO_MANY', `${field} has ${list.length} entries, at most ${limits.batchMax} are allowed per call`);
    const seen = new Set<string>();
    return list.slice(0, limits.batchMax).map((j, i) => {
      const jobId = v.uuid(`${field}[${i}].job_id`, j.jobId);
      if (jobId && seen.has(jobId.toLowerCase())) v.add(`${field}[${i}].job_id`, 'DUPLICATE', `job ${jobId} appears more than once in ${field}`);
      seen.add(jobId.toLowerCase());
      return { jobId, attempt: v.int(`${field}[${i}].attempt`, j.attempt, { min: 1, max: 100 }), raw: j, i };
    });
  };

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
      const keys = jobKeys(v, '', req);
      v.done();
      const job = { tenantId, queue, task, payload: req.payload ?? {}, priority, runAt, maxAttempts, idempotencyKey, ...keys };
      if (keys.groupKey || keys.singletonKey || keys.holdKey) {
        const { row, outcome } = await jobs.enqueueKeyedJob(deps, job);
        if (outcome === 'created') counted.enqueued.inc();
        return { job: toJob(row), created: outcome === 'created', outcome: ENQUEUE_OUTCOME[outcome] };
      }
      const { row, created } = await jobs.enqueueJob(deps, job);
      if (created) counted.enqueued.inc();
      return { job: toJob(row), created, outcome: created ? ENQUEUE_OUTCOME.created : ENQUEUE_OUTCOME.existing };
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

    claimJobs: async (req, ctx) => {
      const v = new Validator();
      const tenantId = tenantOrEvery(v, req.tenantId, ctx);
      const queue = name(v, 'queue', req.queue);
      const workerId = v.string('worker_id', req.workerId, { max: 200, required: true });
      const limit = req.maxJobs === 0 ? 1 : v.int('max_jobs', req.maxJobs, { min: 1, max: limits.claimBatchMax });
      const lease = leaseSeconds(v, req.leaseSeconds);
      const waitMs = v.int('wait_ms', req.waitMs, { min: 0, max: limits.claimWaitMaxMs });
      const complete = attempts(v, req.complete, 'complete', false).map((j) => {
        const f = `complete[${j.i}]`;
        jsonSize(v, `${f}.output`, j.raw.output, limits.payloadMaxBytes);
        if (j.raw.error !== '') v.add(`${f}.error`, 'NOT_ALLOWED', `${f}.error must be empty: complete ends attempts as succeeded (use FailJobs for a failure)`);
        if (j.raw.permanent) v.add(`${f}.permanent`, 'NOT_ALLOWED', `${f}.permanent must be false: complete ends attempts as succeeded`);
        if (j.raw.retryAfterSeconds !== 0) v.add(`${f}.retry_after_seconds`, 'NOT_ALLOWED', `${f}.retry_after_seconds must be 0: complete ends attempts as succeeded`);
        return { jobId: j.jobId, attempt: j.attempt, output: j.raw.output };
      });
      v.done();
      const args = { tenantId, queue, workerId, limit, leaseSeconds: lease, waitMs, complete, maxReplyBytes: replyBudget(req.lean, complete.length) };
      if (!req.lean) {
        const { rows, completed } = await jobs.claimJobs(deps, args);
        counted.claimed.inc(rows.length);
        counted.ended.inc({ result: 'succeeded' }, doneCount(completed));
        return { jobs: rows.map(toJob), claimed: [], completed: completed.map(toEnded) };
      }
      const { rows, completed } = await jobs.claimJobsLean(deps, args);
      counted.claimed.inc(rows.length);
      counted.ended.inc({ result: 'succeeded' }, doneCount(completed));
      const cross = tenantId === undefined;
      return {
        jobs: [],
        claimed: rows.map((r) => ({ id: r.id, attempt: r.attempts, task: r.task, payloadJson: Buffer.from(r.payload), tenantId: cross ? r.tenantId : '' })),
        completed: completed.map(toEnded),
      };
    },

    checkLeases: async (req, ctx) => {
      const v = new Validator();
      const tenantId = tenantOrEvery(v, req.tenantId, ctx);
      const workerId = v.string('worker_id', req.workerId, { max: 200, required: true });
      const held = attempts(v, req.jobs).map((j) => {
        const f = `jobs[${j.i}]`;
        // Only job_id and attempt are read: an outcome here would be silently dropped, so say so.
        for (const [field, set] of [['output', j.raw.output !== undefined], ['error', j.raw.error !== ''], ['permanent', j.raw.permanent], ['retry_after_seconds', j.raw.retryAfterSeconds !== 0]] as const)
          if (set) v.add(`${f}.${field}`, 'NOT_ALLOWED', `${f}.${field} must be unset: CheckLeases reads job_id and attempt only (end attempts with CompleteJobs / FailJobs)`);
        return { jobId: j.jobId, attempt: j.attempt };
      });
      const waitMs = v.int('wait_ms', req.waitMs, { min: 0, max: limits.claimWaitMaxMs });
      v.done();
      const lost = await checkLeases(deps, { tenantId, workerId, jobs: held, waitMs });
      return {
        lost: lost.map((l) => ({
          jobId: l.jobId,
          attempt: l.attempt,
          reason: l.reason === 'cancelled' ? queueV1.LeaseLoss.LEASE_LOSS_CANCELLED : queueV1.LeaseLoss.LEASE_LOSS_LOST,
          detail: l.detail,
        })),
      };
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
      jsonSize(v, 'output', req.output, limits.payloadMaxBytes);
      v.done();
      return { job: toJob(await jobs.completeJob(deps, holder, req.output)) };
    },

    failJob: async (req) => {
      const v = new Validator();
      const holder = leaseHolder(v, req);
      const error = v.string('error', req.error, { max: 10_000, required: true });
      const retryAfterSeconds = v.int('retry_after_seconds', req.retryAfterSeconds, { min: 0, max: 86_400 });
      v.done();
      return { job: toJob(await jobs.failJob(deps, holder, { error, permanent: req.permanent, retryAfterSeconds })) };
    },

    enqueueJobs: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      if (req.jobs.length === 0) v.add('jobs', 'REQUIRED', 'jobs needs at least one job');
      if (req.jobs.length > limits.batchMax)
        v.add('jobs', 'TOO_MANY', `jobs has ${req.jobs.length} entries, at most ${limits.batchMax} are allowed per call; split the batch`);
      const batch = req.jobs.slice(0, limits.batchMax).map((j, i) => {
        const f = (field: string) => `jobs[${i}].${field}`;
        jsonSize(v, f('payload'), j.payload, limits.payloadMaxBytes);
        const payloadJson = jsonBytes(v, f('payload_json'), j.payloadJson, limits.payloadMaxBytes);
        if (j.payloadJson.length > 0 && j.payload !== undefined)
          v.add(f('payload_json'), 'CONFLICT', `set ${f('payload')} or ${f('payload_json')}, not both`);
        return {
          queue: name(v, f('queue'), j.queue),
          task: name(v, f('task'), j.task),
          payload: j.payload ?? {},
          payloadJson,
          priority: v.int(f('priority'), j.priority, { min: -1000, max: 1000 }),
          runAt: optionalTime(v, f('run_at'), j.runAt),
          maxAttempts: j.maxAttempts === 0 ? limits.maxAttemptsDefault : v.int(f('max_attempts'), j.maxAttempts, { min: 1, max: 100 }),
          idempotencyKey: v.string(f('idempotency_key'), j.idempotencyKey, { max: 200, trim: false }) || undefined,
          ...jobKeys(v, `jobs[${i}].`, j),
        };
      });
      v.done();
      const results = await jobs.enqueueJobs(deps, tenantId, batch);
      counted.enqueued.inc(results.reduce((n, r) => n + (r.outcome === 'created' ? 1 : 0), 0));
      return { results: results.map((r) => ({ jobId: r.id, outcome: ENQUEUE_OUTCOME[r.outcome] })) };
    },

    completeJobs: async (req, ctx) => {
      const v = new Validator();
      const tenantId = tenantOrEvery(v, req.tenantId, ctx);
      const workerId = v.string('worker_id', req.workerId, { max: 200, required: true });
      const list = attempts(v, req.jobs).map((j) => {
        jsonSize(v, `jobs[${j.i}].output`, j.raw.output, limits.payloadMaxBytes);
        return { jobId: j.jobId, attempt: j.attempt, output: j.raw.output };
      });
      v.done();
      const ended = await jobs.completeJobs(deps, { tenantId, workerId, jobs: list });
      counted.ended.inc({ result: 'succeeded' }, doneCount(ended));
      return { results: ended.map(toEnded) };
    },

    failJobs: async (req, ctx) => {
      const v = new Validator();
      const tenantId = tenantOrEvery(v, req.tenantId, ctx);
      const workerId = v.string('worker_id', req.workerId, { max: 200, required: true });
      const list = attempts(v, req.jobs).map((j) => ({
        jobId: j.jobId,
        attempt: j.attempt,
        error: v.string(`jobs[${j.i}].error`, j.raw.error, { max: 10_000, required: true }),
        permanent: j.raw.permanent,
        retryAfterSeconds: v.int(`jobs[${j.i}].retry_after_seconds`, j.raw.retryAfterSeconds, { min: 0, max: 86_400 }),
      }));
      v.done();
      const ended = await jobs.failJobs(deps, { tenantId, workerId, jobs: list });
      counted.ended.inc({ result: 'failed' }, doneCount(ended));
      return { results: ended.map(toEnded) };
    },

    retryJob: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const jobId = v.uuid('job_id', req.jobId);
      const extraAttempts = req.extraAttempts === 0 ? 1 : v.int('extra_attempts', req.extraAttempts, { min: 1, max: 100 });
      v.done();
      return { job: toJob(await jobs.retryJob(deps, { tenantId, jobId, extraAttempts })) };
    },

    getQueueStats: async (req, ctx) => {
      const v = new Validator();
      // Empty: every tenant's jobs, per queue — what whoever runs platform workers (ClaimJobs
      // across tenants) scales them by; service scope only, as that claim.
      const tenantId = tenantOrEvery(v, req.tenantId, ctx);
      const queue = name(v, 'queue', req.queue, { required: false }) || undefined;
      v.done();
      const rows = await jobs.getQueueStats(deps, { tenantId, queue });
      return {
        queues: rows.map((r) => ({
          queue: r.queue,
          queued: BigInt(r.queued),
          running: BigInt(r.running),
          succeeded: BigInt(r.succeeded),
          failed: BigInt(r.failed),
          dead: BigInt(r.dead),
          cancelled: BigInt(r.cancelled),
          oldestRunnableAgeMs: BigInt(r.oldestRunnableAgeMs),
          succeededLastMinute: BigInt(r.succeededLastMinute),
          deadLastMinute: BigInt(r.deadLastMinute),
          held: BigInt(r.held),
          groupWaiting: BigInt(r.groupWaiting),
        })),
      };
    },

    cancelJob: async (req) => {
      const v = new Validator();
      const tenantId = v.uuid('tenant_id', req.tenantId);
      const jobId = v.uuid('job_id', req.jobId);
      v.done();
      return { job: toJob(await jobs.cancelJob(deps, { tenantId, jobId, includeRunning: req.includeRunning })) };
    },
  };
}
