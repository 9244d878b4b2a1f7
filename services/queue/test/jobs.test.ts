import { status as Status } from '@grpc/grpc-js';
import { queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, NO_KEYS, type Queue, startQueue, tenant } from './harness';

const { JobStatus, JobLogLevel } = queueV1;

let q: Queue;
beforeAll(async () => {
  q = await startQueue();
});
afterAll(async () => {
  await q?.stop();
});

const enqueue = (req: Partial<queueV1.EnqueueJobRequest> & { tenantId: string }) =>
  call(q.client, 'enqueueJob', { queue: 'email', task: 'campaign.send_step', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, ...req });

describe('EnqueueJob / GetJob', () => {
  it('stores a job and reads it back', async () => {
    const t = tenant();
    const runAt = new Date(Date.now() + 60_000);
    const { job, created } = await enqueue({ tenantId: t, payload: { lead_id: 'abc', step: 2, nested: { ok: true } }, priority: 7, runAt, maxAttempts: 3 });
    expect(created).toBe(true);
    expect(job).toMatchObject({
      tenantId: t,
      queue: 'email',
      task: 'campaign.send_step',
      payload: { lead_id: 'abc', step: 2, nested: { ok: true } },
      status: JobStatus.JOB_STATUS_QUEUED,
      priority: 7,
      attempts: 0,
      maxAttempts: 3,
      lockedBy: '',
      lastError: '',
    });
    expect(job!.runAt!.getTime()).toBe(runAt.getTime());
    const got = await call(q.client, 'getJob', { tenantId: t, jobId: job!.id });
    expect(got.job).toEqual(job);
  });

  it('defaults max_attempts and run_at', async () => {
    const before = Date.now();
    const { job } = await enqueue({ tenantId: tenant() });
    expect(job!.maxAttempts).toBe(5);
    expect(job!.runAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(job!.payload).toEqual({});
  });

  it('is idempotent on (tenant, queue, idempotency_key), also under concurrent calls', async () => {
    const t = tenant();
    const req = { tenantId: t, idempotencyKey: 'send:lead-1:step-1', payload: { lead_id: 'lead-1' } };
    const results = await Promise.all(Array.from({ length: 6 }, () => enqueue(req)));
    expect(new Set(results.map((r) => r.job!.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    // The same key in another queue or tenant is another job.
    const other = await enqueue({ ...req, queue: 'other' });
    expect(other.created).toBe(true);
    expect(other.job!.id).not.toBe(results[0].job!.id);
    expect((await enqueue({ ...req, tenantId: tenant() })).created).toBe(true);
  });

  it('refuses an idempotency key reused for different work with ALREADY_EXISTS, writing nothing', async () => {
    const t = tenant();
    await enqueue({ tenantId: t, idempotencyKey: 'k1', payload: { a: 1 } });
    const before = await q.counts();
    const st = await failure(enqueue({ tenantId: t, idempotencyKey: 'k1', payload: { a: 2 } }));
    expect(st.code).toBe(Status.ALREADY_EXISTS);
    expect(st.message).toMatch(/another task or payload/);
    expect(await q.counts()).toEqual(before);
  });

  it('rejects bad input naming every field, and writes nothing', async () => {
    const before = await q.counts();
    const st = await failure(
      enqueue({
        tenantId: 'not-a-uuid',
        queue: 'q'.repeat(101),
        task: 'has spaces',
        priority: 5000,
        maxAttempts: 101,
        idempotencyKey: 'k'.repeat(201),
        payload: { big: 'x'.repeat(70 * 1024) },
      }),
    );
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    const fields = Object.fromEntries(st.fieldViolations.map((v) => [v.field, v.reason]));
    expect(fields).toEqual({
      tenant_id: 'NOT_A_UUID',
      queue: 'TOO_LONG',
      task: 'MALFORMED',
      payload: 'TOO_LARGE',
      priority: 'OUT_OF_RANGE',
      max_attempts: 'OUT_OF_RANGE',
      idempotency_key: 'TOO_LONG',
    });
    const missing = await failure(call(q.client, 'enqueueJob', { tenantId: tenant(), queue: '', task: '', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS }));
    expect(missing.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['queue:REQUIRED', 'task:REQUIRED']);
    expect(await q.counts()).toEqual(before);
  });

  it("answers NOT_FOUND for another tenant's job and for a bad job_id INVALID_ARGUMENT", async () => {
    const { job } = await enqueue({ tenantId: tenant() });
    const st = await failure(call(q.client, 'getJob', { tenantId: tenant(), jobId: job!.id }));
    expect(st.code).toBe(Status.NOT_FOUND);
    expect(st.resourceInfo?.resourceType).toBe('job');
    const bad = await failure(call(q.client, 'getJob', { tenantId: job!.tenantId, jobId: '42' }));
    expect(bad.code).toBe(Status.INVALID_ARGUMENT);
    expect(bad.fieldViolations).toEqual([expect.objectContaining({ field: 'job_id', reason: 'NOT_A_UUID' })]);
  });
});

describe('ListJobs', () => {
  it('pages newest first with filters, and binds tokens to them', async () => {
    const t = tenant();
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await enqueue({ tenantId: t, queue: i % 2 ? 'odd' : 'even', payload: { i } })).job!.id);
    await enqueue({ tenantId: tenant() }); // another tenant's: never listed

    const seen: string[] = [];
    let token = '';
    do {
      const res = await call(q.client, 'listJobs', { tenantId: t, page: { pageSize: 3, pageToken: token }, status: 0, queue: '' });
      expect(res.jobs.length).toBeLessThanOrEqual(3);
      seen.push(...res.jobs.map((j) => j.id));
      token = res.page!.nextPageToken;
    } while (token);
    expect(seen).toEqual([...ids].reverse());

    const odd = await call(q.client, 'listJobs', { tenantId: t, status: JobStatus.JOB_STATUS_QUEUED, queue: 'odd' });
    expect(odd.jobs.map((j) => j.id)).toEqual([ids[5], ids[3], ids[1]]);
    const none = await call(q.client, 'listJobs', { tenantId: t, status: JobStatus.JOB_STATUS_DEAD, queue: '' });
    expect(none.jobs).toEqual([]);

    const first = await call(q.client, 'listJobs', { tenantId: t, page: { pageSize: 2, pageToken: '' }, status: 0, queue: '' });
    const st = await failure(
      call(q.client, 'listJobs', { tenantId: t, page: { pageSize: 2, pageToken: first.page!.nextPageToken }, status: 0, queue: 'odd' }),
    );
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations[0].field).toBe('page.page_token');
  });

  it('pages rows created within one millisecond (one transaction) each exactly once, newest first', async () => {
    const t = tenant();
    // One statement: one now(), so every row has the same `created`; only `id` orders them.
    const { rows } = await q.pool.query<{ id: string; ms: string }>(
      `insert into jobs (tenant_id, queue, task, payload)
       select $1, 'same-ms', 'noop', jsonb_build_object('n', g) from generate_series(1, 7) g
       returning id, (extract(epoch from created) * 1000)::bigint::text as ms`,
      [t],
    );
    expect(new Set(rows.map((r) => r.ms)).size).toBe(1);
    const seen: string[] = [];
    let token = '';
    do {
      const res = await call(q.client, 'listJobs', { tenantId: t, page: { pageSize: 2, pageToken: token }, status: 0, queue: 'same-ms' });
      seen.push(...res.jobs.map((j) => j.id));
      token = res.page!.nextPageToken;
    } while (token);
    expect(seen).toEqual(rows.map((r) => r.id).sort().reverse());
  });

  it('lists running jobs among the others each exactly once, newest first, at every page size (two indexes merged)', async () => {
    const t = tenant();
    // One statement: one `created`, so only `id` orders them and the statuses interleave.
    const { rows } = await q.pool.query<{ id: string }>(
      `insert into jobs (tenant_id, queue, task, payload)
       select $1, 'mixed', 'noop', jsonb_build_object('n', g) from generate_series(1, 9) g returning id`,
      [t],
    );
    const claimed = await call(q.client, 'claimJobs', { tenantId: t, queue: 'mixed', workerId: 'w', maxJobs: 5, leaseSeconds: 60, waitMs: 0, lean: false, complete: [] });
    expect(claimed.jobs).toHaveLength(5);
    const ended = await call(q.client, 'completeJobs', {
      tenantId: t,
      workerId: 'w',
      jobs: claimed.jobs.slice(0, 2).map((j) => ({ jobId: j.id, attempt: j.attempts, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 })),
    });
    expect(ended.results.map((r) => r.outcome)).toEqual([queueV1.EndOutcome.END_OUTCOME_DONE, queueV1.EndOutcome.END_OUTCOME_DONE]);
    const expected = rows.map((r) => r.id).sort().reverse();
    for (const pageSize of [1, 2, 3, 4, 8, 9, 10]) {
      const seen: queueV1.Job[] = [];
      let token = '';
      let pages = 0;
      do {
        const res = await call(q.client, 'listJobs', { tenantId: t, page: { pageSize, pageToken: token }, status: 0, queue: pageSize % 2 ? 'mixed' : '' });
        expect(res.jobs.length).toBeLessThanOrEqual(pageSize);
        seen.push(...res.jobs);
        token = res.page!.nextPageToken;
        pages++;
      } while (token);
      expect(seen.map((j) => j.id)).toEqual(expected);
      expect(pages).toBe(Math.max(1, Math.ceil(9 / pageSize)));
      const count = (s: queueV1.JobStatus) => seen.filter((j) => j.status === s).length;
      expect([count(JobStatus.JOB_STATUS_RUNNING), count(JobStatus.JOB_STATUS_SUCCEEDED), count(JobStatus.JOB_STATUS_QUEUED)]).toEqual([3, 2, 4]);
    }
    const running = await call(q.client, 'listJobs', { tenantId: t, status: JobStatus.JOB_STATUS_RUNNING, queue: '' });
    expect(running.jobs.map((j) => j.id)).toEqual(claimed.jobs.slice(2).map((j) => j.id).sort().reverse());
  });

  it('rejects an unknown status, a bad queue and an oversized page', async () => {
    const st = await failure(
      call(q.client, 'listJobs', { tenantId: tenant(), page: { pageSize: 501, pageToken: '' }, status: 99 as queueV1.JobStatus, queue: 'a b' }),
    );
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual([
      'page.page_size:OUT_OF_RANGE',
      'queue:MALFORMED',
      'status:UNKNOWN_VALUE',
    ]);
  });
});

describe('CancelJob', () => {
  it('cancels a queued job once; a final job is FAILED_PRECONDITION; another tenant NOT_FOUND', async () => {
    const t = tenant();
    const { job } = await enqueue({ tenantId: t });
    const other = await failure(call(q.client, 'cancelJob', { tenantId: tenant(), jobId: job!.id, includeRunning: false }));
    expect(other.code).toBe(Status.NOT_FOUND);
    const { job: cancelled } = await call(q.client, 'cancelJob', { tenantId: t, jobId: job!.id, includeRunning: false });
    expect(cancelled!.status).toBe(JobStatus.JOB_STATUS_CANCELLED);
    expect(cancelled!.finished).toBeInstanceOf(Date);
    const again = await failure(call(q.client, 'cancelJob', { tenantId: t, jobId: job!.id, includeRunning: false }));
    expect(again.code).toBe(Status.FAILED_PRECONDITION);
    expect(again.message).toMatch(/cancelled, which is final/);
    // A cancelled job is never claimed.
    const { jobs } = await call(q.client, 'claimJobs', { tenantId: t, queue: 'email', workerId: 'w', maxJobs: 10, leaseSeconds: 0, waitMs: 0, complete: [], lean: false });
    expect(jobs).toEqual([]);
  });
});

describe('AppendJobLog / ListJobLogs', () => {
  it('appends lines to the current attempt and lists them oldest first, paged', async () => {
    const t = tenant();
    const { job } = await enqueue({ tenantId: t });
    const first = await call(q.client, 'appendJobLog', { tenantId: t, jobId: job!.id, level: 0, message: 'queued by importer' });
    expect(first.log).toMatchObject({ jobId: job!.id, tenantId: t, attempt: 0, level: JobLogLevel.JOB_LOG_LEVEL_INFO, message: 'queued by importer' });
    await call(q.client, 'claimJobs', { tenantId: t, queue: 'email', workerId: 'w1', maxJobs: 1, leaseSeconds: 0, waitMs: 0, complete: [], lean: false });
    for (let i = 0; i < 4; i++)
      await call(q.client, 'appendJobLog', { tenantId: t, jobId: job!.id, level: JobLogLevel.JOB_LOG_LEVEL_WARN, message: `line ${i}`, data: { i } });

    const messages: string[] = [];
    let token = '';
    do {
      const res = await call(q.client, 'listJobLogs', { tenantId: t, jobId: job!.id, page: { pageSize: 2, pageToken: token } });
      messages.push(...res.logs.map((l) => `${l.attempt}:${l.message}`));
      token = res.page!.nextPageToken;
    } while (token);
    expect(messages).toEqual(['0:queued by importer', '1:line 0', '1:line 1', '1:line 2', '1:line 3']);
  });

  it('pages lines written within one millisecond each exactly once, in (created, id) order', async () => {
    const t = tenant();
    const { job } = await enqueue({ tenantId: t });
    // One statement writes all of them: their `created` (millisecond precision) mostly collide.
    await q.pool.query(
      `insert into job_logs (job_id, tenant_id, attempt, level, message)
       select $1, $2, 0, 'info', 'line ' || g from generate_series(1, 9) g`,
      [job!.id, t],
    );
    const { rows } = await q.pool.query<{ id: string }>('select id from job_logs where job_id = $1 order by created, id', [job!.id]);
    const ids: string[] = [];
    let token = '';
    do {
      const res = await call(q.client, 'listJobLogs', { tenantId: t, jobId: job!.id, page: { pageSize: 2, pageToken: token } });
      ids.push(...res.logs.map((l) => l.id));
      token = res.page!.nextPageToken;
    } while (token);
    expect(ids).toEqual(rows.map((r) => r.id));
    expect(new Set(ids).size).toBe(9);
  });

  it("rejects bad input and another tenant's job, writing nothing", async () => {
    const t = tenant();
    const { job } = await enqueue({ tenantId: t });
    const before = await q.counts();
    const bad = await failure(call(q.client, 'appendJobLog', { tenantId: t, jobId: job!.id, level: 9 as queueV1.JobLogLevel, message: '' }));
    expect(bad.code).toBe(Status.INVALID_ARGUMENT);
    expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['level:UNKNOWN_VALUE', 'message:REQUIRED']);
    const other = await failure(call(q.client, 'appendJobLog', { tenantId: tenant(), jobId: job!.id, level: 0, message: 'hi' }));
    expect(other.code).toBe(Status.NOT_FOUND);
    const list = await failure(call(q.client, 'listJobLogs', { tenantId: tenant(), jobId: job!.id }));
    expect(list.code).toBe(Status.NOT_FOUND);
    expect(await q.counts()).toEqual(before);
  });
});
