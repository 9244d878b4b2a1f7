import { commonV1, queueV1 } from '@penguinmails/contracts';
import { Metrics, call } from '@penguinmails/service-kit';
import { LeaseSweeper } from '../src/domain/lease-sweeper';
import { NO_KEYS, type Queue, sleep, startQueue, tenant } from './harness';

// The lease sweeper: expired leases of queues nobody claims any more are taken back on its own
// schedule (a claim does it only for its own queue), with the claim's rules and events.

let q: Queue;
beforeAll(async () => {
  // A waiting ClaimJobs polls every 30 s here: a claimer that returns sooner was woken by a
  // notification, not by its own poll (whose claim would take the expired leases back itself).
  q = await startQueue({ claimWaitPollMs: 30_000, claimWaitMaxMs: 30_000 });
});
afterAll(async () => {
  await q?.stop();
});

const enqueue = (t: string, queue: string, maxAttempts: number[]) =>
  call(q.client, 'enqueueJobs', {
    tenantId: t,
    jobs: maxAttempts.map((m, i) => ({
      ...NO_KEYS,
      queue,
      task: `t${i}`,
      payload: { i },
      payloadJson: Buffer.alloc(0),
      priority: 0,
      runAt: undefined,
      maxAttempts: m,
      idempotencyKey: '',
    })),
  }).then((r) => r.results.map((x) => x.jobId));

const claim = (t: string, queue: string, leaseSeconds: number, maxJobs = 10, waitMs = 0) =>
  call(
    q.client,
    'claimJobs',
    { tenantId: t, queue, workerId: `w-${queue}`, maxJobs, leaseSeconds, waitMs, complete: [], lean: false },
    { deadlineMs: 40_000 },
  ).then((r) => r.jobs);

const statusOf = async (ids: string[]) =>
  (await q.pool.query<{ id: string; status: string; attempts: number }>(`select id, status, attempts from jobs where id = any($1::uuid[]) order by id`, [ids])).rows;

describe('LeaseSweeper', () => {
  it("takes back a dead worker's jobs of a queue nobody claims: failed and runnable, or dead on the last attempt, with logs, JobDead and metrics", async () => {
    const [t, other] = [tenant(), tenant()];
    const ids = await enqueue(t, 'orphaned', [5, 5, 1]);
    const [kept] = await enqueue(other, 'orphaned', [5]);
    expect((await claim(t, 'orphaned', 1)).map((j) => j.id).sort()).toEqual([...ids].sort());
    expect((await claim(other, 'orphaned', 300)).map((j) => j.id)).toEqual([kept]);
    // the worker of t dies: nobody completes, nobody claims that queue again
    await sleep(1200);

    const metrics = new Metrics();
    const sweeper = new LeaseSweeper({ pool: q.pool, names: q.nats.names, intervalMs: 0, batchSize: 2, metrics });
    expect(await sweeper.run()).toBe(3); // batches of 2: the queue is swept twice
    const rows = Object.fromEntries((await statusOf(ids)).map((r) => [r.id, r]));
    expect(rows[ids[0]]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(rows[ids[1]]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(rows[ids[2]]).toMatchObject({ status: 'dead', attempts: 1 });
    // the other tenant's lease has not ended: untouched
    expect((await statusOf([kept]))[0]).toMatchObject({ status: 'running' });

    const logs = await q.pool.query<{ message: string }>(`select message from job_logs where job_id = any($1::uuid[])`, [ids]);
    expect(logs.rows).toHaveLength(3);
    for (const l of logs.rows) expect(l.message).toMatch(/^lease of worker w-orphaned expired at /);
    const event = await q.lastEvent(q.nats.names.subject('queue', t, 'job_dead'));
    expect(queueV1.JobDead.decode(commonV1.EventEnvelope.decode(event!.data).payload).job!.id).toBe(ids[2]);
    const text = await metrics.text();
    expect(text).toContain('pm_queue_leases_expired_total{outcome="failed"} 2');
    expect(text).toContain('pm_queue_leases_expired_total{outcome="dead"} 1');

    // nothing left to take back; the failed jobs are claimable again (second attempt)
    expect(await sweeper.run()).toBe(0);
    const again = await claim(t, 'orphaned', 300);
    expect(again.map((j) => j.id).sort()).toEqual([ids[0], ids[1]].sort());
    expect(again.every((j) => j.attempts === 2)).toBe(true);
  });

  it('wakes a worker waiting on that queue when it makes jobs runnable again', async () => {
    const t = tenant();
    const [id] = await enqueue(t, 'rewake', [5]);
    expect((await claim(t, 'rewake', 2)).map((j) => j.id)).toEqual([id]);
    // a second worker waits for work on the same queue (up to 20 s); its first claim finds none
    const started = Date.now();
    const waiting = claim(t, 'rewake', 300, 10, 20_000);
    await sleep(2300); // the first worker's lease ends meanwhile
    const sweeper = new LeaseSweeper({ pool: q.pool, names: q.nats.names, intervalMs: 0, batchSize: 100 });
    expect(await sweeper.run()).toBeGreaterThanOrEqual(1);
    const swept = Date.now();
    const got = await waiting;
    expect(got.map((j) => j.id)).toEqual([id]);
    // woken by the sweeper's notification, not by its 30 s poll nor the end of its 20 s wait
    expect(Date.now() - swept).toBeLessThan(5000);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('two sweepers at once (two replicas) take each expired lease back exactly once', async () => {
    const t = tenant();
    const queues = ['q1', 'q2', 'q3'];
    const ids: string[] = [];
    for (const queue of queues) {
      const batch = await enqueue(t, queue, Array.from({ length: 60 }, () => 5));
      ids.push(...batch);
      expect(await claim(t, queue, 1, 60)).toHaveLength(60);
    }
    await sleep(1200);
    const [m1, m2] = [new Metrics(), new Metrics()];
    const sweepers = [m1, m2].map((metrics) => new LeaseSweeper({ pool: q.pool, names: q.nats.names, intervalMs: 0, batchSize: 7, metrics }));
    const [n1, n2] = await Promise.all(sweepers.map((s) => s.run()));
    expect(n1 + n2).toBe(180);
    const rows = await statusOf(ids);
    expect(rows.every((r) => r.status === 'failed' && r.attempts === 1)).toBe(true);
    // one log line per job: no job was taken back twice
    const logs = await q.pool.query<{ n: number }>(`select job_id, count(*)::int as n from job_logs where job_id = any($1::uuid[]) group by job_id`, [ids]);
    expect(logs.rows).toHaveLength(180);
    expect(logs.rows.every((r) => r.n === 1)).toBe(true);
    const counted = async (m: Metrics) => Number(/pm_queue_leases_expired_total\{outcome="failed"\} (\d+)/.exec(await m.text())?.[1] ?? 0);
    expect((await counted(m1)) + (await counted(m2))).toBe(180);
  });

  it('runs on its own when given an interval, and stops', async () => {
    const t = tenant();
    const [id] = await enqueue(t, 'timed', [5]);
    await claim(t, 'timed', 1);
    const sweeper = new LeaseSweeper({ pool: q.pool, names: q.nats.names, intervalMs: 200, batchSize: 100 });
    sweeper.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await statusOf([id]))[0].status === 'running' && Date.now() < deadline) await sleep(100);
      expect((await statusOf([id]))[0]).toMatchObject({ status: 'failed', attempts: 1 });
    } finally {
      await sweeper.stop();
    }
  });
});
