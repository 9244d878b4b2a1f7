import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { jetstream } from '@nats-io/jetstream';
import { campaignHoldKey, commonV1, metadataV1, queueV1 } from '@penguinmails/contracts';
import { Metrics, buildEnvelope, call, createLogger, ensureConsumer, type EventConsumer } from '@penguinmails/service-kit';
import { CAMPAIGN_HOLDS_CONSUMER, createCampaignHoldsConsumer, declareCampaignHoldsConsumer } from '../src/consumers/campaign-holds';
import { setHold } from '../src/domain/holds';
import { Scheduler } from '../src/domain/schedules';
import { NO_KEYS, failure, sleep, startQueue, tenant, type Queue } from './harness';

// Holds: jobs with a hold_key wait as HELD while their key is held (HoldJobs / ReleaseJobs, and
// the tier's own hold of campaign:<id> while the metadata tier says the campaign is not ACTIVE).
// Real PostgreSQL, real gRPC, real JetStream (this file's own stream names).

const { JobStatus } = queueV1;
const logger = createLogger({ service: 'queue-holds-test', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let q: Queue;
beforeAll(async () => {
  // The fallback poll of a long-polling claim is far off: a claim that returns early was woken by NOTIFY.
  q = await startQueue({ claimWaitPollMs: 60_000 });
}, 60_000);
afterAll(async () => {
  await q?.stop();
});

const QUEUE = 'send';
const newJob = (o: Partial<queueV1.NewJob> = {}): queueV1.NewJob => ({
  queue: QUEUE,
  task: 'send_email',
  payload: { n: 1 },
  priority: 0,
  runAt: undefined,
  maxAttempts: 0,
  idempotencyKey: '',
  payloadJson: Buffer.alloc(0),
  ...NO_KEYS,
  ...o,
});
const enqueue = async (t: string, jobs: queueV1.NewJob[]) => (await call(q.client, 'enqueueJobs', { tenantId: t, jobs })).results.map((r) => r.jobId);
const claim = (t: string, o: { maxJobs?: number; waitMs?: number; workerId?: string } = {}) =>
  call(q.client, 'claimJobs', { tenantId: t, queue: QUEUE, workerId: o.workerId ?? 'w1', maxJobs: o.maxJobs ?? 100, leaseSeconds: 0, waitMs: o.waitMs ?? 0, complete: [], lean: false }).then((r) =>
    r.jobs,
  );
const hold = async (t: string, key: string) => Number((await call(q.client, 'holdJobs', { tenantId: t, holdKey: key, cancelWaiting: false })).heldJobs);
const holdAndCancel = async (t: string, key: string) => {
  const r = await call(q.client, 'holdJobs', { tenantId: t, holdKey: key, cancelWaiting: true });
  return { held: Number(r.heldJobs), cancelled: Number(r.cancelledJobs) };
};
const release = async (t: string, key: string) => Number((await call(q.client, 'releaseJobs', { tenantId: t, holdKey: key })).releasedJobs);
const statusOf = async (t: string, id: string) => (await call(q.client, 'getJob', { tenantId: t, jobId: id })).job!.status;
async function statuses(t: string, key: string): Promise<Record<string, number>> {
  const { rows } = await q.pool.query<{ status: string; n: number }>('select status, count(*)::int as n from jobs where tenant_id = $1 and hold_key = $2 group by status', [t, key]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe('HoldJobs / ReleaseJobs', () => {
  test('a held key: its waiting jobs and every new one wait as HELD, no claim takes them, the rest run; a release queues them and wakes a waiting claim', async () => {
    const t = tenant();
    const held = await enqueue(t, [newJob({ holdKey: 'campaign:1' }), newJob({ holdKey: 'campaign:1' })]);
    const single = (await call(q.client, 'enqueueJob', { tenantId: t, queue: QUEUE, task: 'send_email', payload: {}, priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, holdKey: 'campaign:1' })).job!;
    expect(single.holdKey).toBe('campaign:1');
    const free = await enqueue(t, [newJob(), newJob(), newJob({ holdKey: 'campaign:2' })]);

    expect(await hold(t, 'campaign:1')).toBe(3);
    expect(await statusOf(t, single.id)).toBe(JobStatus.JOB_STATUS_HELD);
    // enqueued while held: HELD from the start, by EnqueueJobs and by EnqueueJob
    const later = await enqueue(t, [newJob({ holdKey: 'campaign:1' }), newJob()]);
    const laterSingle = (await call(q.client, 'enqueueJob', { tenantId: t, queue: QUEUE, task: 'send_email', payload: {}, priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, holdKey: 'campaign:1' })).job!;
    expect(laterSingle.status).toBe(JobStatus.JOB_STATUS_HELD);
    expect(await statusOf(t, later[0])).toBe(JobStatus.JOB_STATUS_HELD);
    // holding again changes nothing
    expect(await hold(t, 'campaign:1')).toBe(0);

    const claimed = await claim(t);
    expect(claimed.map((j) => j.id).sort()).toEqual([...free, later[1]].sort());
    const [stats] = (await call(q.client, 'getQueueStats', { tenantId: t, queue: QUEUE })).queues;
    expect({ held: Number(stats.held), queued: Number(stats.queued), running: Number(stats.running) }).toEqual({ held: 5, queued: 0, running: 4 });
    const listed = await call(q.client, 'listJobs', { tenantId: t, status: JobStatus.JOB_STATUS_HELD, queue: '', page: { pageSize: 50, pageToken: '' } });
    expect(listed.jobs.map((j) => j.id).sort()).toEqual([...held, single.id, later[0], laterSingle.id].sort());

    // A long-polling claim is woken by the release (its NOTIFY), not by its fallback poll (60 s here).
    const waiting = claim(t, { waitMs: 10_000, workerId: 'w2' });
    await sleep(300);
    const t0 = Date.now();
    expect(await release(t, 'campaign:1')).toBe(5);
    const woken = await waiting;
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(woken.map((j) => j.id).sort()).toEqual([...held, single.id, later[0], laterSingle.id].sort());
    expect(await release(t, 'campaign:1')).toBe(0);
    // released: a new job of the key is claimable at once
    const [after] = await enqueue(t, [newJob({ holdKey: 'campaign:1' })]);
    expect((await claim(t)).map((j) => j.id)).toEqual([after]);
  });

  test('while held, a failed attempt, an expired lease and a RetryJob wait as HELD too; a repeated FailJob is still answered; jobs running at the hold finish', async () => {
    const t = tenant();
    const key = 'campaign:retries';
    const ids = await enqueue(t, [0, 1, 2, 3, 4].map(() => newJob({ holdKey: key, maxAttempts: 3 })));
    const running = await claim(t);
    expect(running).toHaveLength(5);
    const byId = new Map(running.map((j) => [j.id, j]));
    const [a, b, c, d, e] = ids.map((id) => byId.get(id)!);
    expect(await hold(t, key)).toBe(0); // all five run: nothing waiting to move

    const failA = { tenantId: t, jobId: a.id, workerId: 'w1', attempt: a.attempts, error: 'smtp 421', permanent: false, retryAfterSeconds: 0 };
    expect((await call(q.client, 'failJob', failA)).job!.status).toBe(JobStatus.JOB_STATUS_HELD);
    // the worker retries after a lost reply: the same attempt's FailJob is answered, not refused
    expect((await call(q.client, 'failJob', failA)).job!.status).toBe(JobStatus.JOB_STATUS_HELD);
    const batch = await call(q.client, 'failJobs', { tenantId: t, workerId: 'w1', jobs: [{ jobId: b.id, attempt: b.attempts, error: 'smtp 421', permanent: false, retryAfterSeconds: 0 }] });
    expect(batch.results[0].status).toBe(JobStatus.JOB_STATUS_HELD);
    // c's worker died: its lease runs out, and the claim that takes it back leaves it HELD
    await q.pool.query(`update jobs set locked_until = now() - interval '1 second' where id = $1`, [c.id]);
    expect(await claim(t)).toEqual([]);
    expect(await statusOf(t, c.id)).toBe(JobStatus.JOB_STATUS_HELD);
    // d dies for good; an operator's RetryJob while the key is held: HELD
    await call(q.client, 'failJob', { tenantId: t, jobId: d.id, workerId: 'w1', attempt: d.attempts, error: 'bounced', permanent: true, retryAfterSeconds: 0 });
    expect((await call(q.client, 'retryJob', { tenantId: t, jobId: d.id, extraAttempts: 1 })).job!.status).toBe(JobStatus.JOB_STATUS_HELD);
    // e was running when the hold came: it completes as usual
    expect((await call(q.client, 'completeJob', { tenantId: t, jobId: e.id, workerId: 'w1', attempt: e.attempts })).job!.status).toBe(JobStatus.JOB_STATUS_SUCCEEDED);

    expect(await statuses(t, key)).toEqual({ held: 4, succeeded: 1 });
    expect(await release(t, key)).toBe(4);
    expect(await statuses(t, key)).toEqual({ queued: 4, succeeded: 1 });
    // each runs at its run_at: a and b wait out their retry backoff, moved to now here
    await q.pool.query(`update jobs set run_at = now() where tenant_id = $1 and run_at > now()`, [t]);
    const again = await claim(t);
    expect(again.map((j) => j.id).sort()).toEqual([a.id, b.id, c.id, d.id].sort());
    // attempts and the last error survive the hold
    expect(again.find((j) => j.id === a.id)!.attempts).toBe(2);
    expect(again.find((j) => j.id === a.id)!.lastError).toBe('smtp 421');
  });

  test('holds are per tenant; CancelJob ends a held job; a held singleton still answers its key', async () => {
    const a = tenant();
    const b = tenant();
    const [mine] = await enqueue(a, [newJob({ holdKey: 'campaign:x' })]);
    expect(await hold(b, 'campaign:x')).toBe(0);
    expect(await statusOf(a, mine)).toBe(JobStatus.JOB_STATUS_QUEUED);
    expect(await hold(a, 'campaign:x')).toBe(1);
    // another tenant's release of the same key does not release mine
    expect(await release(b, 'campaign:x')).toBe(0);
    expect(await statusOf(a, mine)).toBe(JobStatus.JOB_STATUS_HELD);
    expect(await claim(a)).toEqual([]);

    expect((await call(q.client, 'cancelJob', { tenantId: a, jobId: mine, includeRunning: false })).job!.status).toBe(JobStatus.JOB_STATUS_CANCELLED);

    const [s1] = await enqueue(a, [newJob({ holdKey: 'campaign:x', singletonKey: 'lead-7' })]);
    expect(await statusOf(a, s1)).toBe(JobStatus.JOB_STATUS_HELD);
    const res = await call(q.client, 'enqueueJobs', { tenantId: a, jobs: [newJob({ holdKey: 'campaign:x', singletonKey: 'lead-7' })] });
    expect(res.results[0]).toEqual({ jobId: s1, outcome: queueV1.EnqueueOutcome.ENQUEUE_OUTCOME_EXISTING });
    const deb = await call(q.client, 'enqueueJobs', { tenantId: a, jobs: [newJob({ holdKey: 'campaign:x', singletonKey: 'lead-7', debounce: true, payload: { n: 2 } })] });
    expect(deb.results[0]).toEqual({ jobId: s1, outcome: queueV1.EnqueueOutcome.ENQUEUE_OUTCOME_DEBOUNCED });
    const job = (await call(q.client, 'getJob', { tenantId: a, jobId: s1 })).job!;
    expect({ status: job.status, payload: job.payload }).toEqual({ status: JobStatus.JOB_STATUS_HELD, payload: { n: 2 } });
  });

  test('bad input: INVALID_ARGUMENT naming each wrong field, and nothing written (jobs, holds, logs, outbox)', async () => {
    const t = tenant();
    await enqueue(t, [newJob({ holdKey: 'campaign:bad' })]);
    const before = await q.snapshot();
    const empty = await failure(call(q.client, 'holdJobs', { tenantId: t, holdKey: '', cancelWaiting: false }));
    expect(empty.code).toBe(Status.INVALID_ARGUMENT);
    expect(empty.fieldViolations.map((v) => `${v.field}:${v.reason}`)).toEqual(['hold_key:REQUIRED']);
    const long = await failure(call(q.client, 'releaseJobs', { tenantId: 'not-a-uuid', holdKey: 'k'.repeat(201) }));
    expect(long.code).toBe(Status.INVALID_ARGUMENT);
    expect(long.fieldViolations.map((v) => v.field).sort()).toEqual(['hold_key', 'tenant_id']);
    const enq = await failure(call(q.client, 'enqueueJob', { tenantId: t, queue: QUEUE, task: 'send_email', payload: {}, priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, holdKey: 'k'.repeat(201) }));
    expect(enq.fieldViolations.map((v) => v.field)).toEqual(['hold_key']);
    const batch = await failure(call(q.client, 'enqueueJobs', { tenantId: t, jobs: [newJob({ holdKey: 'campaign:bad' }), newJob({ holdKey: 'k'.repeat(201) })] }));
    expect(batch.fieldViolations.map((v) => v.field)).toEqual(['jobs[1].hold_key']);
    // a cancelling hold of a bad key or tenant cancels nothing
    const cancelling = await failure(call(q.client, 'holdJobs', { tenantId: 'nope', holdKey: 'campaign:bad', cancelWaiting: true }));
    expect(cancelling.fieldViolations.map((v) => v.field)).toEqual(['tenant_id']);
    const cancellingLong = await failure(call(q.client, 'holdJobs', { tenantId: t, holdKey: 'k'.repeat(201), cancelWaiting: true }));
    expect(cancellingLong.fieldViolations.map((v) => v.field)).toEqual(['hold_key']);
    expect(await q.snapshot()).toEqual(before);
  });

  test('an EnqueueJob refused ALREADY_EXISTS (its idempotency key names other work) writes nothing, not even the job_holds row of a new hold key', async () => {
    const t = tenant();
    const base = { tenantId: t, queue: QUEUE, task: 'send_email', priority: 0, maxAttempts: 0, ...NO_KEYS };
    await call(q.client, 'enqueueJob', { ...base, payload: { n: 1 }, idempotencyKey: 'k-conflict' });
    const before = await q.snapshot();
    // Found by the fuzz campaign (seed 28112611): the statement made the key's row, then the call was refused.
    const refused = await failure(call(q.client, 'enqueueJob', { ...base, payload: { n: 2 }, idempotencyKey: 'k-conflict', holdKey: 'campaign:never-seen', singletonKey: 's', throttleSeconds: 60 }));
    expect(refused.code).toBe(Status.ALREADY_EXISTS);
    expect(await q.snapshot()).toEqual(before);
    // The same call with the same work answers the job, and a new key still makes its row.
    const same = await call(q.client, 'enqueueJob', { ...base, payload: { n: 1 }, idempotencyKey: 'k-conflict', holdKey: 'campaign:never-seen' });
    expect(same.created).toBe(false);
    const created = await call(q.client, 'enqueueJob', { ...base, payload: { n: 3 }, idempotencyKey: 'k-new', holdKey: 'campaign:never-seen' });
    expect(created.created).toBe(true);
    const { rows } = await q.pool.query('select held from job_holds where tenant_id = $1 and hold_key = $2', [t, 'campaign:never-seen']);
    expect(rows).toEqual([{ held: false }]);
  });

  test('cancel_waiting: the key\'s queued, failed and held jobs are CANCELLED (finished), running ones finish and a failed retry waits HELD; later enqueues wait HELD and another call cancels them; other keys and tenants untouched', async () => {
    const t = tenant();
    const other = tenant();
    const key = 'campaign:ended';
    const [run1, run2] = await enqueue(t, [newJob({ holdKey: key, maxAttempts: 3 }), newJob({ holdKey: key, maxAttempts: 3 })]);
    const running = await claim(t);
    expect(running.map((j) => j.id).sort()).toEqual([run1, run2].sort());
    // `failing` fails once and waits for its retry (FAILED)
    const [failing] = await enqueue(t, [newJob({ holdKey: key, maxAttempts: 3 })]);
    const [f] = await claim(t);
    expect(f.id).toBe(failing);
    const [queued] = await enqueue(t, [newJob({ holdKey: key })]);
    await call(q.client, 'failJob', { tenantId: t, jobId: failing, workerId: 'w1', attempt: f.attempts, error: 'smtp 421', permanent: false, retryAfterSeconds: 3600 });
    expect(await statusOf(t, failing)).toBe(JobStatus.JOB_STATUS_FAILED);
    expect(await statusOf(t, queued)).toBe(JobStatus.JOB_STATUS_QUEUED);
    // a held one too: hold, enqueue while held
    expect(await hold(t, key)).toBe(2);
    const [heldLate] = await enqueue(t, [newJob({ holdKey: key })]);
    const [freeJob] = await enqueue(t, [newJob({ holdKey: 'campaign:running-on' })]);
    const [theirs] = await enqueue(other, [newJob({ holdKey: key })]);

    expect(await holdAndCancel(t, key)).toEqual({ held: 0, cancelled: 3 });
    for (const id of [queued, failing, heldLate]) expect(await statusOf(t, id)).toBe(JobStatus.JOB_STATUS_CANCELLED);
    const { rows } = await q.pool.query<{ unfinished: number }>(`select count(*)::int as unfinished from jobs where tenant_id = $1 and status = 'cancelled' and finished is null`, [t]);
    expect(rows[0].unfinished).toBe(0);
    expect(await statusOf(t, freeJob)).toBe(JobStatus.JOB_STATUS_QUEUED);
    expect(await statusOf(other, theirs)).toBe(JobStatus.JOB_STATUS_QUEUED);
    // the two running at the call finish their attempt: one completes, the other's retry waits HELD
    const byId = new Map(running.map((j) => [j.id, j]));
    expect((await call(q.client, 'completeJob', { tenantId: t, jobId: run1, workerId: 'w1', attempt: byId.get(run1)!.attempts })).job!.status).toBe(JobStatus.JOB_STATUS_SUCCEEDED);
    expect((await call(q.client, 'failJob', { tenantId: t, jobId: run2, workerId: 'w1', attempt: byId.get(run2)!.attempts, error: 'smtp 421', permanent: false, retryAfterSeconds: 0 })).job!.status).toBe(JobStatus.JOB_STATUS_HELD);
    // a send enqueued after: HELD (the key stays held), and the next cancelling hold ends it too
    const [afterwards] = await enqueue(t, [newJob({ holdKey: key })]);
    expect(await statusOf(t, afterwards)).toBe(JobStatus.JOB_STATUS_HELD);
    expect(await holdAndCancel(t, key)).toEqual({ held: 0, cancelled: 2 });
    expect(await statuses(t, key)).toEqual({ cancelled: 5, succeeded: 1 });
    expect((await claim(t, { maxJobs: 10 })).map((j) => j.id)).toEqual([freeJob]);
    // releasing the key later does not bring cancelled jobs back (RetryJob does, one by one)
    expect(await release(t, key)).toBe(0);
    expect(await statuses(t, key)).toEqual({ cancelled: 5, succeeded: 1 });
  });
});

describe('enqueues of new hold keys at once', () => {
  test('batches naming the same new keys in different orders never deadlock (the keys are taken in key order; without it 3 runs in 4 had ABORTED calls)', async () => {
    const t = tenant();
    for (let round = 0; round < 40; round++) {
      const keys = Array.from({ length: 6 }, (_, i) => `campaign:r${round}-${i}`);
      const extra = (n: number) => Array.from({ length: n }, (_, i) => `mailbox:r${round}-${n}-${i}`);
      const batch = (ks: string[]) => enqueue(t, ks.map((k) => newJob({ holdKey: k })));
      // different sets of keys around the shared ones, so no two batches meet them in one order by chance
      const results = await Promise.allSettled([batch([...keys, ...extra(1)]), batch([...extra(40), ...[...keys].reverse()]), batch([...keys.slice(3), ...extra(200), ...keys.slice(0, 3)])]);
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    }
  }, 60_000);
});

describe('schedules with a hold key', () => {
  test('a fire while the key is held enqueues a HELD job; UpdateSchedule sets and removes the key; a bad key is INVALID_ARGUMENT with nothing written', async () => {
    const t = tenant();
    const key = campaignHoldKey(randomUUID());
    const create = (o: Partial<queueV1.CreateScheduleRequest>) =>
      call(q.client, 'createSchedule', { tenantId: t, name: 'daily-batch', cron: '* * * * * *', timeZone: 'UTC', queue: 'sched-hold', task: 'send_batch', payload: {}, priority: 0, maxAttempts: 0, holdKey: '', ...o });
    const { schedule } = await create({ holdKey: key });
    expect(schedule!.holdKey).toBe(key);
    // the key's row exists from now on (fires only read it)
    expect((await q.pool.query('select held from job_holds where tenant_id = $1 and hold_key = $2', [t, key])).rows).toEqual([{ held: false }]);
    await hold(t, key);
    const scheduler = new Scheduler({ pool: q.pool, intervalMs: 0, batchSize: 10, metrics: new Metrics() });
    const fire = async () => {
      await q.pool.query(`update schedules set next_fire_at = now() - interval '1 second' where id = $1`, [schedule!.id]);
      await scheduler.fireOnce();
    };
    await fire();
    const jobsOf = async () =>
      (await q.pool.query<{ status: string; hold_key: string | null }>(`select status, hold_key from jobs where tenant_id = $1 and queue = 'sched-hold' order by created`, [t])).rows;
    expect(await jobsOf()).toEqual([{ status: 'held', hold_key: key }]);
    expect(await release(t, key)).toBe(1);

    // removed: later fires' jobs carry no key and run even while it is held
    const cleared = await call(q.client, 'updateSchedule', { tenantId: t, scheduleId: schedule!.id, holdKey: '', payload: undefined });
    expect(cleared.schedule!.holdKey).toBe('');
    await hold(t, key);
    await new Promise((r) => setTimeout(r, 1_100)); // the next fire's idempotency key is per second
    await fire();
    // (the first fire's job carries the key, so the new hold took it back; the second's does not)
    expect(await jobsOf()).toEqual([{ status: 'held', hold_key: key }, { status: 'queued', hold_key: null }]);

    const before = await q.snapshot();
    const bad = await failure(create({ name: 'other', holdKey: 'k'.repeat(201) }));
    expect(bad.fieldViolations.map((v) => v.field)).toEqual(['hold_key']);
    const badUpdate = await failure(call(q.client, 'updateSchedule', { tenantId: t, scheduleId: schedule!.id, holdKey: 'k'.repeat(201), payload: undefined }));
    expect(badUpdate.fieldViolations.map((v) => v.field)).toEqual(['hold_key']);
    expect(await q.snapshot()).toEqual(before);
  });
});

describe('ListHolds', () => {
  test('the tenant\'s held keys in key order with their held jobs, paged; released keys and other tenants\' keys are not listed; a bad token or size is INVALID_ARGUMENT', async () => {
    const t = tenant();
    await enqueue(t, [newJob({ holdKey: 'campaign:b' }), newJob({ holdKey: 'campaign:b' }), newJob({ holdKey: 'campaign:c' })]);
    for (const k of ['campaign:c', 'campaign:a', 'campaign:b', 'mailbox:z']) await hold(t, k);
    await release(t, 'mailbox:z');
    await hold(tenant(), 'campaign:a2');
    const page = (pageSize: number, pageToken = '') => call(q.client, 'listHolds', { tenantId: t, page: { pageSize, pageToken } });
    const all = await page(10);
    expect(all.holds.map((h) => [h.holdKey, Number(h.heldJobs)])).toEqual([['campaign:a', 0], ['campaign:b', 2], ['campaign:c', 1]]);
    expect(all.holds.every((h) => h.heldSince instanceof Date)).toBe(true);
    expect(all.page!.nextPageToken).toBe('');
    const first = await page(2);
    expect(first.holds.map((h) => h.holdKey)).toEqual(['campaign:a', 'campaign:b']);
    const second = await page(2, first.page!.nextPageToken);
    expect(second.holds.map((h) => h.holdKey)).toEqual(['campaign:c']);
    expect(second.page!.nextPageToken).toBe('');
    // a token of another tenant's list, a forged token, a size over the maximum
    const other = await failure(call(q.client, 'listHolds', { tenantId: tenant(), page: { pageSize: 2, pageToken: first.page!.nextPageToken } }));
    expect(other.fieldViolations.map((v) => v.field)).toEqual(['page.page_token']);
    const forged = await failure(call(q.client, 'listHolds', { tenantId: t, page: { pageSize: 2, pageToken: 'abc.def' } }));
    expect(forged.code).toBe(Status.INVALID_ARGUMENT);
    const big = await failure(call(q.client, 'listHolds', { tenantId: t, page: { pageSize: 100_000, pageToken: '' } }));
    expect(big.fieldViolations.map((v) => v.field)).toEqual(['page.page_size']);
  });
});

describe('a hold and the writes racing with it', () => {
  test('once HoldJobs returns no job of the key is runnable and no claim started after it takes one; once ReleaseJobs returns none is held (3 rounds, 4 producers, 2 claimers)', async () => {
    const t = tenant();
    const key = 'campaign:race';
    for (let round = 0; round < 3; round++) {
      let stop = false;
      let heldAt = Infinity;
      const takenAfterHold: string[] = [];
      const producers = Array.from({ length: 4 }, async () => {
        while (!stop) await enqueue(t, Array.from({ length: 20 }, () => newJob({ holdKey: key })));
      });
      const claimers = Array.from({ length: 2 }, async (_, w) => {
        while (!stop) {
          const started = Date.now();
          const jobs = await claim(t, { maxJobs: 10, workerId: `c${w}` });
          if (started > heldAt) takenAfterHold.push(...jobs.map((j) => j.id));
          await Promise.all(jobs.map((j) => call(q.client, 'completeJob', { tenantId: t, jobId: j.id, workerId: `c${w}`, attempt: j.attempts })));
        }
      });
      await sleep(150);
      await hold(t, key);
      heldAt = Date.now();
      await sleep(250);
      stop = true;
      await Promise.all([...producers, ...claimers]);
      const s = await statuses(t, key);
      expect(takenAfterHold).toEqual([]);
      expect(s.queued ?? 0).toBe(0);
      expect(s.failed ?? 0).toBe(0);
      expect(s.held).toBeGreaterThan(0);

      stop = false;
      const again = Array.from({ length: 4 }, async () => {
        while (!stop) await enqueue(t, Array.from({ length: 20 }, () => newJob({ holdKey: key })));
      });
      await sleep(100);
      await release(t, key);
      await sleep(150);
      stop = true;
      await Promise.all(again);
      const r = await statuses(t, key);
      expect(r.held ?? 0).toBe(0);
      expect(r.queued).toBeGreaterThan(0);
      // drain for the next round
      while ((await claim(t, { maxJobs: 100 })).length > 0);
      await q.pool.query(`update jobs set status = 'succeeded', finished = now(), locked_by = null, locked_until = null where tenant_id = $1 and status = 'running'`, [t]);
    }
  }, 60_000);
});

describe('holds from CampaignStatusChanged (the metadata tier)', () => {
  let consumer: EventConsumer;
  beforeAll(async () => {
    await declareCampaignHoldsConsumer(q.nats.nc, q.nats.names, { EVENTS_DUPLICATE_WINDOW_MS: 60_000 });
    consumer = createCampaignHoldsConsumer({ nc: q.nats.nc, names: q.nats.names, pool: q.pool, logger, maxWaitMs: 200, retryDelayMs: 100 });
    await consumer.start();
  });
  afterAll(async () => {
    await consumer?.stop();
  });

  const changed = (t: string, campaignId: string, newStatus: metadataV1.CampaignStatus) =>
    buildEnvelope({
      tenantId: t,
      source: 'metadata',
      eventType: 'penguinmails.metadata.v1.CampaignStatusChanged',
      type: metadataV1.CampaignStatusChanged,
      payload: { campaignId, oldStatus: metadataV1.CampaignStatus.CAMPAIGN_STATUS_ACTIVE, newStatus, changedAt: new Date() },
    });
  const publish = async (t: string, bytes: Uint8Array) => jetstream(q.nats.nc).publish(q.nats.names.subject('metadata', t, 'campaign_status_changed'), bytes);
  async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (await check()) return;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  test('PAUSED holds campaign:<id>, ACTIVE releases it, ARCHIVED cancels its waiting sends and holds the key; other campaigns and tenants run on', async () => {
    const t = tenant();
    const campaign = randomUUID();
    const key = campaignHoldKey(campaign);
    expect(key).toBe(`campaign:${campaign}`);
    const sends = await enqueue(t, [newJob({ holdKey: key }), newJob({ holdKey: key })]);
    const other = await enqueue(t, [newJob({ holdKey: campaignHoldKey(randomUUID()) })]);

    await publish(t, changed(t, campaign, metadataV1.CampaignStatus.CAMPAIGN_STATUS_PAUSED).bytes);
    await until('the sends held', async () => (await statuses(t, key)).held === 2);
    expect((await claim(t)).map((j) => j.id)).toEqual(other);
    // a campaign id in upper case names the same key
    await publish(t, changed(t, campaign.toUpperCase(), metadataV1.CampaignStatus.CAMPAIGN_STATUS_ACTIVE).bytes);
    await until('the sends released', async () => (await statuses(t, key)).queued === 2);
    expect((await claim(t)).map((j) => j.id).sort()).toEqual([...sends].sort());

    const [late] = await enqueue(t, [newJob({ holdKey: key })]);
    await publish(t, changed(t, campaign, metadataV1.CampaignStatus.CAMPAIGN_STATUS_ARCHIVED).bytes);
    await until('the waiting send cancelled', async () => (await statusOf(t, late)) === JobStatus.JOB_STATUS_CANCELLED);
    // the two claimed before still run; a send enqueued after the archive waits HELD
    expect(await statuses(t, key)).toEqual({ running: 2, cancelled: 1 });
    const [afterwards] = await enqueue(t, [newJob({ holdKey: key })]);
    expect(await statusOf(t, afterwards)).toBe(JobStatus.JOB_STATUS_HELD);
    expect((await claim(t)).map((j) => j.id)).toEqual([]);
  });

  test('COMPLETED after PAUSED cancels the sends the pause held', async () => {
    const t = tenant();
    const campaign = randomUUID();
    const key = campaignHoldKey(campaign);
    const sends = await enqueue(t, [newJob({ holdKey: key }), newJob({ holdKey: key }), newJob({ holdKey: key })]);
    await publish(t, changed(t, campaign, metadataV1.CampaignStatus.CAMPAIGN_STATUS_PAUSED).bytes);
    await until('the sends held', async () => (await statuses(t, key)).held === 3);
    await publish(t, changed(t, campaign, metadataV1.CampaignStatus.CAMPAIGN_STATUS_COMPLETED).bytes);
    await until('the sends cancelled', async () => (await statuses(t, key)).cancelled === 3);
    for (const id of sends) expect(await statusOf(t, id)).toBe(JobStatus.JOB_STATUS_CANCELLED);
  });

  test('an older event applied after a newer one changes nothing (stream sequence); a malformed one is dead-lettered and the next applied', async () => {
    const t = tenant();
    const key = campaignHoldKey(randomUUID());
    const [job] = await enqueue(t, [newJob({ holdKey: key })]);
    expect(await setHold(q.pool, { tenantId: t, holdKey: key, held: true, sourceSeq: 10 })).toEqual({ applied: true, jobs: 1 });
    // the release published before the hold, redelivered late
    expect(await setHold(q.pool, { tenantId: t, holdKey: key, held: false, sourceSeq: 9 })).toEqual({ applied: false, jobs: 0 });
    expect(await statusOf(t, job)).toBe(JobStatus.JOB_STATUS_HELD);
    expect(await setHold(q.pool, { tenantId: t, holdKey: key, held: false, sourceSeq: 11 })).toEqual({ applied: true, jobs: 1 });
    // the RPCs (no sequence) always apply
    expect(await setHold(q.pool, { tenantId: t, holdKey: key, held: true })).toEqual({ applied: true, jobs: 1 });

    const campaign = randomUUID();
    const [send] = await enqueue(t, [newJob({ holdKey: campaignHoldKey(campaign) })]);
    const badId = buildEnvelope({
      tenantId: t,
      source: 'metadata',
      eventType: 'penguinmails.metadata.v1.CampaignStatusChanged',
      type: metadataV1.CampaignStatusChanged,
      payload: { campaignId: 'not-a-uuid', oldStatus: 0, newStatus: metadataV1.CampaignStatus.CAMPAIGN_STATUS_PAUSED, changedAt: new Date() },
    });
    await publish(t, badId.bytes);
    await publish(t, changed(t, campaign, metadataV1.CampaignStatus.CAMPAIGN_STATUS_PAUSED).bytes);
    await until('the valid event after the malformed one applied', async () => (await statusOf(t, send)) === JobStatus.JOB_STATUS_HELD);

    await ensureConsumer(q.nats.nc, q.nats.names.deadLetterStream(), { durable: 'holds-dead-letter-reader', filterSubjects: [q.nats.names.deadLetterSubjects()] });
    const reader = await jetstream(q.nats.nc).consumers.get(q.nats.names.deadLetterStream(), 'holds-dead-letter-reader');
    const letters: commonV1.DeadLetter[] = [];
    for await (const m of await reader.fetch({ max_messages: 10, expires: 2_000 })) {
      letters.push(commonV1.DeadLetter.decode(m.data));
      m.ack();
    }
    expect(letters.map((l) => [l.consumer, l.reason])).toEqual([[CAMPAIGN_HOLDS_CONSUMER, 'campaign_id is not a UUID']]);
  });
});
