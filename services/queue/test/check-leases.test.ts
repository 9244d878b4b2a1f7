import { status as Status } from '@grpc/grpc-js';
import { queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { randomUUID } from 'node:crypto';
import { LEASE_ENDED_CHANNEL, notifyLeasesEnded } from '../src/db/listen-runnable-jobs';
import { failure, NO_KEYS, type Queue, sleep, startQueue, startReplica, tenant } from './harness';

// CheckLeases: which of a worker's running attempts it no longer holds, answered at once or, with
// wait_ms, as soon as one is cancelled (CancelJob include_running), on any replica.

const { LeaseLoss } = queueV1;

let q: Queue;
beforeAll(async () => {
  // The fallback poll is a minute off: a long poll that answers within seconds was woken by the
  // cancel's NOTIFY.
  q = await startQueue({ claimWaitPollMs: 60_000 });
});
afterAll(async () => {
  await q?.stop();
});

const enqueue = (tenantId: string, j: Partial<queueV1.NewJob> = {}) =>
  call(q.client, 'enqueueJobs', {
    tenantId,
    jobs: [{ ...NO_KEYS, queue: 'long', task: 'import', payload: {}, priority: 0, runAt: undefined, maxAttempts: 0, idempotencyKey: '', payloadJson: Buffer.alloc(0), ...j }],
  }).then((r) => r.results[0].jobId);
const claim = async (tenantId: string, workerId: string, maxJobs = 10, leaseSeconds = 300, client = q.client) =>
  (await call(client, 'claimJobs', { tenantId, queue: 'long', workerId, maxJobs, leaseSeconds, waitMs: 0, complete: [], lean: false })).jobs;
const attempt = (jobId: string, n: number): queueV1.JobAttempt => ({ jobId, attempt: n, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 });
const check = (tenantId: string, workerId: string, jobs: queueV1.JobAttempt[], waitMs = 0, client = q.client) =>
  call(client, 'checkLeases', { tenantId, workerId, jobs, waitMs }, { deadlineMs: 30_000 }).then((r) => r.lost);
const cancel = (tenantId: string, jobId: string, client = q.client) => call(client, 'cancelJob', { tenantId, jobId, includeRunning: true });

it('answers at once which attempts the worker no longer holds, in request order, and writes nothing', async () => {
  const t = tenant();
  const [a, b, c] = [await enqueue(t), await enqueue(t), await enqueue(t)];
  expect(await claim(t, 'w1')).toHaveLength(3);
  const before = await q.snapshot();
  expect(await check(t, 'w1', [attempt(a, 1), attempt(b, 1), attempt(c, 1)])).toEqual([]);
  expect(await q.snapshot()).toEqual(before);

  await cancel(t, b);
  const unknown = tenant();
  const lost = await check(t, 'w1', [attempt(unknown, 1), attempt(c, 2), attempt(b, 1), attempt(a, 1)]);
  expect(lost.map((l) => [l.jobId, l.attempt, l.reason])).toEqual([
    [unknown, 1, LeaseLoss.LEASE_LOSS_LOST],
    [c, 2, LeaseLoss.LEASE_LOSS_LOST],
    [b, 1, LeaseLoss.LEASE_LOSS_CANCELLED],
  ]);
  expect(lost[0].detail).toMatch(/not found/);
  expect(lost[1].detail).toMatch(/held by worker "w1" for attempt 1, not by "w1" for attempt 2/);
  expect(lost[2].detail).toMatch(/cancelled while attempt 1 ran \(CancelJob with include_running\) — stop the work/);
  // Another worker id holds none of them.
  expect((await check(t, 'w2', [attempt(a, 1)])).map((l) => l.reason)).toEqual([LeaseLoss.LEASE_LOSS_LOST]);
  // Another tenant's view: the jobs are not found (nothing of theirs is told).
  const other = await check(tenant(), 'w1', [attempt(a, 1)]);
  expect(other.map((l) => [l.reason, l.detail])).toEqual([[LeaseLoss.LEASE_LOSS_LOST, `job ${a} not found`]]);
});

it('a lease that ran out: lost once the job is taken back; a grouped one at once (its slot is free)', async () => {
  const t = tenant();
  const plain = await enqueue(t);
  const grouped = await enqueue(t, { groupKey: 'mb' });
  expect(await claim(t, 'w1', 10, 1)).toHaveLength(2);
  await sleep(1_200);
  // Ran out, not yet taken back: the plain attempt still completes, so it is held.
  const lost = await check(t, 'w1', [attempt(plain, 1), attempt(grouped, 1)]);
  expect(lost.map((l) => [l.jobId, l.reason])).toEqual([[grouped, LeaseLoss.LEASE_LOSS_LOST]]);
  expect(lost[0].detail).toMatch(/lease ran out .* concurrency group "mb"/);
  // Another worker's claim sweeps the expired leases and takes the plain job again (the grouped
  // one waits for its retry's backoff).
  expect((await claim(t, 'w2')).map((j) => j.id)).toContain(plain);
  expect((await check(t, 'w1', [attempt(plain, 1)])).map((l) => [l.reason, l.detail])).toEqual([
    [LeaseLoss.LEASE_LOSS_LOST, expect.stringMatching(/held by worker "w2" for attempt 2/)],
  ]);
  expect(await check(t, 'w2', [attempt(plain, 2)])).toEqual([]);
});

it('with wait_ms, answers as soon as one of the attempts is cancelled, also when another replica took the cancel', async () => {
  const t = tenant();
  const [a, b] = [await enqueue(t), await enqueue(t)];
  expect(await claim(t, 'w1')).toHaveLength(2);
  const replica = await startReplica(q, { claimWaitPollMs: 60_000 });
  try {
    // Round 1 waits on both attempts and a is cancelled through this replica; round 2 waits on
    // b alone (a is lost already) and b is cancelled through the other replica.
    for (const [served, cancelledBy, job, waitOn] of [
      ['this replica', q.client, a, [a, b]],
      ['the other replica', replica.client, b, [b]],
    ] as const) {
      const started = Date.now();
      const waiting = check(t, 'w1', waitOn.map((id) => attempt(id, 1)), 20_000).then((lost) => ({ lost, ms: Date.now() - started }));
      await sleep(500);
      await cancel(t, job, cancelledBy);
      const { lost, ms } = await waiting;
      expect([served, lost.map((l) => [l.jobId, l.reason])]).toEqual([served, [[job, LeaseLoss.LEASE_LOSS_CANCELLED]]]);
      expect(ms).toBeLessThan(5_000);
      // Once lost, it is answered at once.
      expect((await check(t, 'w1', [attempt(job, 1)], 20_000)).map((l) => l.jobId)).toEqual([job]);
      // Drop the cancelled attempt from what the next round waits on.
      if (job === a) {
        const started2 = Date.now();
        expect(await check(t, 'w1', [attempt(b, 1)], 300)).toEqual([]);
        expect(Date.now() - started2).toBeGreaterThanOrEqual(250);
      }
    }
    // A cancel of another job, and of a waiting one, wakes nothing: the wait runs to its end.
    const c = await enqueue(t);
    expect(await claim(t, 'w1')).toHaveLength(1);
    const d = await enqueue(t);
    const started = Date.now();
    const waiting = check(t, 'w1', [attempt(c, 1)], 1_500);
    await sleep(300);
    await call(q.client, 'cancelJob', { tenantId: t, jobId: d, includeRunning: false });
    expect(await waiting).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
  } finally {
    await replica.stop();
  }
});

it("with wait_ms, answers as soon as another worker's claim takes back the expired lease (a hung handler's worker hears it)", async () => {
  const t = tenant();
  const job = await enqueue(t, { queue: 'long-expiry' });
  const claimIn = async (workerId: string, leaseSeconds: number) =>
    (await call(q.client, 'claimJobs', { tenantId: t, queue: 'long-expiry', workerId, maxJobs: 1, leaseSeconds, waitMs: 0, complete: [], lean: false })).jobs;
  expect(await claimIn('w1', 1)).toHaveLength(1);
  const started = Date.now();
  // Ran out after 1 s but not taken back: still held, so the call waits.
  const waiting = check(t, 'w1', [attempt(job, 1)], 20_000).then((lost) => ({ lost, ms: Date.now() - started }));
  await sleep(1_500);
  const takenAt = Date.now();
  expect((await claimIn('w2', 300)).map((j) => j.attempts)).toEqual([2]);
  const { lost, ms } = await waiting;
  expect(lost.map((l) => [l.jobId, l.reason])).toEqual([[job, LeaseLoss.LEASE_LOSS_LOST]]);
  expect(lost[0].detail).toMatch(/held by worker "w2" for attempt 2/);
  // Answered by the claim's NOTIFY, not by the 20 s wait's end (the fallback poll is a minute off).
  expect(ms - (takenAt - started)).toBeLessThan(3_000);
});

it('a sweep of many leases is announced in notifications of at most 200 ids (NOTIFY payloads stop at 8000 bytes)', async () => {
  const listener = await q.pool.connect();
  const heard: string[] = [];
  listener.on('notification', (m) => m.channel === LEASE_ENDED_CHANNEL && heard.push(m.payload ?? ''));
  try {
    await listener.query(`listen ${LEASE_ENDED_CHANNEL}`);
    const ids = Array.from({ length: 450 }, () => randomUUID());
    const client = await q.pool.connect();
    try {
      await client.query('begin');
      await notifyLeasesEnded(client, ids);
      await client.query('commit');
    } finally {
      client.release();
    }
    for (let i = 0; i < 100 && heard.length < 3; i++) await sleep(20);
    expect(heard.map((p) => p.split(',').length)).toEqual([200, 200, 50]);
    expect(heard.join(',').split(',')).toEqual(ids);
  } finally {
    await listener.query(`unlisten ${LEASE_ENDED_CHANNEL}`);
    listener.release();
  }
});

it("a platform worker checks its attempts across tenants with an empty tenant_id", async () => {
  const [t, u] = [tenant(), tenant()];
  // A queue of its own: the claim across tenants would take the other tests' jobs of 'long' too.
  await enqueue(t, { queue: 'long-platform' });
  await enqueue(u, { queue: 'long-platform' });
  const claimed = (await call(q.client, 'claimJobs', { tenantId: '', queue: 'long-platform', workerId: 'platform-w', maxJobs: 10, leaseSeconds: 300, waitMs: 0, complete: [], lean: true })).claimed;
  expect(new Set(claimed.map((j) => j.tenantId))).toEqual(new Set([t, u]));
  const mine = claimed.map((j) => attempt(j.id, j.attempt));
  expect(await check('', 'platform-w', mine)).toEqual([]);
  const ofU = claimed.find((j) => j.tenantId === u)!;
  const waiting = check('', 'platform-w', mine, 20_000);
  await sleep(300);
  await cancel(u, ofU.id);
  expect((await waiting).map((l) => [l.jobId, l.reason])).toEqual([[ofU.id, LeaseLoss.LEASE_LOSS_CANCELLED]]);
});

it('refuses bad input naming each field, and writes nothing', async () => {
  const t = tenant();
  const a = await enqueue(t);
  await claim(t, 'w1');
  const before = await q.snapshot();
  const bad = await failure(
    call(q.client, 'checkLeases', {
      tenantId: 'acme',
      workerId: '',
      jobs: [attempt('nope', 0), attempt(a, 1), attempt(a, 1), { ...attempt(a, 1), output: { x: 1 }, error: 'e', permanent: true, retryAfterSeconds: 5 }],
      waitMs: 30_001,
    }),
  );
  expect(bad.code).toBe(Status.INVALID_ARGUMENT);
  expect(bad.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual([
    'jobs[0].attempt:OUT_OF_RANGE',
    'jobs[0].job_id:NOT_A_UUID',
    'jobs[2].job_id:DUPLICATE',
    'jobs[3].error:NOT_ALLOWED',
    'jobs[3].job_id:DUPLICATE',
    'jobs[3].output:NOT_ALLOWED',
    'jobs[3].permanent:NOT_ALLOWED',
    'jobs[3].retry_after_seconds:NOT_ALLOWED',
    'tenant_id:NOT_A_UUID',
    'wait_ms:OUT_OF_RANGE',
    'worker_id:REQUIRED',
  ]);
  const none = await failure(call(q.client, 'checkLeases', { tenantId: t, workerId: 'w1', jobs: [], waitMs: -1 }));
  expect(none.fieldViolations.map((v) => `${v.field}:${v.reason}`).sort()).toEqual(['jobs:REQUIRED', 'wait_ms:OUT_OF_RANGE']);
  expect(await q.snapshot()).toEqual(before);
});
