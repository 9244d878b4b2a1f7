import { status as Status } from '@grpc/grpc-js';
import { queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, NO_KEYS, type Queue, sleep, startQueue, tenant } from './harness';

// Concurrency groups (at most N running per group key) and the keys beyond idempotency
// (singleton, debounce, throttle), against the real PostgreSQL.

const { EnqueueOutcome, JobStatus } = queueV1;

let q: Queue;
beforeAll(async () => {
  q = await startQueue({ retryBaseMs: 100, retryMaxMs: 1000 });
});
afterAll(async () => {
  await q?.stop();
});

const enqueue = (tenantId: string, req: Partial<queueV1.EnqueueJobRequest> = {}) =>
  call(q.client, 'enqueueJob', { tenantId, queue: 'send', task: 'send_email', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, ...req });
const newJob = (j: Partial<queueV1.NewJob> = {}): queueV1.NewJob => ({
  ...NO_KEYS,
  queue: 'send',
  task: 'send_email',
  payload: {},
  priority: 0,
  runAt: undefined,
  maxAttempts: 0,
  idempotencyKey: '',
  payloadJson: Buffer.alloc(0),
  ...j,
});
const claim = (tenantId: string, workerId: string, maxJobs: number, leaseSeconds = 30, queue = 'send') =>
  call(q.client, 'claimJobs', { tenantId, queue, workerId, maxJobs, leaseSeconds, waitMs: 0, complete: [], lean: false }).then((r) => r.jobs);
const attempt = (j: queueV1.Job): queueV1.JobAttempt => ({ jobId: j.id, attempt: j.attempts, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 });

/** Running (leased, unexpired) jobs per group of a tenant, read from the database. */
async function runningPerGroup(tenantId: string): Promise<Map<string, number>> {
  const { rows } = await q.pool.query<{ g: string; n: number }>(
    `select group_key as g, count(*)::int as n from jobs
      where tenant_id = $1 and status = 'running' and locked_until > now() and group_key is not null group by group_key`,
    [tenantId],
  );
  return new Map(rows.map((r) => [r.g, r.n]));
}

/**
 * `count` workers that claim, work 5-20 ms and complete until 5 claims in a row come back empty,
 * while a sampler calls `observe` every 2 ms (and each worker right after each claim). Returns
 * which worker completed each job; a job completed twice, or not DONE, fails the test.
 */
async function runWorkers<J extends { id: string }>(
  count: number,
  claimAs: (worker: string) => Promise<J[]>,
  completeAs: (worker: string, jobs: J[]) => Promise<{ results: { outcome: queueV1.EndOutcome }[] }>,
  observe: () => Promise<void>,
): Promise<Map<string, string>> {
  let done = false;
  const sampler = (async () => {
    while (!done) {
      await observe();
      await sleep(2);
    }
  })();
  const completedBy = new Map<string, string>();
  const worker = async (name: string) => {
    let idle = 0;
    while (idle < 5) {
      const got = await claimAs(name);
      await observe();
      if (got.length === 0) {
        idle++;
        await sleep(20);
        continue;
      }
      idle = 0;
      await sleep(5 + Math.random() * 15); // the work
      const res = await completeAs(name, got);
      expect(res.results.every((x) => x.outcome === queueV1.EndOutcome.END_OUTCOME_DONE)).toBe(true);
      for (const j of got) {
        expect(completedBy.has(j.id)).toBe(false);
        completedBy.set(j.id, name);
      }
    }
  };
  await Promise.all(Array.from({ length: count }, (_, i) => worker(`w${i}`)));
  done = true;
  await sampler;
  return completedBy;
}

