// Jobs, the send-job worker and retries across a killed and restarted service, against the real
// queue service (startPlatform runs services/queue/dist/main.js with a fresh database).
import { randomUUID } from 'node:crypto';
import { queueV1 } from '@penguinmails/contracts';
import { startPlatform, type Platform } from '@penguinmails/testkit';
import { JobFailure, PenguinMailsError, createPlatform, enqueueMany, processSendJobs, type PenguinMails } from '../src';

let platform: Platform;
let pm: PenguinMails;
beforeAll(async () => {
  platform = await startPlatform({ services: ['queue'] });
  // Retries bounded by each call's deadline, not a count: a restart under load (a fresh process,
  // migrations) took longer than 30 jittered attempts of at most 500 ms once.
  pm = createPlatform({ addresses: platform.addresses, retry: { maxAttempts: 200, initialBackoffMs: 100, maxBackoffMs: 500 } }, { env: {} });
});
afterAll(async () => {
  pm?.close();
  await platform?.stop();
});

test('enqueue (keyed: the same key is the same job) and list', async () => {
  const tenantId = randomUUID();
  const a = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'campaign.send_step', payload: { leadId: 'l1' }, idempotencyKey: 'k1' });
  const b = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'campaign.send_step', payload: { leadId: 'l1' }, idempotencyKey: 'k1' });
  expect(a.created).toBe(true);
  expect(b).toMatchObject({ created: false, job: { id: a.job!.id } });
  const { jobs } = await pm.queue.listJobs({ tenantId, queue: 'send' });
  expect(jobs.map((j) => j.id)).toEqual([a.job!.id]);
});

test('errors: a bad id is a PenguinMailsError naming the field; another tenant\'s job is NOT_FOUND', async () => {
  const err = await pm.queue.listJobs({ tenantId: 'nope' }).catch((e) => e);
  expect(err).toBeInstanceOf(PenguinMailsError);
  expect(err.codeName).toBe('INVALID_ARGUMENT');
  expect(err.fieldViolations.map((v: { field: string }) => v.field)).toContain('tenant_id');
  const nf = await pm.queue.getJob({ tenantId: randomUUID(), jobId: randomUUID() }).catch((e) => e);
  expect(nf).toMatchObject({ codeName: 'NOT_FOUND', rpc: 'queue.getJob' });
});

test('processSendJobs claims, runs and completes or fails each job, and stops gracefully', async () => {
  const tenantId = randomUUID();
  const ids: string[] = [];
  for (const kind of ['ok', 'ok', 'permanent', 'retry']) {
    const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 'send', payload: { kind }, idempotencyKey: randomUUID(), maxAttempts: 3 });
    ids.push(job!.id);
  }
  const seen: string[] = [];
  const worker = pm.processSendJobs({ tenantId, queue: 'send', batchSize: 2, pollIntervalMs: 50 }, async (job, ctx) => {
    seen.push(job.id);
    await ctx.log(`handling ${job.payload?.kind}`);
    if (job.payload?.kind === 'permanent') throw new JobFailure('no such lead', { permanent: true });
    if (job.payload?.kind === 'retry') throw new Error('smtp timeout');
  });
  for (let i = 0; i < 100 && worker.stats.succeeded + worker.stats.failed < 4; i++) await new Promise((r) => setTimeout(r, 50));
  const stats = await worker.stop({ timeoutMs: 5_000 });
  expect(stats).toMatchObject({ claimed: 4, succeeded: 2, failed: 2, errors: 0 });
  expect(new Set(seen)).toEqual(new Set(ids));
  const statuses = await Promise.all(ids.map(async (jobId) => (await pm.queue.getJob({ tenantId, jobId })).job!));
  expect(statuses.map((j) => j.status)).toEqual([
    queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
    queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
    queueV1.JobStatus.JOB_STATUS_DEAD,
    queueV1.JobStatus.JOB_STATUS_FAILED,
  ]);
  expect(statuses[3].lastError).toBe('smtp timeout');
  const { logs } = await pm.queue.listJobLogs({ tenantId, jobId: ids[0] });
  expect(logs.map((l) => l.message)).toContain('handling ok');
});

/** Resolves with the signal's reason once it aborts (at most `ms`; then with 'not aborted'). */
const aborted = (signal: AbortSignal, ms: number) =>
  new Promise<unknown>((resolve) => {
    const timer = setTimeout(() => resolve('not aborted'), ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve(signal.reason)), { once: true });
  });

