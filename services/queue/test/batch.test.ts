import { status as Status } from '@grpc/grpc-js';
import { commonV1, queueV1 } from '@penguinmails/contracts';
import { call, connect } from '@penguinmails/service-kit';
import { failure, NO_KEYS, type Queue, startQueue, tenant } from './harness';

// The batch worker protocol: EnqueueJobs, CompleteJobs, FailJobs, ClaimJobs wait_ms and claims
// across tenants, RetryJob, job output, GetQueueStats.

const { JobStatus, EnqueueOutcome, EndOutcome } = queueV1;

const SERVICE_TOKEN = 'svc-token-0123456789';
const BOUND_TENANT = tenant();
const BOUND_TOKEN = 'tenant-token-0123456789';

let q: Queue;
let bound: queueV1.QueueServiceClient;
beforeAll(async () => {
  // The fallback poll is far off: a long poll that returns early was woken by NOTIFY.
  q = await startQueue({ claimWaitPollMs: 60_000, batchMax: 50, payloadMaxBytes: 1024 }, { authTokens: [SERVICE_TOKEN, `${BOUND_TENANT}:${BOUND_TOKEN}`] });
  bound = connect(queueV1.QueueServiceClient, q.address, { token: BOUND_TOKEN });
});
afterAll(async () => {
  bound?.close();
  await q?.stop();
});

const newJob = (j: Partial<queueV1.NewJob> = {}): queueV1.NewJob => ({
  ...NO_KEYS,
  queue: 'send',
  task: 'campaign.send_step',
  payload: {},
  priority: 0,
  maxAttempts: 0,
  idempotencyKey: '',
  runAt: undefined,
  payloadJson: Buffer.alloc(0),
  ...j,
});
const enqueueJobs = (tenantId: string, jobs: queueV1.NewJob[]) => call(q.client, 'enqueueJobs', { tenantId, jobs });
const claim = (tenantId: string, workerId: string, maxJobs: number, queue = 'send', waitMs = 0) =>
  call(q.client, 'claimJobs', { tenantId, queue, workerId, maxJobs, leaseSeconds: 60, waitMs, complete: [], lean: false }).then((r) => r.jobs);
const attempt = (j: queueV1.Job, extra: Partial<queueV1.JobAttempt> = {}): queueV1.JobAttempt => ({
  jobId: j.id,
  attempt: j.attempts,
  error: '',
  permanent: false,
  retryAfterSeconds: 0,
  ...extra,
});

