import { status as Status } from '@grpc/grpc-js';
import { commonV1, queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, NO_KEYS, type Queue, sleep, startQueue, tenant } from './harness';

const { JobStatus } = queueV1;

let q: Queue;
beforeAll(async () => {
  // A short backoff base so retries come due within the test.
  q = await startQueue({ retryBaseMs: 200, retryMaxMs: 10_000, claimBatchMax: 50 });
});
afterAll(async () => {
  await q?.stop();
});

const enqueue = (tenantId: string, req: Partial<queueV1.EnqueueJobRequest> = {}) =>
  call(q.client, 'enqueueJob', { tenantId, queue: 'send', task: 'campaign.send_step', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, ...req }).then(
    (r) => r.job!,
  );
const claim = (tenantId: string, workerId: string, maxJobs = 1, leaseSeconds = 0, queue = 'send') =>
  call(q.client, 'claimJobs', { tenantId, queue, workerId, maxJobs, leaseSeconds, waitMs: 0, complete: [], lean: false }).then((r) => r.jobs);
const lease = (job: queueV1.Job) => ({ tenantId: job.tenantId, jobId: job.id, workerId: job.lockedBy, attempt: job.attempts });

describe('ClaimJobs', () => {
  it('leases runnable jobs by priority then run_at, skipping future and other queues', async () => {
    const t = tenant();
    const low = await enqueue(t, { priority: -1 });
    const mid = await enqueue(t, { priority: 0, runAt: new Date(Date.now() - 60_000) });
    const mid2 = await enqueue(t, { priority: 0 });
    const high = await enqueue(t, { priority: 5 });
    await enqueue(t, { priority: 100, runAt: new Date(Date.now() + 3_600_000) });
    await enqueue(t, { queue: 'other', priority: 100 });
    await enqueue(tenant(), { priority: 100 }); // another tenant's queue of the same name

    const before = Date.now();
    const jobs = await claim(t, 'worker-a', 10, 30);
    expect(jobs.map((j) => j.id)).toEqual([high.id, mid.id, mid2.id, low.id]);
    for (const j of jobs) {
      expect(j).toMatchObject({ status: JobStatus.JOB_STATUS_RUNNING, lockedBy: 'worker-a', attempts: 1 });
      expect(j.lockedUntil!.getTime()).toBeGreaterThan(before + 25_000);
      expect(j.lockedUntil!.getTime()).toBeLessThan(before + 35_000);
    }
    // Leased: nobody else gets them while the lease holds.
    expect(await claim(t, 'worker-b', 10)).toEqual([]);
  });

  it('hands each of 200 jobs to exactly one of 4 concurrent claimers', async () => {
    const t = tenant();
    const { rows } = await q.pool.query<{ id: string }>(
      `insert into jobs (tenant_id, queue, task, payload)
       select $1, 'bulk', 'noop', jsonb_build_object('n', g) from generate_series(1, 200) g returning id`,
      [t],
    );
    const claimedBy = new Map<string, string[]>();
    const worker = async (name: string) => {
      for (;;) {
        const jobs = await claim(t, name, 7, 60, 'bulk');
        if (jobs.length === 0) return;
        for (const j of jobs) claimedBy.set(j.id, [...(claimedBy.get(j.id) ?? []), name]);
      }
    };
    await Promise.all(['w1', 'w2', 'w3', 'w4'].map(worker));
    expect(claimedBy.size).toBe(200);
    expect([...claimedBy.values()].filter((by) => by.length !== 1)).toEqual([]);
    expect(new Set(rows.map((r) => r.id))).toEqual(new Set(claimedBy.keys()));
    // More than one worker did get work (they really raced).
    expect(new Set([...claimedBy.values()].flat()).size).toBeGreaterThan(1);
  });

  it('rejects bad input naming the field, and writes nothing', async () => {
    const t = tenant();
    await enqueue(t);
    const before = await q.counts();
    const st = await failure(call(q.client, 'claimJobs', { tenantId: t, queue: 'send', workerId: '', maxJobs: 51, leaseSeconds: 3601, waitMs: 0, complete: [], lean: false }));
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual([
      'lease_seconds:OUT_OF_RANGE',
      'max_jobs:OUT_OF_RANGE',
      'worker_id:REQUIRED',
    ]);
    const bad = await failure(call(q.client, 'claimJobs', { tenantId: 'nope', queue: 'x'.repeat(101), workerId: 'w', maxJobs: 1, leaseSeconds: 0, waitMs: 0, complete: [], lean: false }));
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['queue:TOO_LONG', 'tenant_id:NOT_A_UUID']);
    expect(await q.counts()).toEqual(before);
    const [job] = await claim(t, 'w');
    expect(job.status).toBe(JobStatus.JOB_STATUS_RUNNING); // still queued until then
  });
});