describe('concurrency groups', () => {
  it('never runs more than the group limit under 6 concurrent claimers, and every job runs', async () => {
    const t = tenant();
    const limits: Record<string, number> = { 'mailbox-a': 1, 'mailbox-b': 2, 'mailbox-c': 3 };
    const jobs = [
      ...Object.entries(limits).flatMap(([g, n]) => Array.from({ length: 12 }, (_, i) => newJob({ groupKey: g, groupLimit: n, payload: { g, i } }))),
      ...Array.from({ length: 12 }, (_, i) => newJob({ payload: { plain: i } })),
    ];
    const r = await call(q.client, 'enqueueJobs', { tenantId: t, jobs });
    expect(r.results.every((x) => x.outcome === EnqueueOutcome.ENQUEUE_OUTCOME_CREATED)).toBe(true);

    // A sampler reads the running count per group from the database while the workers run,
    // and every worker checks it again right after each of its claims.
    const max = new Map<string, number>();
    const observe = async () => {
      for (const [g, n] of await runningPerGroup(t)) max.set(g, Math.max(max.get(g) ?? 0, n));
    };
    const completedBy = await runWorkers(
      6,
      (name) => claim(t, name, 4),
      (name, got) => call(q.client, 'completeJobs', { tenantId: t, workerId: name, jobs: got.map(attempt) }),
      observe,
    );

    expect(completedBy.size).toBe(jobs.length);
    for (const [g, n] of Object.entries(limits)) {
      expect(max.get(g) ?? 0).toBeGreaterThanOrEqual(1);
      expect(max.get(g) ?? 0).toBeLessThanOrEqual(n);
    }
    const { rows } = await q.pool.query(`select count(*)::int as n from jobs where tenant_id = $1 and status <> 'succeeded'`, [t]);
    expect(rows[0].n).toBe(0);
  }, 60_000);

  it('frees the slot when a job completes, fails or its lease expires; an expired grouped lease cannot be extended', async () => {
    const t = tenant();
    const jobs = (await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [1, 2, 3].map((i) => newJob({ groupKey: 'g', payload: { i } })) })).results;
    expect(jobs).toHaveLength(3);
    const [first] = await claim(t, 'w1', 10);
    expect(first.groupKey).toBe('g');
    expect(first.groupLimit).toBe(1); // 0 means 1
    expect(await claim(t, 'w2', 10)).toEqual([]); // the group is full

    // fail → the slot is free (the failed job waits for its retry; the next one runs)
    await call(q.client, 'failJob', { tenantId: t, jobId: first.id, workerId: 'w1', attempt: first.attempts, error: 'smtp 451', permanent: false, retryAfterSeconds: 60 });
    const [second] = await claim(t, 'w2', 10, 1);
    expect(second.id).not.toBe(first.id);
    expect(await claim(t, 'w3', 10)).toEqual([]);

    // lease expiry → free at once, even before the sweep takes it back
    await sleep(1200);
    expect((await runningPerGroup(t)).get('g') ?? 0).toBe(0);
    const ext = await failure(call(q.client, 'extendLease', { tenantId: t, jobId: second.id, workerId: 'w2', attempt: second.attempts, leaseSeconds: 60 }));
    expect(ext.code).toBe(Status.FAILED_PRECONDITION);
    expect(ext.message).toContain('concurrency group "g"');
    const [third] = await claim(t, 'w3', 10);
    expect(third).toBeDefined();
    expect(await claim(t, 'w4', 10)).toEqual([]);

    // complete → free
    await call(q.client, 'completeJob', { tenantId: t, jobId: third.id, workerId: 'w3', attempt: third.attempts, output: undefined });
    expect(await claim(t, 'w4', 10)).toHaveLength(1);
  }, 30_000);

  it('also holds for a platform worker claiming across tenants, per (tenant, group)', async () => {
    const [a, b] = [tenant(), tenant()];
    for (const t of [a, b]) await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [1, 2, 3].map((i) => newJob({ queue: 'xt', groupKey: 'm', groupLimit: 2, payload: { i } })) });
    const got = (await call(q.client, 'claimJobs', { tenantId: '', queue: 'xt', workerId: 'p', maxJobs: 10, leaseSeconds: 30, waitMs: 0, complete: [], lean: true })).claimed;
    expect(got).toHaveLength(4); // 2 of each tenant's group "m"
    expect(got.filter((j) => j.tenantId === a)).toHaveLength(2);
    expect((await runningPerGroup(a)).get('m')).toBe(2);
    expect((await runningPerGroup(b)).get('m')).toBe(2);
  });

  it('platform workers claiming across tenants concurrently keep every (tenant, group) within its limit, and every job runs once', async () => {
    const queue = `xt-race-${Date.now()}`;
    const tenants = [tenant(), tenant(), tenant()];
    const limits: Record<string, number> = { 'mailbox-a': 1, 'mailbox-b': 2, 'mailbox-c': 3 };
    let total = 0;
    for (const [k, t] of tenants.entries()) {
      // Tenant k has k+1 times the jobs per group: unequal backlogs, as between real tenants.
      const jobs = [
        ...Object.entries(limits).flatMap(([g, n]) => Array.from({ length: 4 * (k + 1) }, (_, i) => newJob({ queue, groupKey: g, groupLimit: n, payload: { g, i } }))),
        ...Array.from({ length: 4 }, (_, i) => newJob({ queue, payload: { plain: i } })),
      ];
      total += jobs.length;
      await call(q.client, 'enqueueJobs', { tenantId: t, jobs });
    }
    const max = new Map<string, number>();
    const observe = async () => {
      const { rows } = await q.pool.query<{ k: string; n: number }>(
        `select tenant_id || ' ' || group_key as k, count(*)::int as n from jobs
          where queue = $1 and status = 'running' and locked_until > now() and group_key is not null group by tenant_id, group_key`,
        [queue],
      );
      for (const r of rows) max.set(r.k, Math.max(max.get(r.k) ?? 0, r.n));
    };
    const completedBy = await runWorkers(
      4,
      async (name) => (await call(q.client, 'claimJobs', { tenantId: '', queue, workerId: name, maxJobs: 5, leaseSeconds: 30, waitMs: 0, complete: [], lean: true })).claimed,
      (name, got) =>
        call(q.client, 'completeJobs', {
          tenantId: '',
          workerId: name,
          jobs: got.map((j) => ({ jobId: j.id, attempt: j.attempt, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 })),
        }),
      observe,
    );

    expect(completedBy.size).toBe(total);
    for (const t of tenants) {
      for (const [g, n] of Object.entries(limits)) {
        expect(max.get(`${t} ${g}`) ?? 0).toBeGreaterThanOrEqual(1);
        expect(max.get(`${t} ${g}`) ?? 0).toBeLessThanOrEqual(n);
      }
    }
    const { rows } = await q.pool.query(`select count(*)::int as n from jobs where queue = $1 and status <> 'succeeded'`, [queue]);
    expect(rows[0].n).toBe(0);
  }, 60_000);

  it('a tenant with many mailboxes does not starve the others: tenants take turns over grouped and plain jobs', async () => {
    const queue = `fair-groups-${Date.now()}`;
    const [big, plain, mixed] = [tenant(), tenant(), tenant()];
    // The big tenant's burst comes first (older run_at): 30 mailboxes with one send each.
    await call(q.client, 'enqueueJobs', { tenantId: big, jobs: Array.from({ length: 30 }, (_, i) => newJob({ queue, groupKey: `mb-${i}`, payload: { i } })) });
    await call(q.client, 'enqueueJobs', { tenantId: plain, jobs: Array.from({ length: 3 }, (_, i) => newJob({ queue, payload: { i } })) });
    await call(q.client, 'enqueueJobs', {
      tenantId: mixed,
      jobs: [
        ...Array.from({ length: 3 }, (_, i) => newJob({ queue, groupKey: `mb-${i}`, payload: { i } })),
        ...Array.from({ length: 2 }, (_, i) => newJob({ queue, payload: { plain: i } })),
      ],
    });
    const claimAll = (workerId: string, maxJobs: number) =>
      call(q.client, 'claimJobs', { tenantId: '', queue, workerId, maxJobs, leaseSeconds: 30, waitMs: 0, complete: [], lean: true }).then((r) => r.claimed);
    const per = (jobs: { tenantId: string }[], t: string) => jobs.filter((j) => j.tenantId === t).length;

    // 3 tenants have runnable work: a claim of 12 takes at most ceil(12 / 3) = 4 of each,
    // grouped and plain alike — the mixed tenant's 3 grouped jobs and 1 of its plain ones.
    const first = await claimAll('p1', 12);
    expect([per(first, big), per(first, plain), per(first, mixed)]).toEqual([4, 3, 4]);
    const { rows } = await q.pool.query<{ t: string; grouped: number; plain: number }>(
      `select tenant_id as t, count(*) filter (where group_key is not null)::int as grouped, count(*) filter (where group_key is null)::int as plain
         from jobs where queue = $1 and status = 'running' group by tenant_id`,
      [queue],
    );
    expect(new Map(rows.map((r) => [r.t, [r.grouped, r.plain]]))).toEqual(
      new Map([
        [big, [4, 0]],
        [plain, [0, 3]],
        [mixed, [3, 1]],
      ]),
    );
    // Next claim: the big tenant and the mixed tenant's last plain job, turn by turn.
    const second = await claimAll('p2', 12);
    expect([per(second, big), per(second, plain), per(second, mixed)]).toEqual([6, 0, 1]);
    // Then the rest goes to the big tenant alone, one job per mailbox (their limit is 1).
    const third = await claimAll('p3', 50);
    expect(third.map((j) => j.tenantId)).toEqual(Array(20).fill(big));
    const running = await runningPerGroup(big);
    expect(running.size).toBe(30);
    expect([...running.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('singleton, debounce and throttle keys', () => {
  it('singleton: a second enqueue returns the waiting job; once it runs a new one may be queued', async () => {
    const t = tenant();
    const a = await enqueue(t, { singletonKey: 'sync:mailbox-1', payload: { v: 1 } });
    expect(a).toMatchObject({ created: true, outcome: EnqueueOutcome.ENQUEUE_OUTCOME_CREATED });
    expect(a.job!.singletonKey).toBe('sync:mailbox-1');
    const b = await enqueue(t, { singletonKey: 'sync:mailbox-1', payload: { v: 2 } });
    expect(b).toMatchObject({ created: false, outcome: EnqueueOutcome.ENQUEUE_OUTCOME_EXISTING });
    expect(b.job!.id).toBe(a.job!.id);
    expect(b.job!.payload).toEqual({ v: 1 }); // not replaced: that is debounce
    expect(await claim(t, 'w', 1)).toHaveLength(1);
    const c = await enqueue(t, { singletonKey: 'sync:mailbox-1' });
    expect(c.created).toBe(true);
    expect(c.job!.id).not.toBe(a.job!.id);
    // another queue or tenant has its own key space
    expect((await enqueue(t, { queue: 'other', singletonKey: 'sync:mailbox-1' })).created).toBe(true);
    expect((await enqueue(tenant(), { singletonKey: 'sync:mailbox-1' })).created).toBe(true);
  });

  it('debounce: replaces the waiting job payload and run_at instead of adding one', async () => {
    const t = tenant();
    const at1 = new Date(Date.now() + 60_000);
    const at2 = new Date(Date.now() + 120_000);
    const a = await enqueue(t, { singletonKey: 'digest', debounce: true, payload: { v: 1 }, runAt: at1 });
    expect(a.outcome).toBe(EnqueueOutcome.ENQUEUE_OUTCOME_CREATED);
    const b = await enqueue(t, { singletonKey: 'digest', debounce: true, payload: { v: 2 }, runAt: at2, priority: 7 });
    expect(b).toMatchObject({ created: false, outcome: EnqueueOutcome.ENQUEUE_OUTCOME_DEBOUNCED });
    expect(b.job).toMatchObject({ id: a.job!.id, payload: { v: 2 }, priority: 7, status: JobStatus.JOB_STATUS_QUEUED });
    expect(b.job!.runAt!.getTime()).toBe(at2.getTime());

    // in one batch: the last job of a key wins, all answer that job
    const r = await call(q.client, 'enqueueJobs', {
      tenantId: t,
      jobs: [newJob({ singletonKey: 'digest', debounce: true, payload: { v: 3 } }), newJob({ singletonKey: 'digest', debounce: true, payload: { v: 4 } }), newJob({ payload: { other: 1 } })],
    });
    expect(r.results.map((x) => x.outcome)).toEqual([EnqueueOutcome.ENQUEUE_OUTCOME_DEBOUNCED, EnqueueOutcome.ENQUEUE_OUTCOME_DEBOUNCED, EnqueueOutcome.ENQUEUE_OUTCOME_CREATED]);
    expect(r.results[0].jobId).toBe(a.job!.id);
    expect(r.results[1].jobId).toBe(a.job!.id);
    const { rows } = await q.pool.query(`select payload from jobs where tenant_id = $1 and singleton_key = 'digest'`, [t]);
    expect(rows).toEqual([{ payload: { v: 4 } }]);
  });

  it('throttle: one job per key per window, whatever became of the first', async () => {
    const t = tenant();
    const a = await enqueue(t, { singletonKey: 'report', throttleSeconds: 3600 });
    expect(a.created).toBe(true);
    const [running] = await claim(t, 'w', 1);
    await call(q.client, 'completeJob', { tenantId: t, jobId: running.id, workerId: 'w', attempt: 1, output: undefined });
    const b = await enqueue(t, { singletonKey: 'report', throttleSeconds: 3600 });
    expect(b).toMatchObject({ created: false, outcome: EnqueueOutcome.ENQUEUE_OUTCOME_EXISTING });
    expect(b.job!.id).toBe(a.job!.id);
    expect(b.job!.status).toBe(JobStatus.JOB_STATUS_SUCCEEDED);
    // a throttle key and a singleton key of the same name do not collide
    expect((await enqueue(t, { singletonKey: 'report' })).created).toBe(true);
    // a 1 s window: the next window takes a new job
    const c = await enqueue(t, { singletonKey: 'tick', throttleSeconds: 1 });
    const { rows } = await q.pool.query<{ ms: number }>(`select (1000 - extract(milliseconds from now())::int % 1000) as ms`);
    await sleep(rows[0].ms + 50);
    const d = await enqueue(t, { singletonKey: 'tick', throttleSeconds: 1 });
    expect(d.created).toBe(true);
    expect(d.job!.id).not.toBe(c.job!.id);
  });

  it('races: 8 concurrent enqueues of one key make one job, each kind', async () => {
    const t = tenant();
    for (const keys of [{ singletonKey: 's' }, { singletonKey: 'd', debounce: true }, { singletonKey: 't', throttleSeconds: 3600 }]) {
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => enqueue(t, { ...keys, payload: { i } })));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.job!.id)).size).toBe(1);
      const { rows } = await q.pool.query<{ n: number }>(`select count(*)::int as n from jobs where tenant_id = $1 and singleton_key = $2`, [t, keys.singletonKey]);
      expect(rows[0].n).toBe(1);
    }
    // and the same through EnqueueJobs batches racing each other, a key repeated inside a batch too
    const batches = await Promise.all(
      Array.from({ length: 4 }, (_, b) => call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob({ singletonKey: 'bs', payload: { b } }), newJob({ singletonKey: 'bs' })] })),
    );
    const all = batches.flatMap((r) => r.results);
    expect(all.filter((x) => x.outcome === EnqueueOutcome.ENQUEUE_OUTCOME_CREATED)).toHaveLength(1);
    expect(new Set(all.map((x) => x.jobId)).size).toBe(1);
  });

  it('refuses meaningless or bad key fields naming each, and writes nothing', async () => {
    const t = tenant();
    const before = await q.snapshot();
    const single = await failure(enqueue(t, { groupLimit: 3, throttleSeconds: -1, debounce: true, idempotencyKey: 'k', singletonKey: 'x'.repeat(201) }));
    expect(single.code).toBe(Status.INVALID_ARGUMENT);
    expect(single.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual([
      'debounce:CONFLICT',
      'debounce:CONFLICT',
      'group_limit:NOT_ALLOWED',
      'singleton_key:TOO_LONG',
      'throttle_seconds:OUT_OF_RANGE',
    ].sort());
    const batch = await failure(
      call(q.client, 'enqueueJobs', {
        tenantId: t,
        jobs: [newJob({ singletonKey: 'ok' }), newJob({ groupKey: 'g', groupLimit: 1001 }), newJob({ debounce: true }), newJob({ throttleSeconds: 10 })],
      }),
    );
    expect(batch.code).toBe(Status.INVALID_ARGUMENT);
    expect(batch.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['jobs[1].group_limit:OUT_OF_RANGE', 'jobs[2].debounce:NOT_ALLOWED', 'jobs[3].throttle_seconds:NOT_ALLOWED']);
    expect(await q.snapshot()).toEqual(before);
  });
});