describe('EnqueueJobs', () => {
  it('enqueues a batch in order, honouring each idempotency key (also repeated within the batch)', async () => {
    const t = tenant();
    const first = await enqueueJobs(t, [
      newJob({ idempotencyKey: 'k1', payload: { n: 1 } }),
      newJob({ payload: { n: 2 }, priority: 5 }),
      newJob({ idempotencyKey: 'k1', payload: { n: 1 } }),
      newJob({ queue: 'other', idempotencyKey: 'k1', payload: { n: 3 } }),
    ]);
    const r = first.results;
    expect(r.map((x) => x.outcome)).toEqual([
      EnqueueOutcome.ENQUEUE_OUTCOME_CREATED,
      EnqueueOutcome.ENQUEUE_OUTCOME_CREATED,
      EnqueueOutcome.ENQUEUE_OUTCOME_EXISTING,
      EnqueueOutcome.ENQUEUE_OUTCOME_CREATED, // another queue: another key space
    ]);
    expect(r[2].jobId).toBe(r[0].jobId);
    const again = await enqueueJobs(t, [
      newJob({ idempotencyKey: 'k1', payload: { n: 1 } }),
      newJob({ idempotencyKey: 'k1', payload: { n: 999 } }),
      newJob({ idempotencyKey: 'k2' }),
    ]);
    expect(again.results.map((x) => [x.jobId === r[0].jobId, x.outcome])).toEqual([
      [true, EnqueueOutcome.ENQUEUE_OUTCOME_EXISTING],
      [true, EnqueueOutcome.ENQUEUE_OUTCOME_KEY_CONFLICT],
      [false, EnqueueOutcome.ENQUEUE_OUTCOME_CREATED],
    ]);
    const job = (await call(q.client, 'getJob', { tenantId: t, jobId: r[1].jobId })).job!;
    expect(job).toMatchObject({ status: JobStatus.JOB_STATUS_QUEUED, payload: { n: 2 }, priority: 5, maxAttempts: 5, tenantId: t });
    expect((await q.pool.query('select count(*)::int as n from jobs where tenant_id = $1', [t])).rows[0].n).toBe(4);
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const t = tenant();
    const before = await q.snapshot();
    const tooMany = await failure(enqueueJobs(t, Array.from({ length: 51 }, () => newJob())));
    expect(tooMany.code).toBe(Status.INVALID_ARGUMENT);
    expect(tooMany.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['jobs:TOO_MANY']);
    const empty = await failure(enqueueJobs(t, []));
    expect(empty.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['jobs:REQUIRED']);
    const bad = await failure(
      enqueueJobs(t, [newJob(), newJob({ queue: 'no spaces', payload: { big: 'x'.repeat(2000) } }), newJob({ priority: 1001, maxAttempts: -1 })]),
    );
    expect(bad.code).toBe(Status.INVALID_ARGUMENT);
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual([
      'jobs[1].payload:TOO_LARGE',
      'jobs[1].queue:MALFORMED',
      'jobs[2].max_attempts:OUT_OF_RANGE',
      'jobs[2].priority:OUT_OF_RANGE',
    ]);
    const denied = await failure(call(bound, 'enqueueJobs', { tenantId: t, jobs: [newJob()] }));
    expect(denied.code).toBe(Status.PERMISSION_DENIED);
    expect(await q.snapshot()).toEqual(before);
  });
});

