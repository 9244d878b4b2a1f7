import os from 'node:os';
import { status as grpcStatus } from '@grpc/grpc-js';
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
  /**
   * Aborted when this attempt should stop: the worker was stopped and its grace period is over
   * (the job is retried later), or the job's lease is lost — it was cancelled while it ran
   * (CancelJob include_running), which the worker hears within a moment once the job has run
   * `cancelCheckAfterMs` (CheckLeases), or its heartbeat (ExtendLease, at half the lease) was
   * refused with FAILED_PRECONDITION or NOT_FOUND. `signal.reason` is the error then.
   */
  signal: AbortSignal;
  /** Appends a line to the job's log (AppendJobLog). */
  log(message: string, level?: 'debug' | 'info' | 'warn' | 'error'): Promise<void>;
}

export type JobHandler = (job: queueV1.Job, ctx: JobContext) => Promise<void>;

/**
 * What a lean worker's handler gets (`lean: true`): the job's id, tenant, queue, task, attempt
 * and payload, the fields of a `Job` a handler needs to do the work; not its priority, run_at,
 * keys, timestamps or last error.
 */
export type LeanJob = Pick<queueV1.Job, 'id' | 'tenantId' | 'queue' | 'task' | 'attempts' | 'payload'>;

export type LeanJobHandler = (job: LeanJob, ctx: JobContext) => Promise<void>;