describe('group limits (SetGroupLimit / ListGroupLimits)', () => {
  const setLimit = (tenantId: string, groupKey: string, limit: number, queue = 'send') => call(q.client, 'setGroupLimit', { tenantId, queue, groupKey, limit }).then((r) => r.groupLimit!);
  const list = (tenantId: string, queue = '', pageSize = 0, pageToken = '') => call(q.client, 'listGroupLimits', { tenantId, queue, page: { pageSize, pageToken } });

  it("a group's setting beats its jobs' limit, the queue's default covers the other groups, and removing a setting falls back", async () => {
    const t = tenant();
    const u = tenant();
    for (const g of ['mb-1', 'mb-2']) await call(q.client, 'enqueueJobs', { tenantId: t, jobs: Array.from({ length: 6 }, () => newJob({ groupKey: g })) });
    await call(q.client, 'enqueueJobs', { tenantId: u, jobs: Array.from({ length: 3 }, () => newJob({ groupKey: 'mb-1' })) });
    // The jobs' own limit (1).
    expect(await claim(t, 'w', 20)).toHaveLength(2);
    expect(await runningPerGroup(t)).toEqual(new Map([['mb-1', 1], ['mb-2', 1]]));

    const set = await setLimit(t, 'mb-1', 3);
    expect(set).toMatchObject({ queue: 'send', groupKey: 'mb-1', limit: 3 });
    expect(set.updated).toBeInstanceOf(Date);
    expect(await claim(t, 'w', 20)).toHaveLength(2);
    expect(await runningPerGroup(t)).toEqual(new Map([['mb-1', 3], ['mb-2', 1]]));

    // The queue's default: mb-2 (no setting of its own) may run 2; mb-1 keeps its own 3.
    await setLimit(t, '', 2);
    expect(await claim(t, 'w', 20)).toHaveLength(1);
    expect(await runningPerGroup(t)).toEqual(new Map([['mb-1', 3], ['mb-2', 2]]));

    // Another tenant's group of the same name keeps its jobs' limit.
    expect(await claim(u, 'w', 20)).toHaveLength(1);

    // Removed: mb-1 falls back to the queue's default (2). Its 3 running jobs finish their attempts;
    // no new one starts until fewer than 2 run.
    const removed = await setLimit(t, 'mb-1', 0);
    expect(removed).toEqual({ queue: 'send', groupKey: 'mb-1', limit: 0, updated: undefined });
    expect(await claim(t, 'w', 20)).toEqual([]);
    const { jobs } = await call(q.client, 'listJobs', { tenantId: t, status: JobStatus.JOB_STATUS_RUNNING, queue: 'send' });
    const mb1 = jobs.filter((j) => j.groupKey === 'mb-1');
    await call(q.client, 'completeJobs', { tenantId: t, workerId: 'w', jobs: mb1.slice(0, 2).map(attempt) });
    expect((await claim(t, 'w', 20)).map((j) => j.groupKey)).toEqual(['mb-1']);
    expect(await runningPerGroup(t)).toEqual(new Map([['mb-1', 2], ['mb-2', 2]]));
  });

  it("a platform worker's claim across tenants applies each tenant's own settings", async () => {
    const [a, b] = [tenant(), tenant()];
    for (const t of [a, b]) await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [1, 2, 3, 4].map((i) => newJob({ queue: 'xt-limits', groupKey: 'm', groupLimit: 2, payload: { i } })) });
    await setLimit(a, 'm', 3, 'xt-limits');
    const got = (await call(q.client, 'claimJobs', { tenantId: '', queue: 'xt-limits', workerId: 'p', maxJobs: 10, leaseSeconds: 30, waitMs: 0, complete: [], lean: true })).claimed;
    expect(got.filter((j) => j.tenantId === a)).toHaveLength(3);
    expect(got.filter((j) => j.tenantId === b)).toHaveLength(2);
  });

  it("lists the tenant's settings by queue then group key, paged and by queue; setting a value again writes nothing", async () => {
    const t = tenant();
    const other = tenant();
    await setLimit(t, '', 2);
    await setLimit(t, 'b', 3);
    const a = await setLimit(t, 'a', 1);
    await setLimit(t, 'x', 5, 'other');
    await setLimit(other, 'z', 4);

    const first = await list(t, '', 2);
    expect(first.groupLimits.map((l) => `${l.queue}/${l.groupKey}=${l.limit}`)).toEqual(['other/x=5', 'send/=2']);
    expect(first.page!.nextPageToken).not.toBe('');
    const second = await list(t, '', 2, first.page!.nextPageToken);
    expect(second.groupLimits.map((l) => `${l.queue}/${l.groupKey}=${l.limit}`)).toEqual(['send/a=1', 'send/b=3']);
    expect(second.page!.nextPageToken).toBe('');
    const send = await list(t, 'send');
    expect(send.groupLimits.map((l) => l.groupKey)).toEqual(['', 'a', 'b']);
    expect((await list(other)).groupLimits.map((l) => l.groupKey)).toEqual(['z']);

    const before = await q.snapshot();
    expect(await setLimit(t, 'a', 1)).toEqual(a);
    expect(await q.snapshot()).toEqual(before);
    // A token of the filtered list is not one of the whole list (nor of another tenant's).
    const filtered = await list(t, 'send', 1);
    for (const [tenantId, queue] of [[t, ''], [other, 'send']]) {
      const st = await failure(list(tenantId, queue, 1, filtered.page!.nextPageToken));
      expect(st.code).toBe(Status.INVALID_ARGUMENT);
      expect(st.fieldViolations.map((f) => f.field)).toEqual(['page.page_token']);
    }
  });

  it('wakes a long-polling claimer when a raised limit makes a job claimable', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob({ groupKey: 'mb' }), newJob({ groupKey: 'mb' })] });
    expect(await claim(t, 'w', 5)).toHaveLength(1);
    const started = Date.now();
    const waiting = call(q.client, 'claimJobs', { tenantId: t, queue: 'send', workerId: 'w2', maxJobs: 5, leaseSeconds: 30, waitMs: 20_000, complete: [], lean: false });
    await sleep(300);
    await setLimit(t, 'mb', 2);
    const { jobs } = await waiting;
    expect(jobs).toHaveLength(1);
    // Woken by the NOTIFY, not by the wait's end (nor a poll of several seconds).
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('GetQueueStats counts the runnable jobs that group limits keep waiting', async () => {
    const t = tenant();
    const stats = async (tenantId: string) => (await call(q.client, 'getQueueStats', { tenantId, queue: 'gw' })).queues[0];
    const later = new Date(Date.now() + 3_600_000);
    await call(q.client, 'enqueueJobs', {
      tenantId: t,
      jobs: [
        ...[1, 2, 3, 4].map(() => newJob({ queue: 'gw', groupKey: 'a' })), // limit 1
        newJob({ queue: 'gw', groupKey: 'b', groupLimit: 3 }),
        newJob({ queue: 'gw', groupKey: 'a', runAt: later }), // not due: not counted
        newJob({ queue: 'gw' }), // ungrouped
      ],
    });
    // Nothing runs yet: a has 1 free slot for its 4 due jobs, b 3 for 1.
    expect(await stats(t)).toMatchObject({ queued: 7n, groupWaiting: 3n });
    expect(await claim(t, 'w', 10, 30, 'gw')).toHaveLength(3); // a's one, b's one, the ungrouped one
    expect(await stats(t)).toMatchObject({ queued: 4n, running: 3n, groupWaiting: 3n });
    // The group's setting as the claim reads it: 3 slots for a, 1 running → 2 of its 3 due may run.
    await setLimit(t, 'a', 3, 'gw');
    expect((await stats(t)).groupWaiting).toBe(1n);
    // The queue's default does not apply to a group with its own setting.
    await setLimit(t, '', 1, 'gw');
    expect((await stats(t)).groupWaiting).toBe(1n);
    // Every tenant summed (service scope; only this test uses queue gw): another tenant's group a
    // at its jobs' limit adds its 2 waiting jobs, and this tenant's settings are not its.
    const u = tenant();
    await call(q.client, 'enqueueJobs', { tenantId: u, jobs: [1, 2, 3].map(() => newJob({ queue: 'gw', groupKey: 'a' })) });
    expect((await call(q.client, 'getQueueStats', { tenantId: '', queue: 'gw' })).queues[0]).toMatchObject({ groupWaiting: 3n });
  });

  it('refuses bad input naming each field, and writes nothing', async () => {
    const t = tenant();
    await setLimit(t, 'mb', 2);
    const before = await q.snapshot();
    const set = await failure(call(q.client, 'setGroupLimit', { tenantId: 'acme', queue: 'a b', groupKey: 'g'.repeat(201), limit: -1 }));
    expect(set.code).toBe(Status.INVALID_ARGUMENT);
    expect(set.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['group_key:TOO_LONG', 'limit:OUT_OF_RANGE', 'queue:MALFORMED', 'tenant_id:NOT_A_UUID']);
    const over = await failure(call(q.client, 'setGroupLimit', { tenantId: t, queue: '', groupKey: 'mb', limit: 1001 }));
    expect(over.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['limit:OUT_OF_RANGE', 'queue:REQUIRED']);
    const listed = await failure(call(q.client, 'listGroupLimits', { tenantId: 'acme', queue: 'a/b', page: { pageSize: 501, pageToken: '' } }));
    expect(listed.code).toBe(Status.INVALID_ARGUMENT);
    expect(listed.fieldViolations.map((v) => v.field).sort()).toEqual(['page.page_size', 'queue', 'tenant_id']);
    // The platform's setting (no tenant) is a queue's default: a group key is refused, named.
    const platform = await failure(call(q.client, 'setGroupLimit', { tenantId: '', queue: 'send', groupKey: 'mb', limit: 2 }));
    expect(platform.code).toBe(Status.INVALID_ARGUMENT);
    expect(platform.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['group_key:NOT_ALLOWED']);
    expect(platform.fieldViolations[0].description).toMatch(/set it with that tenant_id/);
    const platformOver = await failure(call(q.client, 'setGroupLimit', { tenantId: '', queue: '', groupKey: '', limit: 1001 }));
    expect(platformOver.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['limit:OUT_OF_RANGE', 'queue:REQUIRED']);
    expect(await q.snapshot()).toEqual(before);
  });

  describe("the platform's default for a queue (empty tenant_id, service scope)", () => {
    const setPlatform = (queue: string, limit: number) => setLimit('', '', limit, queue);

    it("applies to every tenant's groups without a setting of their own, below a tenant's settings and above the jobs' limit", async () => {
      const queue = 'pl-send';
      const [t, u, w] = [tenant(), tenant(), tenant()];
      for (const x of [t, u, w]) {
        await call(q.client, 'enqueueJobs', { tenantId: x, jobs: ['a', 'b'].flatMap((g) => Array.from({ length: 6 }, () => newJob({ queue, groupKey: g, groupLimit: 4 }))) });
      }
      const set = await setPlatform(queue, 2);
      expect(set).toMatchObject({ queue, groupKey: '', limit: 2 });
      expect(set.updated).toBeInstanceOf(Date);
      // t: group a has its own setting (3); u: a queue default of its own (1); w: only the platform's (2).
      await setLimit(t, 'a', 3, queue);
      await setLimit(u, '', 1, queue);
      for (const x of [t, u, w]) await claim(x, 'w', 50, 30, queue);
      expect(await runningPerGroup(t)).toEqual(new Map([['a', 3], ['b', 2]]));
      expect(await runningPerGroup(u)).toEqual(new Map([['a', 1], ['b', 1]]));
      expect(await runningPerGroup(w)).toEqual(new Map([['a', 2], ['b', 2]]));
      // A platform worker's claim across tenants reads the same limits: nothing more may run.
      expect((await call(q.client, 'claimJobs', { tenantId: '', queue, workerId: 'p', maxJobs: 50, leaseSeconds: 30, waitMs: 0, complete: [], lean: true })).claimed).toEqual([]);
      // GetQueueStats' group_waiting reads them too: w's groups keep 4 of 6 each waiting.
      expect((await call(q.client, 'getQueueStats', { tenantId: w, queue })).queues[0]).toMatchObject({ running: 4n, groupWaiting: 8n });

      // Removed: the groups without a tenant setting fall back to their jobs' limit (4).
      expect(await setPlatform(queue, 0)).toEqual({ queue, groupKey: '', limit: 0, updated: undefined });
      await claim(w, 'w', 50, 30, queue);
      expect(await runningPerGroup(w)).toEqual(new Map([['a', 4], ['b', 4]]));
      await claim(t, 'w', 50, 30, queue);
      expect(await runningPerGroup(t)).toEqual(new Map([['a', 3], ['b', 4]]));
    });

    it('is listed with an empty tenant_id by queue, paged, and not in any tenant\'s list; setting it again writes nothing', async () => {
      const queues = ['pl-list-a', 'pl-list-b', 'pl-list-c'];
      for (const [i, queue] of queues.entries()) await setPlatform(queue, i + 1);
      const t = tenant();
      await setLimit(t, '', 9, 'pl-list-a');
      const mine = async () => {
        const rows: string[] = [];
        let token = '';
        do {
          const page = await list('', '', 1, token);
          rows.push(...page.groupLimits.filter((l) => l.queue.startsWith('pl-list-')).map((l) => `${l.queue}/${l.groupKey}=${l.limit}`));
          token = page.page!.nextPageToken;
        } while (token);
        return rows;
      };
      expect(await mine()).toEqual(['pl-list-a/=1', 'pl-list-b/=2', 'pl-list-c/=3']);
      expect((await list('', 'pl-list-b')).groupLimits.map((l) => `${l.queue}=${l.limit}`)).toEqual(['pl-list-b=2']);
      expect((await list(t)).groupLimits.map((l) => `${l.queue}=${l.limit}`)).toEqual(['pl-list-a=9']);
      // A platform page token is not a tenant's, nor the other way round.
      const platformPage = await list('', '', 1);
      const tenantPage = await list(t, '', 1);
      expect((await failure(list(t, '', 1, platformPage.page!.nextPageToken))).fieldViolations.map((f) => f.field)).toEqual(['page.page_token']);
      await setLimit(t, '', 8, 'pl-list-b');
      const second = await list(t, '', 1);
      expect((await failure(list('', '', 1, second.page!.nextPageToken))).fieldViolations.map((f) => f.field)).toEqual(['page.page_token']);
      expect(tenantPage.groupLimits).toHaveLength(1);

      const before = await q.snapshot();
      const again = await setPlatform('pl-list-b', 2);
      expect(again.limit).toBe(2);
      expect(await q.snapshot()).toEqual(before);
    });

    it("wakes every tenant's long-polling claimers of the queue", async () => {
      const queue = 'pl-wake';
      const [t, u] = [tenant(), tenant()];
      for (const x of [t, u]) {
        await call(q.client, 'enqueueJobs', { tenantId: x, jobs: [newJob({ queue, groupKey: 'mb' }), newJob({ queue, groupKey: 'mb' })] });
        expect(await claim(x, 'w', 5, 30, queue)).toHaveLength(1);
      }
      // The waiters also re-claim every claimWaitPollMs (1 s here): the limit is raised just after
      // their first poll, so a waiter answered before the second one (~2 s) was woken by the NOTIFY.
      const started = Date.now();
      const waiting = [t, u].map((x) =>
        call(q.client, 'claimJobs', { tenantId: x, queue, workerId: 'w2', maxJobs: 5, leaseSeconds: 30, waitMs: 20_000, complete: [], lean: false }).then((r) => ({ r, ms: Date.now() - started })),
      );
      await sleep(1_150);
      await setPlatform(queue, 2);
      for (const w of waiting) {
        const { r, ms } = await w;
        expect(r.jobs).toHaveLength(1);
        expect(ms).toBeLessThan(1_900);
      }
    });
  });
});