test("a job cancelled while it runs aborts its handler's ctx.signal at the next heartbeat, with the refusal as the reason", async () => {
  const tenantId = randomUUID();
  const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'cancel', task: 'send', idempotencyKey: randomUUID() });
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let reason: unknown;
  const errors: unknown[] = [];
  // A 2 s lease: the worker's heartbeat (ExtendLease) runs every second. No cancel watch
  // (CheckLeases, the next test): this one is about the heartbeat.
  const worker = pm.processSendJobs({ tenantId, queue: 'cancel', leaseSeconds: 2, pollIntervalMs: 50, cancelCheckAfterMs: -1, onError: (e) => errors.push(e) }, async (_job, ctx) => {
    started();
    reason = await aborted(ctx.signal, 10_000);
    throw new Error('stopped: the job was cancelled');
  });
  try {
    await running;
    const { job: cancelled } = await pm.queue.cancelJob({ tenantId, jobId: job!.id, includeRunning: true });
    expect(cancelled!.status).toBe(queueV1.JobStatus.JOB_STATUS_CANCELLED);
    for (let i = 0; i < 200 && reason === undefined; i++) await new Promise((r) => setTimeout(r, 25));
  } finally {
    await worker.stop({ timeoutMs: 5_000 });
  }
  expect(reason).toBeInstanceOf(PenguinMailsError);
  expect(reason).toMatchObject({ codeName: 'FAILED_PRECONDITION', rpc: 'queue.extendLease' });
  expect((reason as Error).message).toMatch(/cancelled while attempt 1 ran/);
  // The handler's failure afterwards is refused as well (reported, not retried); the job stays cancelled.
  expect(errors.length).toBeGreaterThanOrEqual(2);
  expect((await pm.queue.getJob({ tenantId, jobId: job!.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_CANCELLED);
});

test("a long job cancelled while it runs hears it through the cancel watch (CheckLeases), long before its heartbeat; a job started later is watched too, and a job in stop()'s grace period still is", async () => {
  const tenantId = randomUUID();
  const queue = 'cancel-watch';
  const first = (await pm.queue.enqueueJob({ tenantId, queue, task: 'import', idempotencyKey: randomUUID() })).job!;
  const reasons = new Map<string, unknown>();
  const started = new Map<string, () => void>();
  const running = (id: string) => new Promise<void>((r) => started.set(id, r));
  const firstRunning = running(first.id);
  const errors: unknown[] = [];
  // The default lease (300 s): the heartbeat would come after 150 s.
  const worker = pm.processSendJobs({ tenantId, queue, batchSize: 2, pollIntervalMs: 50, cancelCheckAfterMs: 200, onError: (e) => errors.push(e) }, async (job, ctx) => {
    started.get(job.id)?.();
    reasons.set(job.id, await aborted(ctx.signal, 20_000));
  });
  try {
    await firstRunning;
    // A second job starts while the watch call of the first one waits: the watch starts again with both.
    const second = (await pm.queue.enqueueJob({ tenantId, queue, task: 'import', idempotencyKey: randomUUID() })).job!;
    await running(second.id);
    await new Promise((r) => setTimeout(r, 1_500));
    const cancelledAt = Date.now();
    await pm.queue.cancelJob({ tenantId, jobId: second.id, includeRunning: true });
    for (let i = 0; i < 400 && !reasons.has(second.id); i++) await new Promise((r) => setTimeout(r, 25));
    expect(Date.now() - cancelledAt).toBeLessThan(5_000);
    expect(reasons.get(second.id)).toBeInstanceOf(PenguinMailsError);
    expect(reasons.get(second.id)).toMatchObject({ codeName: 'FAILED_PRECONDITION', rpc: 'queue.checkLeases' });
    expect((reasons.get(second.id) as Error).message).toMatch(/cancelled while attempt 1 ran/);
    // The other job runs on, unaborted.
    expect(reasons.has(first.id)).toBe(false);
    expect(errors.filter((e) => e instanceof PenguinMailsError && e.rpc === 'queue.checkLeases')).toHaveLength(1);
    // stop(): no more claims, but the job still running in the grace period stays watched.
    const stopping = worker.stop({ timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(reasons.has(first.id)).toBe(false);
    const cancelledFirstAt = Date.now();
    await pm.queue.cancelJob({ tenantId, jobId: first.id, includeRunning: true });
    await stopping;
    expect(Date.now() - cancelledFirstAt).toBeLessThan(5_000);
    expect(reasons.get(first.id)).toMatchObject({ codeName: 'FAILED_PRECONDITION', rpc: 'queue.checkLeases' });
  } finally {
    await worker.stop({ timeoutMs: 300 });
  }
});

test('the cancel watch fits a service whose BATCH_MAX and CLAIM_WAIT_MAX_MS are below its defaults', async () => {
  const small = await startPlatform({ services: ['queue'], serviceEnv: { queue: { BATCH_MAX: '2', CLAIM_WAIT_MAX_MS: '2000' } } });
  const client = createPlatform({ addresses: small.addresses }, { env: {} });
  const tenantId = randomUUID();
  const queue = 'cancel-watch-small';
  const reasons = new Map<string, unknown>();
  const errors: unknown[] = [];
  let startedCount = 0;
  const worker = client.processSendJobs({ tenantId, queue, batchSize: 3, pollIntervalMs: 50, cancelCheckAfterMs: 100, onError: (e) => errors.push(e) }, async (job, ctx) => {
    startedCount += 1;
    reasons.set(job.id, await aborted(ctx.signal, 20_000));
  });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await client.queue.enqueueJob({ tenantId, queue, task: 'import', idempotencyKey: randomUUID() })).job!.id);
    for (let i = 0; i < 200 && startedCount < 3; i++) await new Promise((r) => setTimeout(r, 25));
    // The watch's first calls are refused (3 jobs > BATCH_MAX 2, then wait_ms > 2000): it asks
    // for fewer jobs and a shorter wait until the service takes the call.
    const refusedFields = () => new Set(errors.filter((e) => e instanceof PenguinMailsError && e.rpc === 'queue.checkLeases').flatMap((e) => (e as PenguinMailsError).fieldViolations.map((v) => v.field)));
    // (The jobs may start far enough apart that the watch first names fewer than 3: it starts again
    // with all three within a second, and that call is refused for its jobs.)
    for (let i = 0; i < 400 && refusedFields().size < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(refusedFields()).toEqual(new Set(['jobs', 'wait_ms']));
    await new Promise((r) => setTimeout(r, 300));
    // It watches the two jobs that ran longest; a cancel of one of them is heard within moments.
    const watchedOne = ids[0];
    const cancelledAt = Date.now();
    await client.queue.cancelJob({ tenantId, jobId: watchedOne, includeRunning: true });
    for (let i = 0; i < 400 && !reasons.has(watchedOne); i++) await new Promise((r) => setTimeout(r, 25));
    expect(reasons.get(watchedOne)).toMatchObject({ codeName: 'FAILED_PRECONDITION', rpc: 'queue.checkLeases' });
    expect(Date.now() - cancelledAt).toBeLessThan(5_000);
  } finally {
    await worker.stop({ timeoutMs: 300 });
    client.close();
    await small.stop();
  }
});

test("stop() aborts a running handler's ctx.signal once its grace period is over", async () => {
  const tenantId = randomUUID();
  await pm.queue.enqueueJob({ tenantId, queue: 'grace', task: 'send', idempotencyKey: randomUUID() });
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  let reason: unknown;
  const worker = pm.processSendJobs({ tenantId, queue: 'grace', pollIntervalMs: 50 }, async (_job, ctx) => {
    started();
    reason = await aborted(ctx.signal, 10_000);
  });
  await running;
  const stoppedAt = Date.now();
  await worker.stop({ timeoutMs: 300 });
  expect(reason).not.toBe('not aborted');
  expect(reason).toBeDefined();
  expect(Date.now() - stoppedAt).toBeLessThan(5_000);
});

test('an idle worker polls again and again without piling up abort listeners on its stop signal', async () => {
  // Abort listeners added and removed while the worker idles (a listener added with { once } and
  // never removed stays on its signal until the signal aborts).
  const add = jest.spyOn(EventTarget.prototype, 'addEventListener');
  const remove = jest.spyOn(EventTarget.prototype, 'removeEventListener');
  let claims = 0;
  // The platform's queue client, its claims counted (an empty queue: every claim is followed by an idle wait).
  const claimJobs: typeof pm.queue.claimJobs = (req, opts) => ((claims += 1), pm.queue.claimJobs(req, opts));
  const watched = Object.create(pm.queue, { claimJobs: { value: claimJobs } }) as typeof pm.queue;
  const worker = processSendJobs(watched, { tenantId: randomUUID(), queue: 'empty', pollIntervalMs: 5, waitMs: 0 }, async () => undefined);
  let pending: number;
  try {
    for (let i = 0; i < 400 && claims < 30; i++) await new Promise((r) => setTimeout(r, 10));
    const removed = new Set(remove.mock.calls.filter(([type]) => type === 'abort').map(([, listener]) => listener));
    pending = add.mock.calls.filter(([type, listener]) => type === 'abort' && !removed.has(listener)).length;
  } finally {
    add.mockRestore();
    remove.mockRestore();
    await worker.stop({ timeoutMs: 5_000 });
  }
  expect(claims).toBeGreaterThanOrEqual(30);
  // At most the current wait's listener (and a call's in flight); before the fix one per idle wait stayed.
  expect(pending).toBeLessThanOrEqual(3);
});

test('an idle worker waits in the service and is woken by the enqueue, not by a poll; stop() cancels the wait at once', async () => {
  const tenantId = randomUUID();
  let claims = 0;
  const claimJobs: typeof pm.queue.claimJobs = (req, opts) => ((claims += 1), pm.queue.claimJobs(req, opts));
  const watched = Object.create(pm.queue, { claimJobs: { value: claimJobs } }) as typeof pm.queue;
  const handled: number[] = [];
  // A poll every 60 s: only the service's wake-up can run the job within this test's time.
  const worker = processSendJobs(watched, { tenantId, queue: 'wake', pollIntervalMs: 60_000 }, async () => void handled.push(Date.now()));
  await new Promise((r) => setTimeout(r, 500));
  const enqueued = Date.now();
  await pm.queue.enqueueJob({ tenantId, queue: 'wake', task: 'send' });
  for (let i = 0; i < 200 && handled.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
  expect(handled).toHaveLength(1);
  expect(handled[0] - enqueued).toBeLessThan(3_000);
  // One claim waiting before the enqueue, one after the job ran (waiting again now).
  expect(claims).toBeLessThanOrEqual(3);
  for (let i = 0; i < 100 && worker.stats.succeeded < 1; i++) await new Promise((r) => setTimeout(r, 20));
  const stopping = Date.now();
  const stats = await worker.stop({ timeoutMs: 5_000 });
  expect(Date.now() - stopping).toBeLessThan(2_000); // not the 10 s of the wait in flight
  expect(stats).toMatchObject({ claimed: 1, succeeded: 1, errors: 0 });
  // The cancelled wait claimed nothing: a job enqueued now is queued, not leased to nobody.
  const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'wake', task: 'send' });
  expect((await pm.queue.getJob({ tenantId, jobId: job!.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_QUEUED);
});

test('a slow job holds one slot, not the batch: the others keep being claimed and run, never more than batchSize at once', async () => {
  const tenantId = randomUUID();
  const queue = 'slots';
  const { job: slow } = await pm.queue.enqueueJob({ tenantId, queue, task: 'send', payload: { ms: 2_000 }, priority: 10 });
  await pm.queue.enqueueJobs({ tenantId, jobs: Array.from({ length: 8 }, (_, i) => ({ queue, task: 'send', payload: { ms: 20, i } })) });
  let now = 0;
  let most = 0;
  const finished = new Map<string, number>();
  const worker = pm.processSendJobs({ tenantId, queue, batchSize: 3, waitMs: 1_000 }, async (job) => {
    most = Math.max(most, ++now);
    await new Promise((r) => setTimeout(r, Number(job.payload?.ms)));
    now -= 1;
    finished.set(job.id, Date.now());
  });
  for (let i = 0; i < 200 && finished.size < 9; i++) await new Promise((r) => setTimeout(r, 25));
  const stats = await worker.stop({ timeoutMs: 5_000 });
  expect(stats).toMatchObject({ claimed: 9, succeeded: 9, errors: 0 });
  expect(most).toBe(3);
  // All eight short jobs ran in the two other slots while the slow one held its own.
  const slowEnd = finished.get(slow!.id)!;
  expect([...finished].filter(([id, at]) => id !== slow!.id && at < slowEnd)).toHaveLength(8);
});

test("a platform worker (tenantId '') serves every tenant's jobs and ends, logs and fails each under its own tenant", async () => {
  const queue = `platform-${randomUUID().slice(0, 8)}`;
  const [a, b] = [randomUUID(), randomUUID()];
  const ids = new Map<string, string>();
  for (const [t, kind] of [[a, 'ok'], [b, 'ok'], [b, 'fail']] as const) {
    const { job } = await pm.queue.enqueueJob({ tenantId: t, queue, task: 'send', payload: { kind }, maxAttempts: 1 });
    ids.set(job!.id, t);
  }
  const worker = pm.processSendJobs({ tenantId: '', queue, batchSize: 5, waitMs: 1_000 }, async (job, ctx) => {
    await ctx.log(`for ${job.tenantId}`);
    if (job.payload?.kind === 'fail') throw new JobFailure('bounced', { permanent: true });
  });
  for (let i = 0; i < 200 && worker.stats.succeeded + worker.stats.failed < 3; i++) await new Promise((r) => setTimeout(r, 25));
  const stats = await worker.stop({ timeoutMs: 5_000 });
  expect(stats).toMatchObject({ claimed: 3, succeeded: 2, failed: 1, errors: 0 });
  for (const [jobId, tenantId] of ids) {
    const { job } = await pm.queue.getJob({ tenantId, jobId });
    expect(job!.status).toBe(job!.payload?.kind === 'fail' ? queueV1.JobStatus.JOB_STATUS_DEAD : queueV1.JobStatus.JOB_STATUS_SUCCEEDED);
    expect((await pm.queue.listJobLogs({ tenantId, jobId })).logs.map((l) => l.message)).toContain(`for ${tenantId}`);
  }
});

describe('processSendJobs { lean: true }: lean claims, the handler gets a LeanJob', () => {
  test("a tenant's worker: each job's id, tenant, queue, task, attempt and payload; ends, logs, failures and retries as with whole jobs", async () => {
    const tenantId = randomUUID();
    const queue = `lean-${randomUUID().slice(0, 8)}`;
    const ids: string[] = [];
    for (const kind of ['ok', 'ok', 'permanent', 'retry']) {
      const { job } = await pm.queue.enqueueJob({ tenantId, queue, task: `send.${kind}`, payload: { kind, lead: { id: 'l-1', tags: ['a', 'é'] } }, maxAttempts: 2 });
      ids.push(job!.id);
    }
    const seen = new Map<string, unknown>();
    const worker = pm.processSendJobs({ tenantId, queue, batchSize: 3, waitMs: 1_000, lean: true }, async (job, ctx) => {
      seen.set(`${job.id} ${job.attempts}`, { ...job });
      await ctx.log(`lean ${job.payload?.kind}`);
      if (job.payload?.kind === 'permanent') throw new JobFailure('no such lead', { permanent: true });
      if (job.payload?.kind === 'retry' && job.attempts === 1) throw new JobFailure('smtp timeout', { retryAfterSeconds: 1 });
    });
    // 4 first attempts and the retry's second one, a second later.
    for (let i = 0; i < 400 && worker.stats.succeeded + worker.stats.failed < 5; i++) await new Promise((r) => setTimeout(r, 25));
    const stats = await worker.stop({ timeoutMs: 5_000 });
    expect(stats).toMatchObject({ claimed: 5, succeeded: 3, failed: 2, errors: 0 });
    const kinds = ['ok', 'ok', 'permanent', 'retry'];
    for (const [i, id] of ids.entries())
      expect(seen.get(`${id} 1`)).toEqual({ id, tenantId, queue, task: `send.${kinds[i]}`, attempts: 1, payload: { kind: kinds[i], lead: { id: 'l-1', tags: ['a', 'é'] } } });
    expect(seen.get(`${ids[3]} 2`)).toMatchObject({ id: ids[3], attempts: 2 });
    const jobs = await Promise.all(ids.map(async (jobId) => (await pm.queue.getJob({ tenantId, jobId })).job!));
    expect(jobs.map((j) => j.status)).toEqual([
      queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
      queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
      queueV1.JobStatus.JOB_STATUS_DEAD,
      queueV1.JobStatus.JOB_STATUS_SUCCEEDED,
    ]);
    expect(jobs[2].lastError).toBe('no such lead');
    expect((await pm.queue.listJobLogs({ tenantId, jobId: ids[0] })).logs.map((l) => l.message)).toContain('lean ok');
    // Types: a handler of whole Jobs is refused with lean claims (never called: compile time only).
    const wholeJobHandler = async (job: queueV1.Job) => void job.priority;
    // @ts-expect-error a LeanJob has no priority
    const refused = () => pm.processSendJobs({ tenantId, queue, lean: true }, wholeJobHandler);
    expect(typeof refused).toBe('function');
  });

  test("a platform worker (tenantId ''): each LeanJob carries its own tenant, and is ended under it", async () => {
    const queue = `lean-platform-${randomUUID().slice(0, 8)}`;
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const owner = new Map<string, string>();
    for (const t of tenants)
      for (const { jobId } of (await pm.queue.enqueueJobs({ tenantId: t, jobs: [0, 1].map((n) => ({ queue, task: 'send', payload: { n } })) })).results) owner.set(jobId, t);
    const saw = new Map<string, string>();
    const worker = pm.processSendJobs({ tenantId: '', queue, batchSize: 4, waitMs: 1_000, lean: true }, async (job) => void saw.set(job.id, job.tenantId));
    for (let i = 0; i < 200 && worker.stats.succeeded < 6; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await worker.stop({ timeoutMs: 5_000 })).toMatchObject({ claimed: 6, succeeded: 6, failed: 0, errors: 0 });
    expect(saw).toEqual(owner);
    for (const [jobId, tenantId] of owner) expect((await pm.queue.getJob({ tenantId, jobId })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_SUCCEEDED);
  });
});

test('a read and a keyed enqueue survive the service being killed and restarted (UNAVAILABLE is retried)', async () => {
  const tenantId = randomUUID();
  await platform.kill('queue', 'SIGKILL');
  const restarting = new Promise((r) => setTimeout(r, 800)).then(() => platform.restart('queue'));
  const [list, enq] = await Promise.all([
    pm.queue.listJobs({ tenantId: randomUUID() }, { deadlineMs: 30_000 }), // another tenant: the enqueue below may land first
    pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't', idempotencyKey: 'after-restart' }, { deadlineMs: 30_000 }),
  ]);
  await restarting;
  expect(list.jobs).toEqual([]);
  expect(enq.created).toBe(true);
});

test('a write without a key is not retried: it fails with UNAVAILABLE while the service is down', async () => {
  const tenantId = randomUUID();
  const { job } = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't', idempotencyKey: 'x' });
  await platform.kill('queue', 'SIGKILL');
  try {
    const noKey = await pm.queue.enqueueJob({ tenantId, queue: 'send', task: 't' }).catch((e) => e);
    expect(noKey).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 1 });
    const log = await pm.queue.appendJobLog({ tenantId, jobId: job!.id, message: 'm' }).catch((e) => e);
    expect(log).toMatchObject({ codeName: 'UNAVAILABLE', attempts: 1 });
  } finally {
    await platform.restart('queue');
  }
  // Nothing was written by the failed calls.
  const { jobs } = await pm.queue.listJobs({ tenantId });
  expect(jobs).toHaveLength(1);
});