describe('CompleteJobs / FailJobs', () => {
  it('ends many attempts in one call with a result per job, one JobsSucceeded per batch, and the output kept', async () => {
    const t = tenant();
    await enqueueJobs(t, [newJob(), newJob(), newJob(), newJob()]);
    const jobs = await claim(t, 'w1', 4);
    expect(jobs).toHaveLength(4);
    const [a, b, c, d] = jobs;
    const res = await call(q.client, 'completeJobs', {
      tenantId: t,
      workerId: 'w1',
      jobs: [attempt(a, { output: { sent: true } }), attempt(b), attempt(c, { attempt: 2 })],
    });
    expect(res.results.map((r) => [r.jobId, r.outcome, r.status])).toEqual([
      [a.id, EndOutcome.END_OUTCOME_DONE, JobStatus.JOB_STATUS_SUCCEEDED],
      [b.id, EndOutcome.END_OUTCOME_DONE, JobStatus.JOB_STATUS_SUCCEEDED],
      [c.id, EndOutcome.END_OUTCOME_LEASE_LOST, JobStatus.JOB_STATUS_RUNNING],
    ]);
    expect(res.results[2].message).toMatch(/held by worker "w1" for attempt 1/);
    expect((await call(q.client, 'getJob', { tenantId: t, jobId: a.id })).job).toMatchObject({ output: { sent: true }, status: JobStatus.JOB_STATUS_SUCCEEDED });

    // The event: one JobsSucceeded for the batch, carrying both ids.
    const event = await q.lastEvent(q.nats.names.subject('queue', t, 'jobs_succeeded'));
    const env = commonV1.EventEnvelope.decode(event!.data);
    expect(env.eventType).toBe('penguinmails.queue.v1.JobsSucceeded');
    expect(queueV1.JobsSucceeded.decode(env.payload).jobs.map((j) => j.id).sort()).toEqual([a.id, b.id].sort());
    expect((await q.pool.query('select count(*)::int as n from outbox_events where tenant_id = $1', [t])).rows[0].n).toBe(1);

    // A repeat (lost reply) is REPEATED and writes nothing; another tenant's job is NOT_FOUND;
    // another worker is LEASE_LOST.
    const before = await q.snapshot();
    const repeat = await call(q.client, 'completeJobs', { tenantId: t, workerId: 'w1', jobs: [attempt(a), attempt(b)] });
    expect(repeat.results.map((r) => r.outcome)).toEqual([EndOutcome.END_OUTCOME_REPEATED, EndOutcome.END_OUTCOME_REPEATED]);
    const other = await call(q.client, 'completeJobs', { tenantId: tenant(), workerId: 'w1', jobs: [attempt(c)] });
    expect(other.results[0].outcome).toBe(EndOutcome.END_OUTCOME_NOT_FOUND);
    const thief = await call(q.client, 'completeJobs', { tenantId: t, workerId: 'w2', jobs: [attempt(d)] });
    expect(thief.results[0].outcome).toBe(EndOutcome.END_OUTCOME_LEASE_LOST);
    expect(await q.snapshot()).toEqual(before);

    const failed = await call(q.client, 'failJobs', {
      tenantId: t,
      workerId: 'w1',
      jobs: [attempt(c, { error: 'smtp 421', retryAfterSeconds: 30 }), attempt(d, { error: 'no such lead', permanent: true })],
    });
    expect(failed.results.map((r) => [r.outcome, r.status])).toEqual([
      [EndOutcome.END_OUTCOME_DONE, JobStatus.JOB_STATUS_FAILED],
      [EndOutcome.END_OUTCOME_DONE, JobStatus.JOB_STATUS_DEAD],
    ]);
    const dead = await q.lastEvent(q.nats.names.subject('queue', t, 'job_dead'));
    expect(queueV1.JobDead.decode(commonV1.EventEnvelope.decode(dead!.data).payload).job!.id).toBe(d.id);
    const cJob = (await call(q.client, 'getJob', { tenantId: t, jobId: c.id })).job!;
    expect(cJob.runAt!.getTime()).toBeGreaterThan(Date.now() + 25_000);
    expect(cJob.lastError).toBe('smtp 421');
    const repeatFail = await call(q.client, 'failJobs', { tenantId: t, workerId: 'w1', jobs: [attempt(c, { error: 'again' })] });
    expect(repeatFail.results[0].outcome).toBe(EndOutcome.END_OUTCOME_REPEATED);
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const t = tenant();
    await enqueueJobs(t, [newJob()]);
    const [job] = await claim(t, 'w1', 1);
    const before = await q.snapshot();
    const bad = await failure(
      call(q.client, 'completeJobs', {
        tenantId: t,
        workerId: '',
        jobs: [attempt(job, { attempt: -1 }), attempt(job, { output: { big: 'x'.repeat(2000) } }), { ...attempt(job), jobId: 'nope' }],
      }),
    );
    expect(bad.code).toBe(Status.INVALID_ARGUMENT);
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual([
      'jobs[0].attempt:OUT_OF_RANGE',
      'jobs[1].job_id:DUPLICATE',
      'jobs[1].output:TOO_LARGE',
      'jobs[2].job_id:NOT_A_UUID',
      'worker_id:REQUIRED',
    ]);
    const tooMany = await failure(call(q.client, 'failJobs', { tenantId: t, workerId: 'w1', jobs: Array.from({ length: 51 }, () => attempt(job, { error: 'e' })) }));
    expect(tooMany.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toContain('jobs:TOO_MANY');
    const noError = await failure(call(q.client, 'failJobs', { tenantId: t, workerId: 'w1', jobs: [attempt(job, { retryAfterSeconds: -5 })] }));
    expect(noError.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['jobs[0].error:REQUIRED', 'jobs[0].retry_after_seconds:OUT_OF_RANGE']);
    const denied = await failure(call(bound, 'completeJobs', { tenantId: '', workerId: 'w1', jobs: [attempt(job)] }));
    expect(denied.code).toBe(Status.PERMISSION_DENIED);
    expect(await q.snapshot()).toEqual(before);
  });
});

describe('ClaimJobs wait_ms', () => {
  it('a waiting claimer is woken by the enqueue (NOTIFY), not by polling', async () => {
    const t = tenant();
    const started = Date.now();
    const waiting = claim(t, 'w1', 10, 'wake', 20_000);
    setTimeout(() => void enqueueJobs(t, [newJob({ queue: 'wake', payload: { n: 1 } })]), 300);
    const jobs = await waiting;
    expect(jobs.map((j) => j.payload)).toEqual([{ n: 1 }]);
    // The fallback poll of this file is 60 s and the wait 20 s: only the NOTIFY could end it.
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('answers empty when nothing comes before wait_ms, and refuses a wait over the maximum', async () => {
    const t = tenant();
    expect(await claim(t, 'w1', 10, 'quiet', 300)).toEqual([]);
    const bad = await failure(claim(t, 'w1', 10, 'quiet', 30_001));
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['wait_ms:OUT_OF_RANGE']);
    const neg = await failure(claim(t, 'w1', -1, 'quiet', -1));
    expect(neg.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['max_jobs:OUT_OF_RANGE', 'wait_ms:OUT_OF_RANGE']);
  });
});

describe('claims across tenants (platform workers)', () => {
  it('needs service scope, and a burst of one tenant does not starve the others', async () => {
    const queue = `fair-${Date.now()}`;
    const [big, small1, small2] = [tenant(), tenant(), tenant()];
    await enqueueJobs(big, Array.from({ length: 40 }, (_, i) => newJob({ queue, payload: { i } })));
    await enqueueJobs(small1, Array.from({ length: 3 }, () => newJob({ queue })));
    await enqueueJobs(small2, Array.from({ length: 3 }, () => newJob({ queue })));

    const denied = await failure(call(bound, 'claimJobs', { tenantId: '', queue, workerId: 'p', maxJobs: 10, leaseSeconds: 0, waitMs: 0, complete: [], lean: false }));
    expect(denied.code).toBe(Status.PERMISSION_DENIED);

    const jobs = await claim('', 'platform-1', 12, queue);
    const per = (t: string) => jobs.filter((j) => j.tenantId === t).length;
    // cap = ceil(12 / 3 tenants) = 4: the small tenants are served in the first claim.
    expect([per(big), per(small1), per(small2)]).toEqual([4, 3, 3]);
    const done = await call(q.client, 'completeJobs', { tenantId: '', workerId: 'platform-1', jobs: jobs.map((j) => attempt(j)) });
    expect(done.results.every((r) => r.outcome === EndOutcome.END_OUTCOME_DONE)).toBe(true);
    // The rest goes to the big tenant alone now.
    expect((await claim('', 'platform-1', 12, queue)).map((j) => j.tenantId)).toEqual(Array(12).fill(big));
  });
});

describe('RetryJob / GetQueueStats', () => {
  it('puts a dead job back with more attempts, refuses other statuses and other tenants', async () => {
    const t = tenant();
    const { results } = await enqueueJobs(t, [newJob({ queue: 'r', maxAttempts: 1, priority: 1 }), newJob({ queue: 'r' })]);
    const [job] = await claim(t, 'w1', 1, 'r');
    await call(q.client, 'failJobs', { tenantId: t, workerId: 'w1', jobs: [attempt(job, { error: 'boom' })] });
    expect((await call(q.client, 'getJob', { tenantId: t, jobId: job.id })).job!.status).toBe(JobStatus.JOB_STATUS_DEAD);

    const before = await q.snapshot();
    expect((await failure(call(q.client, 'retryJob', { tenantId: tenant(), jobId: job.id, extraAttempts: 0 }))).code).toBe(Status.NOT_FOUND);
    const queued = await failure(call(q.client, 'retryJob', { tenantId: t, jobId: results[1].jobId, extraAttempts: 0 }));
    expect(queued.code).toBe(Status.FAILED_PRECONDITION);
    const bad = await failure(call(q.client, 'retryJob', { tenantId: t, jobId: job.id, extraAttempts: 101 }));
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['extra_attempts:OUT_OF_RANGE']);
    expect(await q.snapshot()).toEqual(before);

    const retried = (await call(q.client, 'retryJob', { tenantId: t, jobId: job.id, extraAttempts: 2 })).job!;
    expect(retried).toMatchObject({ status: JobStatus.JOB_STATUS_QUEUED, attempts: 1, maxAttempts: 3, lastError: 'boom' });
    expect(retried.finished).toBeUndefined();
    const again = await claim(t, 'w2', 2, 'r');
    expect(again.find((j) => j.id === job.id)?.attempts).toBe(2);

    const stats = await call(q.client, 'getQueueStats', { tenantId: t, queue: '' });
    expect(stats.queues).toEqual([
      expect.objectContaining({ queue: 'r', queued: 0n, running: 2n, succeeded: 0n, dead: 0n, deadLastMinute: 0n, oldestRunnableAgeMs: 0n }),
    ]);
    await call(q.client, 'completeJobs', { tenantId: t, workerId: 'w2', jobs: again.map((j) => attempt(j)) });
    const after = await call(q.client, 'getQueueStats', { tenantId: t, queue: 'r' });
    expect(after.queues[0]).toMatchObject({ succeeded: 2n, succeededLastMinute: 2n, running: 0n });
    expect((await call(q.client, 'getQueueStats', { tenantId: tenant(), queue: '' })).queues).toEqual([]);
    const badStats = await failure(call(q.client, 'getQueueStats', { tenantId: 'x', queue: 'a b' }));
    expect(badStats.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['queue:MALFORMED', 'tenant_id:NOT_A_UUID']);
  });

  it('across tenants (empty tenant_id): every tenant of a queue summed, for service scope only', async () => {
    const queue = `stats-all-${Date.now()}`;
    const [a, b] = [tenant(), tenant()];
    await enqueueJobs(a, [newJob({ queue }), newJob({ queue }), newJob({ queue, maxAttempts: 1 })]);
    await enqueueJobs(b, [newJob({ queue }), newJob({ queue: `${queue}-other` })]);
    const [job] = await claim(a, 'w1', 1, queue);
    await call(q.client, 'failJobs', { tenantId: a, workerId: 'w1', jobs: [attempt(job, { error: 'boom', permanent: true })] });
    const running = await claim(b, 'w2', 1, queue);
    expect(running).toHaveLength(1);

    const stats = await call(q.client, 'getQueueStats', { tenantId: '', queue });
    expect(stats.queues).toEqual([
      expect.objectContaining({ queue, queued: 2n, running: 1n, dead: 1n, deadLastMinute: 1n, succeeded: 0n }),
    ]);
    // Without a queue: every queue of every tenant, by name; these two among them.
    const every = (await call(q.client, 'getQueueStats', { tenantId: '', queue: '' })).queues;
    expect(every.map((s) => s.queue)).toEqual([...every.map((s) => s.queue)].sort());
    expect(every.find((s) => s.queue === `${queue}-other`)).toMatchObject({ queued: 1n });
    // One tenant's own view is unchanged: only its jobs.
    expect((await call(q.client, 'getQueueStats', { tenantId: b, queue })).queues[0]).toMatchObject({ queued: 0n, running: 1n, dead: 0n });

    const before = await q.snapshot();
    const denied = await failure(call(bound, 'getQueueStats', { tenantId: '', queue }));
    expect(denied.code).toBe(Status.PERMISSION_DENIED);
    expect(denied.message).toContain('bound to tenants');
    const bad = await failure(call(q.client, 'getQueueStats', { tenantId: '', queue: 'a b' }));
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['queue:MALFORMED']);
    expect(await q.snapshot()).toEqual(before);
  });
});