describe('leases', () => {
  it('takes back an expired lease (a failed attempt), fences the old worker, and keeps an extended one', async () => {
    const t = tenant();
    const a = await enqueue(t, { priority: 1, maxAttempts: 3 });
    const b = await enqueue(t, { priority: 0, maxAttempts: 3 });
    const last = await enqueue(t, { priority: -1, maxAttempts: 1 });
    const claimed = await claim(t, 'dying-worker', 3, 1);
    expect(claimed.map((j) => j.id)).toEqual([a.id, b.id, last.id]);
    const [aClaim, bClaim] = claimed;
    const extended = await call(q.client, 'extendLease', { ...lease(bClaim), leaseSeconds: 60 });
    expect(extended.job!.lockedUntil!.getTime()).toBeGreaterThan(Date.now() + 50_000);

    await sleep(1200);
    const reclaimed = await claim(t, 'new-worker', 10, 30);
    // a comes back (attempt 2); b's lease was extended; `last` used its only attempt: dead.
    expect(reclaimed.map((j) => [j.id, j.attempts, j.lockedBy])).toEqual([[a.id, 2, 'new-worker']]);

    const stale = await failure(call(q.client, 'completeJob', lease(aClaim)));
    expect(stale.code).toBe(Status.FAILED_PRECONDITION);
    expect(stale.preconditionViolations[0]).toMatchObject({ type: 'LEASE', subject: `job/${a.id}` });
    expect(stale.message).toMatch(/held by worker "new-worker" for attempt 2/);

    const dead = (await call(q.client, 'getJob', { tenantId: t, jobId: last.id })).job!;
    expect(dead).toMatchObject({ status: JobStatus.JOB_STATUS_DEAD, attempts: 1, lockedBy: '' });
    expect(dead.lastError).toMatch(/lease of worker dying-worker expired/);
    expect(dead.finished).toBeInstanceOf(Date);
    const event = await q.lastEvent(q.nats.names.subject('queue', t, 'job_dead'));
    const env = commonV1.EventEnvelope.decode(event!.data);
    expect(env).toMatchObject({ tenantId: t, eventType: 'penguinmails.queue.v1.JobDead', source: 'queue' });
    expect(queueV1.JobDead.decode(env.payload).job!.id).toBe(last.id);

    const logs = await call(q.client, 'listJobLogs', { tenantId: t, jobId: a.id });
    expect(logs.logs.map((l) => [l.attempt, l.level, l.message.slice(0, 28)])).toEqual([
      [1, queueV1.JobLogLevel.JOB_LOG_LEVEL_ERROR, 'lease of worker dying-worker'],
    ]);
  });
});