describe('processSendJobs: the ends of jobs are sent in batches', () => {
  /** The platform's queue client, every call of the ends counted (and the claims' `complete`). */
  function watch(over: Partial<Record<'claimJobs', typeof pm.queue.claimJobs>> = {}) {
    const calls = { claims: 0, riding: 0, completeJob: 0, failJob: 0, completeJobs: 0, completed: 0, failJobs: 0, failed: 0 };
    const q = pm.queue;
    const api = Object.create(q, {
      claimJobs: {
        value: ((req, o) => {
          calls.claims += 1;
          calls.riding += req?.complete?.length ?? 0;
          return (over.claimJobs ?? q.claimJobs.bind(q))(req, o);
        }) as typeof q.claimJobs,
      },
      completeJob: { value: ((req, o) => ((calls.completeJob += 1), q.completeJob(req, o))) as typeof q.completeJob },
      failJob: { value: ((req, o) => ((calls.failJob += 1), q.failJob(req, o))) as typeof q.failJob },
      completeJobs: { value: ((req, o) => ((calls.completeJobs += 1), (calls.completed += req?.jobs?.length ?? 0), q.completeJobs(req, o))) as typeof q.completeJobs },
      failJobs: { value: ((req, o) => ((calls.failJobs += 1), (calls.failed += req?.jobs?.length ?? 0), q.failJobs(req, o))) as typeof q.failJobs },
    }) as typeof pm.queue;
    return { api, calls };
  }
  const statusesOf = async (tenantId: string, ids: string[]) => Promise.all(ids.map(async (jobId) => (await pm.queue.getJob({ tenantId, jobId })).job!.status));
  const until = async (done: () => boolean) => {
    for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
  };

  test('successes ride on the next claim and the rest go as one CompleteJobs / FailJobs per batch: fewer calls than jobs, every job ended once', async () => {
    const tenantId = randomUUID();
    const queue = 'acks';
    const { results } = await pm.queue.enqueueJobs({
      tenantId,
      jobs: Array.from({ length: 40 }, (_, i) => ({ queue, task: 'send', payload: { fail: i % 4 === 0 }, maxAttempts: 1 })),
    });
    const ids = results.map((r) => r.jobId);
    const { api, calls } = watch();
    const worker = processSendJobs(api, { tenantId, queue, batchSize: 10, waitMs: 200 }, async (job) => {
      if (job.payload?.fail) throw new JobFailure('bounced', { permanent: true });
    });
    await until(() => worker.stats.succeeded + worker.stats.failed >= 40);
    const stats = await worker.stop({ timeoutMs: 5_000 });
    expect(stats).toMatchObject({ claimed: 40, succeeded: 30, failed: 10, errors: 0 });
    // No job ended by a call of its own; each success sent once (on a claim or in CompleteJobs), each failure once.
    expect(calls).toMatchObject({ completeJob: 0, failJob: 0, failed: 10 });
    expect(calls.riding + calls.completed).toBe(30);
    expect(calls.riding).toBeGreaterThan(0);
    expect(calls.completeJobs + calls.failJobs).toBeLessThan(40);
    const statuses = await statusesOf(tenantId, ids);
    expect(statuses.filter((s) => s === queueV1.JobStatus.JOB_STATUS_SUCCEEDED)).toHaveLength(30);
    expect(statuses.filter((s) => s === queueV1.JobStatus.JOB_STATUS_DEAD)).toHaveLength(10);
  });

  test('ackDelayMs -1 ends each job with its own CompleteJob / FailJob, as before batching', async () => {
    const tenantId = randomUUID();
    const queue = 'acks-single';
    const { results } = await pm.queue.enqueueJobs({ tenantId, jobs: Array.from({ length: 6 }, (_, i) => ({ queue, task: 'send', payload: { fail: i < 2 }, maxAttempts: 1 })) });
    const { api, calls } = watch();
    const worker = processSendJobs(api, { tenantId, queue, batchSize: 3, waitMs: 200, ackDelayMs: -1 }, async (job) => {
      if (job.payload?.fail) throw new JobFailure('bounced', { permanent: true });
    });
    await until(() => worker.stats.succeeded + worker.stats.failed >= 6);
    expect(await worker.stop({ timeoutMs: 5_000 })).toMatchObject({ claimed: 6, succeeded: 4, failed: 2, errors: 0 });
    expect(calls).toMatchObject({ completeJob: 4, failJob: 2, riding: 0, completeJobs: 0, failJobs: 0 });
    expect(await statusesOf(tenantId, results.map((r) => r.jobId))).toEqual([
      ...Array(2).fill(queueV1.JobStatus.JOB_STATUS_DEAD),
      ...Array(4).fill(queueV1.JobStatus.JOB_STATUS_SUCCEEDED),
    ]);
  });

  test('stop() sends the ends still waiting for their batch before it resolves', async () => {
    const tenantId = randomUUID();
    const queue = 'acks-stop';
    const { results } = await pm.queue.enqueueJobs({ tenantId, jobs: Array.from({ length: 5 }, () => ({ queue, task: 'send' })) });
    const ran: string[] = [];
    // A batch that would wait a minute; a success that rides on the next claim is answered only
    // when that claim returns, and it waits 30 s in the service for a job that never comes.
    const worker = processSendJobs(pm.queue, { tenantId, queue, batchSize: 5, waitMs: 30_000, ackDelayMs: 60_000 }, async (job) => {
      await new Promise((r) => setTimeout(r, 300));
      ran.push(job.id);
    });
    await until(() => ran.length >= 5);
    await new Promise((r) => setTimeout(r, 200));
    expect(worker.stats.succeeded).toBe(0); // no end answered yet
    const stopping = Date.now();
    const stats = await worker.stop({ timeoutMs: 5_000 });
    expect(Date.now() - stopping).toBeLessThan(5_000);
    expect(stats).toMatchObject({ claimed: 5, succeeded: 5, errors: 0 });
    expect(new Set(await statusesOf(tenantId, results.map((r) => r.jobId)))).toEqual(new Set([queueV1.JobStatus.JOB_STATUS_SUCCEEDED]));
  });

  test('a claim whose answer is lost after it ended its riders: they are sent again, answered REPEATED, and each job counts once', async () => {
    const tenantId = randomUUID();
    const queue = 'acks-lost';
    const { results } = await pm.queue.enqueueJobs({ tenantId, jobs: Array.from({ length: 8 }, () => ({ queue, task: 'send' })) });
    let lost = 0;
    const { api, calls } = watch({
      // The first claim that carries ends reaches the service (which ends them) and its answer is lost.
      claimJobs: async (req, o) => {
        const res = await pm.queue.claimJobs(req, o);
        if ((req?.complete?.length ?? 0) > 0 && lost === 0) {
          lost = req!.complete!.length;
          // The jobs it claimed stay leased to nobody until their lease ends: give them back.
          if (res.jobs.length) await pm.queue.failJobs({ tenantId, workerId: req!.workerId!, jobs: res.jobs.map((j) => ({ jobId: j.id, attempt: j.attempts, error: 'answer lost', retryAfterSeconds: 0 })) });
          throw new PenguinMailsError({ code: 14, message: 'the answer was lost', rpc: 'queue.claimJobs' });
        }
        return res;
      },
    });
    const errors: unknown[] = [];
    const worker = processSendJobs(api, { tenantId, queue, batchSize: 4, waitMs: 200, pollIntervalMs: 20, onError: (e) => errors.push(e) }, async () => undefined);
    await until(() => worker.stats.succeeded >= 8);
    const stats = await worker.stop({ timeoutMs: 5_000 });
    expect(lost).toBeGreaterThan(0);
    expect(calls.completed).toBeGreaterThanOrEqual(lost); // sent again with CompleteJobs
    expect(stats).toMatchObject({ succeeded: 8, errors: 1 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ codeName: 'UNAVAILABLE', rpc: 'queue.claimJobs' });
    expect(new Set(await statusesOf(tenantId, results.map((r) => r.jobId)))).toEqual(new Set([queueV1.JobStatus.JOB_STATUS_SUCCEEDED]));
  });

  test("an end the service refuses (this attempt was already failed) reaches onError as FAILED_PRECONDITION, and is not counted", async () => {
    const tenantId = randomUUID();
    const queue = 'acks-refused';
    const { job } = await pm.queue.enqueueJob({ tenantId, queue, task: 'send', maxAttempts: 1 });
    const errors: { err: unknown; job?: queueV1.Job }[] = [];
    const worker = processSendJobs(pm.queue, { tenantId, queue, workerId: 'w-refused', batchSize: 1, waitMs: 200, onError: (err, j) => errors.push({ err, job: j }) }, async (j) => {
      // The attempt ends another way first: the worker's batched completion comes second.
      await pm.queue.failJob({ tenantId, jobId: j.id, workerId: 'w-refused', attempt: j.attempts, error: 'ended elsewhere', permanent: true });
    });
    await until(() => errors.length >= 1);
    const stats = await worker.stop({ timeoutMs: 5_000 });
    expect(stats).toMatchObject({ claimed: 1, succeeded: 0, failed: 0, errors: 1 });
    expect(errors[0].job?.id).toBe(job!.id);
    expect(errors[0].err).toMatchObject({ codeName: 'FAILED_PRECONDITION' });
    expect((await pm.queue.getJob({ tenantId, jobId: job!.id })).job!.status).toBe(queueV1.JobStatus.JOB_STATUS_DEAD);
  });

  test('ackDelayMs other than -1, 0 or a positive integer is refused at once', () => {
    expect(() => processSendJobs(pm.queue, { tenantId: randomUUID(), queue: 'q', ackDelayMs: -2 }, async () => undefined)).toThrow(/ackDelayMs/);
    expect(() => processSendJobs(pm.queue, { tenantId: randomUUID(), queue: 'q', ackDelayMs: 1.5 }, async () => undefined)).toThrow(/ackDelayMs/);
  });
});