/** `J`: what the handler (and `onError`) gets, a whole `Job` or, with `lean: true`, a {@link LeanJob}. */
export interface SendJobsOptions<J extends LeanJob = queueV1.Job> {
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
  onError?: (err: unknown, job?: J) => void;
  /**
   * Lean claims (ClaimJobs `lean`): the service sends each job's id, attempt, task and payload
   * as JSON bytes instead of a whole `Job` with its payload as a Struct, and the handler gets a
   * {@link LeanJob}. The service's CPU per job: a lean claim ~18 µs against ~120 µs for a full
   * one (bench:queue-peers); one worker of 50 slots, every call included, 62 against 100 µs
   * (bench:queue-sdk-worker; bench/README.md). Use it unless the handler reads the fields a
   * `LeanJob` leaves out.
   */
  lean?: boolean;
  /**
   * How the end of each job is sent (graphile-worker's completeJobBatchDelay, the same idea):
   * - `0` (default): the successes ride on the worker's next ClaimJobs (`complete`: one round
   *   trip ends them and claims the next jobs), and what is still unsent when the event loop
   *   turns goes as one CompleteJobs / FailJobs per tenant;
   * - `> 0`: the same, but the batch waits up to this many milliseconds for more jobs to end
   *   (fewer calls, each job's end stored that much later; the lease is no longer extended
   *   once the handler returned, so keep it well below `leaseSeconds`);
   * - `-1`: one CompleteJob / FailJob per job as it ends (no batching).
   * A job's slot is free as soon as its handler returns; `stop()` sends every end before it
   * resolves. An end whose call fails is reported to `onError`; the job runs again when its
   * lease ends, as when a worker dies.
   */
  ackDelayMs?: number;
  /**
   * A job that has run this long (default 1,000 ms) is watched for a cancel: the worker keeps one
   * CheckLeases call waiting in the service for all its watched jobs, and a CancelJob with
   * include_running (or a lease lost otherwise) aborts the job's `ctx.signal` within a moment
   * instead of at its next heartbeat (half the lease: 150 s by default). Shorter jobs are not
   * watched: they end before a cancel could stop them. The watch call is started again at most
   * once a second as watched jobs come and go. -1: no watch (the heartbeat only).
   */
  cancelCheckAfterMs?: number;
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

/**
 * At most this many ends per CompleteJobs / FailJobs / claim `complete`: far below the service's
 * BATCH_MAX (1000 by default), so an operator's smaller setting is still met; more go in more calls.
 */
const ACK_BATCH = 100;

/** A job whose handler ended, waiting to be sent. */
interface Ack {
  job: LeanJob;
  /** null: completed; else the FailJobs fields. */
  failure: { error: string; permanent: boolean; retryAfterSeconds: number } | null;
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
export function processSendJobs(queue: QueueApi, opts: SendJobsOptions & { lean?: false }, handler: JobHandler): SendJobsWorker;
/** With `lean: true` the handler gets LeanJobs; a handler of LeanJobs also takes whole Jobs, so any `lean` goes with it. */
export function processSendJobs(queue: QueueApi, opts: SendJobsOptions<LeanJob>, handler: LeanJobHandler): SendJobsWorker;
export function processSendJobs(queue: QueueApi, opts: SendJobsOptions<LeanJob> | SendJobsOptions, handler: LeanJobHandler | JobHandler): SendJobsWorker {
  return sendJobsLoop(queue, opts, handler);
}

/**
 * processSendJobs' loop, for both kinds (PenguinMails.processSendJobs calls it too): it reads
 * only a job's LeanJob fields; which kind the handler and onError get (a whole Job, or a LeanJob
 * with `lean`) is what processSendJobs' overloads promise.
 */
export function sendJobsLoop(queue: QueueApi, options: SendJobsOptions<LeanJob> | SendJobsOptions, handle: LeanJobHandler | JobHandler): SendJobsWorker {
  const opts = options as SendJobsOptions<LeanJob>;
  const handler = handle as LeanJobHandler;
  const tenantId = opts.tenantId;
  const lean = opts.lean ?? false;
  const workerId = opts.workerId ?? `${os.hostname()}/pid-${process.pid}`;
  const batchSize = opts.batchSize ?? 10;
  const leaseSeconds = opts.leaseSeconds ?? 0;
  const heartbeatMs = ((leaseSeconds || 300) * 1000) / 2;
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  let waitMs = opts.waitMs ?? 10_000;
  const ackDelayMs = opts.ackDelayMs ?? 0;
  if (!Number.isInteger(ackDelayMs) || ackDelayMs < -1) throw new RangeError(`ackDelayMs must be -1, 0 or a positive integer of milliseconds, not ${ackDelayMs}`);
  const onError = opts.onError ?? (() => undefined);
  const cancelCheckAfterMs = opts.cancelCheckAfterMs ?? 1_000;
  if (!Number.isInteger(cancelCheckAfterMs) || cancelCheckAfterMs < -1)
    throw new RangeError(`cancelCheckAfterMs must be -1 or a whole number of milliseconds, not ${cancelCheckAfterMs}`);
  const stats: WorkerStats = { claimed: 0, succeeded: 0, failed: 0, errors: 0 };

  const stopping = new AbortController(); // wakes the idle wait, stops claiming
  const abortHandlers = new AbortController(); // the handlers' signal, after the grace period

  const idle = (ms: number) => sleep(ms, stopping.signal);
  /** The wait after the `n`th failed call in a row (a claim's, a cancel watch's): doubling from pollIntervalMs, at most 30 s. */
  const backoffMs = (n: number) => Math.min(pollIntervalMs * 2 ** Math.min(n, 5), 30_000);
  /**
   * Each running job's own controller (its ctx.signal): aborted when its lease is lost, or with
   * the rest when the grace period ends. One controller per job and this set, not
   * AbortSignal.any([job's, abortHandlers.signal]): a signal made by `any` from a long-lived
   * one stays tied to it (nodejs/node#55351, a leak fixed only in later releases), and a
   * worker makes one per job for as long as it runs.
   */
  const running = new Set<AbortController>();
  abortHandlers.signal.addEventListener('abort', () => running.forEach((c) => c.abort(abortHandlers.signal.reason)), { once: true });

  const reportError = (err: unknown, job?: LeanJob) => {
    stats.errors += 1;
    onError(err, job);
  };

  // ------------------------------------------------------------------ the cancel watch (CheckLeases)
  /** The jobs that ran cancelCheckAfterMs and still run, by id, each with its ctx.signal's controller. */
  const watched = new Map<string, { job: LeanJob; lost: AbortController }>();
  let watching: Promise<void> | undefined;
  let watchCall: AbortController | undefined;
  let watchStarted = 0;
  let restartTimer: NodeJS.Timeout | undefined;
  let watchOff = cancelCheckAfterMs < 0;
  // Not `stopping`: the jobs still running in stop()'s grace period stay watched until they end.
  const watchDone = new AbortController();
  watchDone.signal.addEventListener('abort', () => watchCall?.abort(), { once: true });

  function watch(job: LeanJob, lost: AbortController): void {
    if (watchOff || watchDone.signal.aborted) return;
    watched.set(job.id, { job, lost });
    if (!watching) {
      watching = watchLoop().finally(() => (watching = undefined));
      return;
    }
    // The call in flight does not name this job: start it again, at most once a second.
    restartTimer ??= setTimeout(() => {
      restartTimer = undefined;
      watchCall?.abort();
    }, Math.max(0, watchStarted + 1_000 - Date.now()));
  }

  // What a call asks for, lowered when the service refuses it (its BATCH_MAX or CLAIM_WAIT_MAX_MS
  // set below the defaults): at most this many jobs (those watched longest), waiting this long.
  let watchMax = 1_000;
  let watchWaitMs = 25_000;

  async function watchLoop(): Promise<void> {
    let failures = 0;
    while (watched.size > 0 && !watchDone.signal.aborted && !watchOff) {
      const call = (watchCall = new AbortController());
      watchStarted = Date.now();
      const jobs = [...watched.values()].slice(0, watchMax).map(({ job }) => ({ jobId: job.id, attempt: job.attempts }));
      try {
        const { lost } = await queue.checkLeases({ tenantId, workerId, jobs, waitMs: watchWaitMs }, { deadlineMs: watchWaitMs + 10_000, signal: call.signal, retry: false });
        failures = 0;
        // An answer with nothing much sooner than the wait (a short wait, a service that cut it):
        // pause, so the loop never spins.
        if (lost.length === 0 && Date.now() - watchStarted < Math.min(watchWaitMs, 1_000) / 2) await sleep(1_000, watchDone.signal);
        for (const l of lost) {
          const entry = watched.get(l.jobId);
          if (!entry || entry.job.attempts !== l.attempt) continue;
          watched.delete(l.jobId);
          const err = new PenguinMailsError({ code: grpcStatus.FAILED_PRECONDITION, message: l.detail, rpc: 'queue.checkLeases' });
          reportError(err, entry.job);
          entry.lost.abort(err);
        }
      } catch (err) {
        if (call.signal.aborted) continue; // restarted with the current jobs, or the worker is done
        reportError(err);
        if (err instanceof PenguinMailsError && err.codeName === 'UNIMPLEMENTED') {
          // A service older than CheckLeases: the heartbeat alone, as before.
          watchOff = true;
          break;
        }
        if (err instanceof PenguinMailsError && err.codeName === 'INVALID_ARGUMENT') {
          const fields = new Set(err.fieldViolations.map((v) => v.field));
          if (fields.has('jobs') && watchMax > 1) watchMax = Math.max(1, Math.floor(watchMax / 2));
          else if (fields.has('wait_ms') && watchWaitMs > 0) watchWaitMs = watchWaitMs > 1_000 ? Math.floor(watchWaitMs / 2) : 0;
          else {
            // Nothing this worker can change (e.g. its worker id): the heartbeat alone.
            watchOff = true;
            break;
          }
          continue;
        }
        if (err instanceof PenguinMailsError && (err.codeName === 'PERMISSION_DENIED' || err.codeName === 'UNAUTHENTICATED')) {
          watchOff = true;
          break;
        }
        failures += 1;
        await sleep(backoffMs(failures), watchDone.signal);
      }
    }
    clearTimeout(restartTimer);
    restartTimer = undefined;
  }

  /**
   * A claimed job as the handler sees it, and for a lean claim its payload's JSON bytes, parsed
   * when its handler starts (a bad payload fails that attempt, not the claim); `tenantId` is set
   * even for a tenant worker's claim.
   */
  const leanJob = (c: queueV1.ClaimedJob): { job: LeanJob; payloadJson: Uint8Array } => ({
    job: { id: c.id, tenantId: c.tenantId || tenantId, queue: opts.queue, task: c.task, attempts: c.attempt, payload: undefined },
    payloadJson: c.payloadJson,
  });

  async function runOne(job: LeanJob, payloadJson?: Uint8Array): Promise<void> {
    // The job's own tenant: a platform worker (tenantId '') ends each job under its tenant.
    const fence = { tenantId: job.tenantId, jobId: job.id, workerId, attempt: job.attempts };
    const lost = new AbortController();
    if (abortHandlers.signal.aborted) lost.abort(abortHandlers.signal.reason);
    running.add(lost);
    const heartbeat = setInterval(() => {
      queue.extendLease({ ...fence, leaseSeconds }).catch((err) => {
        reportError(err, job);
        // The lease is gone for good (cancelled, taken over, the job removed): stop the handler.
        // Anything else (UNAVAILABLE, a deadline) may pass; the next heartbeat tries again.
        if (err instanceof PenguinMailsError && (err.codeName === 'FAILED_PRECONDITION' || err.codeName === 'NOT_FOUND')) {
          clearInterval(heartbeat);
          lost.abort(err);
        }
      });
    }, heartbeatMs);
    heartbeat.unref();
    const watchTimer = cancelCheckAfterMs >= 0 ? setTimeout(() => watch(job, lost), cancelCheckAfterMs) : undefined;
    watchTimer?.unref();
    const ctx: JobContext = {
      signal: lost.signal,
      log: async (message, level = 'info') => {
        await queue.appendJobLog({ tenantId: job.tenantId, jobId: job.id, level: LEVELS[level], message });
      },
    };
    let failure: unknown;
    let ok = false;
    try {
      if (payloadJson) job.payload = JSON.parse(Buffer.from(payloadJson.buffer, payloadJson.byteOffset, payloadJson.byteLength).toString('utf8')) as LeanJob['payload'];
      await handler(job, ctx);
      ok = true;
    } catch (err) {
      failure = err;
    } finally {
      clearInterval(heartbeat);
      clearTimeout(watchTimer);
      watched.delete(job.id);
      running.delete(lost);
    }
    const jf = failure instanceof JobFailure ? failure : undefined;
    const text = failure instanceof Error ? failure.message : String(failure);
    const ack: Ack = {
      job,
      failure: ok ? null : { error: (text || 'the handler failed').slice(0, 10_000), permanent: jf?.permanent ?? false, retryAfterSeconds: jf?.retryAfterSeconds ?? 0 },
    };
    if (ackDelayMs >= 0) return queueAck(ack);
    try {
      if (ack.failure) {
        await queue.failJob({ ...fence, ...ack.failure });
        stats.failed += 1;
      } else {
        await queue.completeJob(fence);
        stats.succeeded += 1;
      }
    } catch (err) {
      // Typically FAILED_PRECONDITION: the lease ran out and another worker holds the job now.
      reportError(err, job);
    }
  }

  // ------------------------------------------------------------------ batched ends (ackDelayMs >= 0)
  const pending: Ack[] = [];
  const sending = new Set<Promise<void>>();
  let flushTimer: NodeJS.Timeout | undefined;
  let flushSoon: NodeJS.Immediate | undefined;

  function queueAck(ack: Ack): void {
    pending.push(ack);
    if (pending.length >= ACK_BATCH) flush();
    else if (ackDelayMs === 0) flushSoon ??= setImmediate(flush);
    else flushTimer ??= setTimeout(flush, ackDelayMs);
  }

  /** The counts and errors of ends the service answered, one result per ack, in order. */
  function settle(acks: Ack[], results: queueV1.EndedJob[], rpc: string): void {
    acks.forEach((ack, i) => {
      const r = results[i];
      if (r?.outcome === queueV1.EndOutcome.END_OUTCOME_DONE || r?.outcome === queueV1.EndOutcome.END_OUTCOME_REPEATED) {
        if (ack.failure) stats.failed += 1;
        else stats.succeeded += 1;
      } else {
        const notFound = r?.outcome === queueV1.EndOutcome.END_OUTCOME_NOT_FOUND;
        reportError(
          new PenguinMailsError({
            code: notFound ? grpcStatus.NOT_FOUND : grpcStatus.FAILED_PRECONDITION,
            message: r?.message || (notFound ? `job ${ack.job.id} not found` : `job ${ack.job.id}: this worker no longer holds attempt ${ack.job.attempts}`),
            rpc,
          }),
          ack.job,
        );
      }
    });
  }

  /** Sends every pending end now: one CompleteJobs / FailJobs per tenant and kind, ACK_BATCH at a time. */
  function flush(): void {
    clearTimeout(flushTimer);
    if (flushSoon) clearImmediate(flushSoon);
    flushTimer = flushSoon = undefined;
    const groups = new Map<string, Ack[]>();
    for (const ack of pending.splice(0)) {
      const key = `${ack.failure ? 'f' : 'c'} ${ack.job.tenantId}`;
      const g = groups.get(key) ?? [];
      g.push(ack);
      groups.set(key, g);
    }
    for (const acks of groups.values()) {
      for (let i = 0; i < acks.length; i += ACK_BATCH) {
        const part = acks.slice(i, i + ACK_BATCH);
        const req = {
          // The jobs' own tenant: a platform worker ends each tenant's jobs under it.
          tenantId: part[0].job.tenantId,
          workerId,
          jobs: part.map((a) => ({ jobId: a.job.id, attempt: a.job.attempts, ...(a.failure ?? {}) })),
        };
        const failing = part[0].failure !== null;
        const call = (failing ? queue.failJobs(req) : queue.completeJobs(req)).then(
          (res) => settle(part, res.results, failing ? 'queue.failJobs' : 'queue.completeJobs'),
          (err) => part.forEach((a) => reportError(err, a.job)),
        );
        const tracked: Promise<void> = call.finally(() => sending.delete(tracked));
        sending.add(tracked);
      }
    }
  }

  /** At stop: every end sent and answered. */
  async function drainAcks(): Promise<void> {
    while (pending.length > 0 || sending.size > 0) {
      flush();
      await Promise.allSettled(sending);
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
      await drainAcks();
      watchDone.abort();
      await watching;
    }
    return stats;
  }

  /** The pending successes (up to ACK_BATCH), taken out to ride on a claim. */
  function takeSuccesses(): Ack[] {
    if (ackDelayMs < 0 || pending.length === 0) return [];
    const out: Ack[] = [];
    for (let i = 0; i < pending.length && out.length < ACK_BATCH; ) {
      if (pending[i].failure === null) out.push(...pending.splice(i, 1));
      else i += 1;
    }
    return out;
  }

  async function claimLoop(running: Set<Promise<void>>): Promise<void> {
    let claimFailures = 0;
    while (!stopping.signal.aborted) {
      const free = batchSize - running.size;
      if (free <= 0) {
        await Promise.race(running);
        continue;
      }
      let jobs: { job: LeanJob; payloadJson?: Uint8Array }[];
      const started = Date.now();
      // Ack-and-fetch: the successes not sent yet end in this claim's transaction (for a tenant
      // worker they are all its tenant's; a platform worker's claim takes any tenant's).
      const riding = takeSuccesses();
      try {
        // A long poll is cancelled by stop(): the service then stops waiting and claims nothing.
        // (A reply already on its way when stop() cancels is lost with its leases: those jobs
        // run again when their lease ends, as after a crash.)
        const req = { tenantId, queue: opts.queue, workerId, maxJobs: free, leaseSeconds, waitMs, lean, complete: riding.map((a) => ({ jobId: a.job.id, attempt: a.job.attempts })) };
        const res = await queue.claimJobs(req, waitMs > 0 ? { deadlineMs: waitMs + 10_000, signal: stopping.signal, retry: false } : {});
        jobs = lean ? res.claimed.map(leanJob) : res.jobs.map((job) => ({ job }));
        settle(riding, res.completed, 'queue.claimJobs');
        claimFailures = 0;
      } catch (err) {
        // Whether the claim ended them is unknown: CompleteJobs again (a repeat answers REPEATED).
        for (const ack of riding) queueAck(ack);
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
        await idle(backoffMs(claimFailures));
        continue;
      }
      stats.claimed += jobs.length;
      for (const { job, payloadJson } of jobs) {
        const run: Promise<void> = runOne(job, payloadJson).finally(() => running.delete(run));
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