describe('CompleteJob / FailJob', () => {
  it('completes for the lease holder only and emits JobSucceeded', async () => {
    const t = tenant();
    await enqueue(t);
    const [job] = await claim(t, 'w1');
    const before = await q.counts();
    const wrongWorker = await failure(call(q.client, 'completeJob', { ...lease(job), workerId: 'w2' }));
    expect(wrongWorker.code).toBe(Status.FAILED_PRECONDITION);
    const otherTenant = await failure(call(q.client, 'completeJob', { ...lease(job), tenantId: tenant() }));
    expect(otherTenant.code).toBe(Status.NOT_FOUND);
    const bad = await failure(call(q.client, 'completeJob', { ...lease(job), jobId: 'x', attempt: 0 }));
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['attempt:OUT_OF_RANGE', 'job_id:NOT_A_UUID']);
    expect(await q.counts()).toEqual(before);

    const { job: done } = await call(q.client, 'completeJob', lease(job));
    expect(done).toMatchObject({ status: JobStatus.JOB_STATUS_SUCCEEDED, lockedBy: '', attempts: 1 });
    expect(done!.finished).toBeInstanceOf(Date);
    expect(done!.lockedUntil).toBeUndefined();

    // Another worker after the completion is still refused (repeats of the holder: see below).
    const late = await failure(call(q.client, 'completeJob', { ...lease(job), workerId: 'w2' }));
    expect(late.code).toBe(Status.FAILED_PRECONDITION);
    expect(late.message).toMatch(/it is succeeded, not running/);

    const event = await q.lastEvent(q.nats.names.subject('queue', t, 'job_succeeded'));
    const env = commonV1.EventEnvelope.decode(event!.data);
    expect(env.eventType).toBe('penguinmails.queue.v1.JobSucceeded');
    expect(queueV1.JobSucceeded.decode(env.payload).job).toMatchObject({ id: job.id, status: JobStatus.JOB_STATUS_SUCCEEDED });
    expect(event!.header?.get('Nats-Msg-Id')).toBe(env.eventId);
  });

  it('retries with exponential backoff, then the job is dead and JobDead is emitted', async () => {
    const t = tenant();
    const job = await enqueue(t, { maxAttempts: 3 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      let claimed: queueV1.Job[] = [];
      const deadline = Date.now() + 5_000;
      while (claimed.length === 0 && Date.now() < deadline) {
        claimed = await claim(t, 'w');
        if (claimed.length === 0) await sleep(50);
      }
      expect(claimed.map((j) => [j.id, j.attempts])).toEqual([[job.id, attempt]]);
      const failedAt = Date.now();
      const { job: failed } = await call(q.client, 'failJob', { ...lease(claimed[0]), error: `smtp 451 try ${attempt}`, permanent: false, retryAfterSeconds: 0 });
      expect(failed!.lastError).toBe(`smtp 451 try ${attempt}`);
      if (attempt < 3) {
        expect(failed).toMatchObject({ status: JobStatus.JOB_STATUS_FAILED, lockedBy: '' });
        delays.push(failed!.runAt!.getTime() - failedAt);
        // Not runnable before its backoff is over.
        expect(await claim(t, 'w')).toEqual([]);
      } else {
        expect(failed).toMatchObject({ status: JobStatus.JOB_STATUS_DEAD, attempts: 3 });
        expect(failed!.finished).toBeInstanceOf(Date);
      }
    }
    // base 200 ms: ~200 then ~400 (+ up to 10 % jitter), measured against this process's clock.
    expect(delays[0]).toBeGreaterThan(100);
    expect(delays[0]).toBeLessThan(350);
    expect(delays[1]).toBeGreaterThan(300);
    expect(delays[1]).toBeLessThan(560);

    const event = await q.lastEvent(q.nats.names.subject('queue', t, 'job_dead'));
    const dead = queueV1.JobDead.decode(commonV1.EventEnvelope.decode(event!.data).payload).job!;
    expect(dead).toMatchObject({ id: job.id, status: JobStatus.JOB_STATUS_DEAD, lastError: 'smtp 451 try 3' });

    const logs = await call(q.client, 'listJobLogs', { tenantId: t, jobId: job.id });
    expect(logs.logs.map((l) => `${l.attempt}:${l.message}`)).toEqual(['1:smtp 451 try 1', '2:smtp 451 try 2', '3:smtp 451 try 3']);
    expect(await claim(t, 'w')).toEqual([]);
  });

  it('dies at once on a permanent failure and honours retry_after_seconds', async () => {
    const t = tenant();
    const a = await enqueue(t, { priority: 1 });
    const b = await enqueue(t);
    const [ca, cb] = await claim(t, 'w', 2);
    expect([ca.id, cb.id]).toEqual([a.id, b.id]);
    const { job: dead } = await call(q.client, 'failJob', { ...lease(ca), error: 'lead was deleted', permanent: true, retryAfterSeconds: 0 });
    expect(dead).toMatchObject({ status: JobStatus.JOB_STATUS_DEAD, attempts: 1, maxAttempts: 5 });
    const now = Date.now();
    const { job: later } = await call(q.client, 'failJob', { ...lease(cb), error: 'rate limited', permanent: false, retryAfterSeconds: 120 });
    expect(later!.status).toBe(JobStatus.JOB_STATUS_FAILED);
    expect(later!.runAt!.getTime() - now).toBeGreaterThan(115_000);
    expect(later!.runAt!.getTime() - now).toBeLessThan(125_000);

    const before = await q.counts();
    const st = await failure(call(q.client, 'failJob', { ...lease(cb), error: '', permanent: false, retryAfterSeconds: -1 }));
    expect(st.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['error:REQUIRED', 'retry_after_seconds:OUT_OF_RANGE']);
    expect(await q.counts()).toEqual(before);
  });
});

