import os from 'node:os';
import { queueV1 } from '@penguinmails/contracts';
import type { QueueApi } from './client';
import { PenguinMailsError } from './errors';
import { sleep } from './retry';

/** Throw this from a job handler to control how the failure is recorded. */
export class JobFailure extends Error {
  override name = 'JobFailure';
  /** DEAD at once, no retries (e.g. the lead no longer exists). */
  readonly permanent: boolean;
  /** Retry after this many seconds instead of the queue's backoff (e.g. a provider's Retry-After). */
  readonly retryAfterSeconds?: number;
  constructor(message: string, opts: { permanent?: boolean; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.permanent = opts.permanent ?? false;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

export interface JobContext {
  /** Aborted when the worker is stopped and its grace period is over: give up, the job is retried later. */
  signal: AbortSignal;
  /** Appends a line to the job's log (AppendJobLog). */
  log(message: string, level?: 'debug' | 'info' | 'warn' | 'error'): Promise<void>;
}

export type JobHandler = (job: queueV1.Job, ctx: JobContext) => Promise<void>;

export interface SendJobsOptions {
  /**
   * The tenant whose queue this worker serves; `''` = every tenant's (a platform worker: the
   * service takes each claim fairly across tenants; needs a token with service scope). Each job
   * is completed, failed, extended and logged under its own tenant.
   */
  tenantId: string;
  /** The queue to claim from, e.g. `send`. */
  queue: string;
  /** Who holds the leases; default `<hostname>/pid-<pid>`. */
  workerId?: string;
  /**
   * At most this many jobs run at once (default 10). Each claim asks for the slots that are free,
   * so the worker claims again as soon as any job ends instead of waiting for a whole batch.
   */
  batchSize?: number;
  /** Lease per claim; 0 = the queue's default (300 s). The worker extends it at half-time while a handler runs. */
  leaseSeconds?: number;
  /**
   * How long a claim waits in the service while the queue is empty (ClaimJobs `wait_ms`): the
   * service answers the moment a job is enqueued (its NOTIFY), so an idle worker is woken at once
   * instead of finding the job at its next poll. Default 10,000; at most the service's
   * CLAIM_WAIT_MAX_MS (30,000 by default). 0 = no wait: poll every `pollIntervalMs`.
   */
  waitMs?: number;
  /** Wait between claims when the queue is empty and `waitMs` is 0 (or after a claim failed); default 1000 ms. */
  pollIntervalMs?: number;
  /** Called for failures that do not stop the worker (a claim that failed, a lease lost). */
  onError?: (err: unknown, job?: queueV1.Job) => void;
}

export interface WorkerStats {
  claimed: number;
  succeeded: number;
  failed: number;
  /** Failures of the worker's own calls (claims, complete/fail, lease extensions). */
  errors: number;
}

export interface SendJobsWorker {
  readonly stats: WorkerStats;
  /**
   * Stops claiming, lets the running handlers finish (and completes or fails their jobs), then
   * resolves. After `timeoutMs` (default 30 s) the handlers' `ctx.signal` is aborted; a job whose
   * handler still does not return is left to its lease (it is claimed again when the lease ends).
   */
  stop(opts?: { timeoutMs?: number }): Promise<WorkerStats>;
  /** Resolves when the worker has stopped. */
  readonly done: Promise<WorkerStats>;
}

const LEVELS = {
  debug: queueV1.JobLogLevel.JOB_LOG_LEVEL_DEBUG,
  info: queueV1.JobLogLevel.JOB_LOG_LEVEL_INFO,
  warn: queueV1.JobLogLevel.JOB_LOG_LEVEL_WARN,
  error: queueV1.JobLogLevel.JOB_LOG_LEVEL_ERROR,
};

/**
 * A worker loop over one queue of one tenant (or of every tenant: `tenantId: ''`): ClaimJobs,
 * waiting in the service up to `waitMs` for a job when the queue is empty → the handler for
 * each claimed job (concurrently) → CompleteJob when it resolves, FailJob when it throws
 * (`JobFailure` sets `permanent` / `retryAfterSeconds`). Runs until `stop()`.
 */
export function processSendJobs(queue: QueueApi, opts: SendJobsOptions, handler: JobHandler): SendJobsWorker {
  const tenantId = opts.tenantId;
  const workerId = opts.workerId ?? `${os.hostname()}/pid-${process.pid}`;
  const batchSize = opts.batchSize ?? 10;
  const leaseSeconds = opts.leaseSeconds ?? 0;
  const heartbeatMs = ((leaseSeconds || 300) * 1000) / 2;
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  let waitMs = opts.waitMs ?? 10_000;
  const onError = opts.onError ?? (() => undefined);
  const stats: WorkerStats = { claimed: 0, succeeded: 0, failed: 0, errors: 0 };

  const stopping = new AbortController(); // wakes the idle wait, stops claiming
  const abortHandlers = new AbortController(); // the handlers' signal, after the grace period

  const idle = (ms: number) => sleep(ms, stopping.signal);

  const reportError = (err: unknown, job?: queueV1.Job) => {
    stats.errors += 1;
    onError(err, job);
  };

  async function runOne(job: queueV1.Job): Promise<void> {
    // The job's own tenant: a platform worker (tenantId '') ends each job under its tenant.
    const fence = { tenantId: job.tenantId, jobId: job.id, workerId, attempt: job.attempts };
    const heartbeat = setInterval(() => {
      queue.extendLease({ ...fence, leaseSeconds }).catch((err) => reportError(err, job));
    }, heartbeatMs);
    heartbeat.unref();
    const ctx: JobContext = {
      signal: abortHandlers.signal,
      log: async (message, level = 'info') => {
        await queue.appendJobLog({ tenantId: job.tenantId, jobId: job.id, level: LEVELS[level], message });
      },
    };
    let failure: unknown;
    let ok = false;
    try {
      await handler(job, ctx);
      ok = true;
    } catch (err) {
      failure = err;
    } finally {
      clearInterval(heartbeat);
    }
    try {
      if (ok) {
        await queue.completeJob(fence);
        stats.succeeded += 1;
      } else {
        const jf = failure instanceof JobFailure ? failure : undefined;
        const text = failure instanceof Error ? failure.message : String(failure);
        await queue.failJob({
          ...fence,
          error: (text || 'the handler failed').slice(0, 10_000),
          permanent: jf?.permanent ?? false,
          retryAfterSeconds: jf?.retryAfterSeconds ?? 0,
        });
        stats.failed += 1;
      }
    } catch (err) {
      // Typically FAILED_PRECONDITION: the lease ran out and another worker holds the job now.
      reportError(err, job);
    }
  }

  async function loop(): Promise<WorkerStats> {
    // The jobs whose handlers run now: at most batchSize. A claim asks for the free slots, so a
    // slow job (an SMTP timeout) holds one slot, not the whole batch.
    const running = new Set<Promise<void>>();
    try {
      await claimLoop(running);
    } finally {
      await Promise.allSettled(running);
    }
    return stats;
  }

  async function claimLoop(running: Set<Promise<void>>): Promise<void> {
    let claimFailures = 0;
    while (!stopping.signal.aborted) {
      const free = batchSize - running.size;
      if (free <= 0) {
        await Promise.race(running);
        continue;
      }
      let jobs: queueV1.Job[];
      const started = Date.now();
      try {
        // A long poll is cancelled by stop(): the service then stops waiting and claims nothing.
        // (A reply already on its way when stop() cancels is lost with its leases: those jobs
        // run again when their lease ends, as after a crash.)
        const req = { tenantId, queue: opts.queue, workerId, maxJobs: free, leaseSeconds, waitMs };
        jobs = (await queue.claimJobs(req, waitMs > 0 ? { deadlineMs: waitMs + 10_000, signal: stopping.signal, retry: false } : {})).jobs;
        claimFailures = 0;
      } catch (err) {
        if (stopping.signal.aborted) break;
        if (err instanceof PenguinMailsError && err.fieldViolations.some((v) => v.field === 'wait_ms')) {
          // A service whose CLAIM_WAIT_MAX_MS is below this worker's waitMs: poll instead of stopping.
          reportError(err);
          waitMs = 0;
          continue;
        }
        reportError(err);
        claimFailures += 1;
        // A bad request will not get better: stop instead of spinning.
        if (err instanceof PenguinMailsError && (err.codeName === 'INVALID_ARGUMENT' || err.codeName === 'PERMISSION_DENIED' || err.codeName === 'UNAUTHENTICATED')) throw err;
        await idle(Math.min(pollIntervalMs * 2 ** Math.min(claimFailures, 5), 30_000));
        continue;
      }
      stats.claimed += jobs.length;
      for (const job of jobs) {
        const run: Promise<void> = runOne(job).finally(() => running.delete(run));
        running.add(run);
      }
      if (jobs.length === 0) {
        // After a long poll, claim again at once; an empty answer much faster than the wait
        // (the service's deadline clamp, a wait it cut short) idles first, so it never spins.
        if (waitMs === 0 || Date.now() - started < Math.min(waitMs, 1_000) / 2) await idle(pollIntervalMs);
      }
    }
  }

  const done = loop();
  done.catch(() => undefined);
  return {
    stats,
    done,
    async stop({ timeoutMs = 30_000 } = {}) {
      stopping.abort();
      const timer = setTimeout(() => abortHandlers.abort(), timeoutMs);
      try {
        return await done;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