describe('enqueueMany', () => {
  const job = (i: number) => ({ queue: 'bulk', task: 'campaign.send_step', payloadJson: Buffer.from(JSON.stringify({ leadId: `l${i}` })) });

  test('sends 2,500 jobs as batches in flight at once; one result per job, in order, each job stored once', async () => {
    const tenantId = randomUUID();
    const sent: number[] = [];
    let inFlight = 0;
    let most = 0;
    // The platform's queue client, watched: how many calls overlap and how big each is.
    const watched = {
      enqueueJobs: async (req: Parameters<typeof pm.queue.enqueueJobs>[0]) => {
        sent.push(req!.jobs!.length);
        most = Math.max(most, ++inFlight);
        try {
          return await pm.queue.enqueueJobs(req);
        } finally {
          inFlight -= 1;
        }
      },
    };
    const results = await enqueueMany(watched, { tenantId, jobs: Array.from({ length: 2500 }, (_, i) => job(i)), batchSize: 1000, inFlight: 3 });
    expect(sent.sort()).toEqual([1000, 1000, 500]);
    expect(most).toBe(3);
    expect(results).toHaveLength(2500);
    expect(results.every((r) => r.outcome === queueV1.EnqueueOutcome.ENQUEUE_OUTCOME_CREATED)).toBe(true);
    expect(new Set(results.map((r) => r.jobId)).size).toBe(2500);
    // Result i is job i: its stored payload names lead i.
    for (const i of [0, 999, 1000, 2499]) {
      const { job: stored } = await pm.queue.getJob({ tenantId, jobId: results[i].jobId });
      expect(stored!.payload).toEqual({ leadId: `l${i}` });
    }
    const stats = await pm.queue.getQueueStats({ tenantId, queue: 'bulk' });
    expect(Number(stats.queues[0].queued)).toBe(2500);
  });

  test('a bad job in the third batch: the error names it by its index in the whole request, the first two batches are enqueued, nothing after', async () => {
    const tenantId = randomUUID();
    const jobs = Array.from({ length: 50 }, (_, i) => job(i));
    jobs[27] = { ...job(27), queue: 'not a queue name' };
    const err = await pm.enqueueMany({ tenantId, jobs, batchSize: 10, inFlight: 1 }).catch((e) => e);
    expect(err.name).toBe('EnqueueManyError');
    expect(err.failedBatch).toEqual({ index: 2, firstJob: 20, jobs: 10 });
    expect(err.cause.codeName).toBe('INVALID_ARGUMENT');
    expect(err.cause.fieldViolations.map((v: { field: string }) => v.field)).toEqual(['jobs[27].queue']);
    expect(err.message).toContain('jobs[27].queue');
    expect(err.results.slice(0, 20).every((r: unknown) => r !== undefined)).toBe(true);
    expect(err.results.slice(20).every((r: unknown) => r === undefined)).toBe(true);
    const stats = await pm.queue.getQueueStats({ tenantId, queue: 'bulk' });
    expect(Number(stats.queues[0].queued)).toBe(20);
  });

  test('refuses a batch size or in-flight count that is not a whole number ≥ 1, before sending anything', async () => {
    const tenantId = randomUUID();
    await expect(pm.enqueueMany({ tenantId, jobs: [job(0)], batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(pm.enqueueMany({ tenantId, jobs: [job(0)], inFlight: 1.5 })).rejects.toThrow(/inFlight/);
    expect((await pm.queue.getQueueStats({ tenantId, queue: '' })).queues).toEqual([]);
  });
});