describe('CompleteJob / FailJob repeated for the same attempt (a lost reply)', () => {
  const fail = (job: queueV1.Job, error: string, opts: { permanent?: boolean; retryAfterSeconds?: number; workerId?: string; attempt?: number } = {}) =>
    call(q.client, 'failJob', {
      ...lease(job),
      ...(opts.workerId ? { workerId: opts.workerId } : {}),
      ...(opts.attempt ? { attempt: opts.attempt } : {}),
      error,
      permanent: opts.permanent ?? false,
      retryAfterSeconds: opts.retryAfterSeconds ?? 0,
    }).then((r) => r.job!);
  const complete = (job: queueV1.Job, over: { workerId?: string; attempt?: number } = {}) =>
    call(q.client, 'completeJob', { ...lease(job), ...over }).then((r) => r.job!);
  /** Rows the tenant has in job_logs and outbox_events (each test uses its own tenant). */
  const written = async (t: string) => {
    const { rows } = await q.pool.query<{ logs: number; outbox: number }>(
      `select (select count(*) from job_logs where tenant_id = $1)::int as logs,
              (select count(*) from outbox_events where tenant_id = $1)::int as outbox`,
      [t],
    );
    return rows[0];
  };
  const claimOne = async (t: string, workerId: string, leaseSeconds = 0) => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const jobs = await claim(t, workerId, 1, leaseSeconds);
      if (jobs.length > 0 || Date.now() > deadline) return jobs[0];
      await sleep(50);
    }
  };

  it('completes once: the repeat answers OK with the same job and writes nothing', async () => {
    const t = tenant();
    await enqueue(t);
    const job = await claimOne(t, 'w1');
    const first = await complete(job);
    expect(first).toMatchObject({ status: JobStatus.JOB_STATUS_SUCCEEDED, attempts: 1 });
    const after = await q.snapshot();
    const second = await complete(job);
    expect(second).toEqual(first);
    expect(await q.snapshot()).toEqual(after);
    expect(await written(t)).toEqual({ logs: 0, outbox: 1 }); // CompleteJob writes no log line, one JobSucceeded

    const event = await q.lastEvent(q.nats.names.subject('queue', t, 'job_succeeded'));
    expect(queueV1.JobSucceeded.decode(commonV1.EventEnvelope.decode(event!.data).payload).job!.id).toBe(job.id);
  });

  it('completes once when the repeat races the first call', async () => {
    const t = tenant();
    await enqueue(t);
    const job = await claimOne(t, 'w1');
    const results = await Promise.all([complete(job), complete(job), complete(job)]);
    for (const r of results) expect(r).toEqual(results[0]);
    expect(results[0].status).toBe(JobStatus.JOB_STATUS_SUCCEEDED);
    expect(await written(t)).toEqual({ logs: 0, outbox: 1 });
  });

  it('fails once with a retry scheduled: the repeat answers OK and writes nothing, whatever its error says', async () => {
    const t = tenant();
    await enqueue(t, { maxAttempts: 3 });
    const job = await claimOne(t, 'w1');
    const first = await fail(job, 'smtp 451', { retryAfterSeconds: 120 });
    expect(first).toMatchObject({ status: JobStatus.JOB_STATUS_FAILED, attempts: 1, lastError: 'smtp 451' });
    const after = await q.snapshot();
    expect(await fail(job, 'smtp 451', { retryAfterSeconds: 120 })).toEqual(first);
    // The first recorded failure stands: no new error text, run_at or permanence.
    expect(await fail(job, 'something else', { permanent: true })).toEqual(first);
    expect(await q.snapshot()).toEqual(after);
    expect(await written(t)).toEqual({ logs: 1, outbox: 0 });
  });

  it('fails once to DEAD: the repeat answers OK, one log line and one JobDead', async () => {
    const t = tenant();
    await enqueue(t, { maxAttempts: 1 });
    const job = await claimOne(t, 'w1');
    const first = await fail(job, 'mailbox full');
    expect(first).toMatchObject({ status: JobStatus.JOB_STATUS_DEAD, attempts: 1 });
    const after = await q.snapshot();
    expect(await fail(job, 'mailbox full')).toEqual(first);
    expect(await q.snapshot()).toEqual(after);
    expect(await written(t)).toEqual({ logs: 1, outbox: 1 });

    // The same for a permanent failure with attempts left.
    const t2 = tenant();
    await enqueue(t2);
    const job2 = await claimOne(t2, 'w1');
    const dead = await fail(job2, 'lead deleted', { permanent: true });
    expect(dead).toMatchObject({ status: JobStatus.JOB_STATUS_DEAD, attempts: 1, maxAttempts: 5 });
    const after2 = await q.snapshot();
    expect(await fail(job2, 'lead deleted', { permanent: true })).toEqual(dead);
    expect(await q.snapshot()).toEqual(after2);
    expect(await written(t2)).toEqual({ logs: 1, outbox: 1 });
  });

  it('refuses the other outcome for an attempt that already ended, writing nothing', async () => {
    const t = tenant();
    await enqueue(t);
    await enqueue(t);
    const failed = await claimOne(t, 'w1');
    await fail(failed, 'smtp 451', { retryAfterSeconds: 120 });
    const done = await claimOne(t, 'w1');
    await complete(done);
    const after = await q.snapshot();

    const completeAfterFail = await failure(complete(failed));
    expect(completeAfterFail.code).toBe(Status.FAILED_PRECONDITION);
    expect(completeAfterFail.preconditionViolations[0]).toMatchObject({ type: 'LEASE', subject: `job/${failed.id}` });
    expect(completeAfterFail.message).toMatch(/attempt 1 of worker "w1" already ended, the job is now failed \(last error: smtp 451\)/);

    const failAfterComplete = await failure(fail(done, 'oops'));
    expect(failAfterComplete.code).toBe(Status.FAILED_PRECONDITION);
    expect(failAfterComplete.message).toMatch(/already ended, the job is now succeeded/);

    // Extending a lease the attempt gave up stays refused too.
    const extend = await failure(call(q.client, 'extendLease', { ...lease(done), leaseSeconds: 60 }));
    expect(extend.code).toBe(Status.FAILED_PRECONDITION);
    expect(await q.snapshot()).toEqual(after);
  });

  it("refuses another worker's and a stale attempt's repeat, writing nothing", async () => {
    const t = tenant();
    await enqueue(t, { maxAttempts: 3 });
    const first = await claimOne(t, 'w1');
    await fail(first, 'smtp 451'); // retry after ~200 ms (this file's backoff base)
    let after = await q.snapshot();
    // Same attempt number, another worker id.
    expect((await failure(fail(first, 'smtp 451', { workerId: 'w2' }))).code).toBe(Status.FAILED_PRECONDITION);
    expect((await failure(complete(first, { workerId: 'w2' }))).code).toBe(Status.FAILED_PRECONDITION);
    expect(await q.snapshot()).toEqual(after);

    // The retry was claimed by w2: w1's attempt 1 is stale now, although its failure was recorded.
    const second = await claimOne(t, 'w2');
    expect(second.attempts).toBe(2);
    after = await q.snapshot();
    const stale = await failure(fail(first, 'smtp 451'));
    expect(stale.code).toBe(Status.FAILED_PRECONDITION);
    expect(stale.message).toMatch(/held by worker "w2" for attempt 2/);
    expect((await failure(complete(first))).code).toBe(Status.FAILED_PRECONDITION);
    expect(await q.snapshot()).toEqual(after);

    // w2 completes; w1's attempt 1 and a made-up attempt 2 of w1 are still refused.
    await complete(second);
    after = await q.snapshot();
    expect((await failure(complete(first))).code).toBe(Status.FAILED_PRECONDITION);
    expect((await failure(complete(second, { workerId: 'w1' }))).code).toBe(Status.FAILED_PRECONDITION);
    expect(await q.snapshot()).toEqual(after);
    expect(await written(t)).toEqual({ logs: 1, outbox: 1 });
  });

  it('refuses the holder of an attempt that ended by lease expiry, even if it ended the previous attempt itself', async () => {
    const t = tenant();
    await enqueue(t, { maxAttempts: 2 });
    const first = await claimOne(t, 'w1');
    await fail(first, 'smtp 451'); // w1 ended attempt 1 itself
    const second = await claimOne(t, 'w1', 1); // and holds attempt 2, for 1 s
    expect(second.attempts).toBe(2);
    await sleep(1200);
    expect(await claim(t, 'sweeper')).toEqual([]); // takes back the expired lease: the last attempt, so dead
    const dead = (await call(q.client, 'getJob', { tenantId: t, jobId: first.id })).job!;
    expect(dead).toMatchObject({ status: JobStatus.JOB_STATUS_DEAD, attempts: 2 });

    const after = await q.snapshot();
    const late = await failure(fail(second, 'smtp 451'));
    expect(late.code).toBe(Status.FAILED_PRECONDITION);
    expect(late.message).toMatch(/it is dead, not running \(last error: lease of worker w1 expired/);
    expect((await failure(complete(second))).code).toBe(Status.FAILED_PRECONDITION);
    expect(await q.snapshot()).toEqual(after);
  });

  it('cancels a running job only with include_running; its worker is then refused on every path, nothing written', async () => {
    const t = tenant();
    await enqueue(t);
    const job = await claimOne(t, 'w1');
    // Without include_running: FAILED_PRECONDITION naming the flag, and the job keeps running.
    const before = await q.snapshot();
    const refused = await failure(call(q.client, 'cancelJob', { tenantId: t, jobId: job.id, includeRunning: false }));
    expect(refused.code).toBe(Status.FAILED_PRECONDITION);
    expect(refused.message).toMatch(/is running \(leased to w1\); set include_running/);
    expect(await q.snapshot()).toEqual(before);
    // Another tenant's running job: NOT_FOUND, nothing written.
    const other = await failure(call(q.client, 'cancelJob', { tenantId: tenant(), jobId: job.id, includeRunning: true }));
    expect(other.code).toBe(Status.NOT_FOUND);
    expect(await q.snapshot()).toEqual(before);

    const { job: cancelled } = await call(q.client, 'cancelJob', { tenantId: t, jobId: job.id, includeRunning: true });
    expect(cancelled).toMatchObject({ status: JobStatus.JOB_STATUS_CANCELLED, lockedBy: '', attempts: 1 });
    expect(cancelled!.lockedUntil).toBeUndefined();
    expect(cancelled!.finished).toBeInstanceOf(Date);
    const after = await q.snapshot();
    // The worker's every call for the attempt: refused as cancelled (not as an expired lease), writing nothing.
    const said = /cancelled while attempt 1 ran \(CancelJob with include_running\)/;
    for (const st of [
      await failure(complete(job)),
      await failure(fail(job, 'smtp 451')),
      await failure(call(q.client, 'extendLease', { ...lease(job), leaseSeconds: 0 })),
    ]) {
      expect(st.code).toBe(Status.FAILED_PRECONDITION);
      expect(st.message).toMatch(said);
    }
    const batch = await call(q.client, 'completeJobs', { tenantId: t, workerId: 'w1', jobs: [{ jobId: job.id, attempt: 1, error: '', permanent: false, retryAfterSeconds: 0 }] });
    expect(batch.results).toEqual([
      expect.objectContaining({ jobId: job.id, outcome: queueV1.EndOutcome.END_OUTCOME_LEASE_LOST, status: JobStatus.JOB_STATUS_CANCELLED, message: expect.stringMatching(said) }),
    ]);
    const lean = await call(q.client, 'claimJobs', { tenantId: t, queue: 'send', workerId: 'w1', maxJobs: 1, leaseSeconds: 0, waitMs: 0, complete: [{ jobId: job.id, attempt: 1, error: '', permanent: false, retryAfterSeconds: 0 }], lean: true });
    expect(lean.completed).toEqual([expect.objectContaining({ outcome: queueV1.EndOutcome.END_OUTCOME_LEASE_LOST, message: expect.stringMatching(said) })]);
    expect(lean.claimed).toEqual([]); // a cancelled job is never claimed
    expect(await q.snapshot()).toEqual(after);
    expect(await written(t)).toEqual({ logs: 0, outbox: 0 }); // no JobSucceeded, no JobDead
    // A repeated cancel: the job is final now.
    expect((await failure(call(q.client, 'cancelJob', { tenantId: t, jobId: job.id, includeRunning: true }))).message).toMatch(/cancelled, which is final/);
    // RetryJob puts it back; the next attempt is 2, and the cancelled attempt's worker stays fenced.
    await call(q.client, 'retryJob', { tenantId: t, jobId: job.id, extraAttempts: 1 });
    const again = await claimOne(t, 'w2');
    expect(again).toMatchObject({ id: job.id, attempts: 2, lockedBy: 'w2' });
    expect((await failure(complete(job))).code).toBe(Status.FAILED_PRECONDITION);
    expect((await complete(again)).status).toBe(JobStatus.JOB_STATUS_SUCCEEDED);
  });

  it('frees the concurrency group slot of a running job it cancels', async () => {
    const t = tenant();
    const keys = { groupKey: 'mailbox:1', groupLimit: 1 };
    const first = await enqueue(t, keys);
    const second = await enqueue(t, keys);
    const running = await claimOne(t, 'w1');
    expect(running.id).toBe(first.id);
    expect(await claim(t, 'w2', 5)).toEqual([]); // the group's one slot is taken
    await call(q.client, 'cancelJob', { tenantId: t, jobId: first.id, includeRunning: true });
    const next = await claim(t, 'w2', 5);
    expect(next.map((j) => j.id)).toEqual([second.id]);
  });

  it('answers a repeated FailJob after the failed job was cancelled with the cancelled job', async () => {
    const t = tenant();
    await enqueue(t);
    const job = await claimOne(t, 'w1');
    await fail(job, 'smtp 451', { retryAfterSeconds: 120 });
    const { job: cancelled } = await call(q.client, 'cancelJob', { tenantId: t, jobId: job.id, includeRunning: false });
    const after = await q.snapshot();
    expect(await fail(job, 'smtp 451', { retryAfterSeconds: 120 })).toEqual(cancelled);
    expect((await failure(complete(job))).code).toBe(Status.FAILED_PRECONDITION);
    expect(await q.snapshot()).toEqual(after);
  });
});
