import { randomUUID } from 'node:crypto';
import { queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { ClaimGates } from '../src/domain/claim-gate';
import { NO_KEYS, type Queue, startQueue } from './harness';

// CLAIM_CONCURRENCY: claim statements of one tenant's queue at most N at a time per process
// (src/domain/claim-gate.ts). The gate alone, then through the service with N = 1.

const tick = () => new Promise((r) => setImmediate(r));

describe('ClaimGates', () => {
  it('lets `limit` holders of a key through, the rest in arrival order as slots free, other keys independently', async () => {
    const gates = new ClaimGates(2);
    const order: string[] = [];
    const r1 = await gates.acquire('a');
    const r2 = await gates.acquire('a');
    const third = gates.acquire('a').then((r) => (order.push('third'), r));
    const fourth = gates.acquire('a').then((r) => (order.push('fourth'), r));
    const other = await gates.acquire('b'); // another queue does not wait for a's slots
    await tick();
    expect(order).toEqual([]);
    r1();
    r1(); // a second call of the same release frees nothing more
    await tick();
    expect(order).toEqual(['third']);
    r2();
    await tick();
    expect(order).toEqual(['third', 'fourth']);
    (await third)();
    (await fourth)();
    other();
    expect(gates.size).toBe(0); // keys are dropped once nobody holds or waits
  });

  it('limit 0 is no gate', async () => {
    const gates = new ClaimGates(0);
    const all = await Promise.all(Array.from({ length: 10 }, () => gates.acquire('a')));
    expect(all).toHaveLength(10);
    expect(gates.size).toBe(0);
  });
});

describe('through the service, CLAIM_CONCURRENCY = 1', () => {
  let q: Queue;
  beforeAll(async () => {
    q = await startQueue({ claimConcurrency: 1, claimBatchMax: 100 });
  });
  afterAll(async () => {
    await q?.stop();
  });

  const newJob = (n: number): queueV1.NewJob => ({
    ...NO_KEYS,
    queue: 'send',
    task: 'campaign.send_step',
    payload: undefined,
    payloadJson: Buffer.from(JSON.stringify({ n })),
    priority: 0,
    maxAttempts: 0,
    idempotencyKey: '',
    runAt: undefined,
  });

  it('8 workers claiming and completing at once, lean and full: every job leased once, all succeed, none lost', async () => {
    const tenantId = randomUUID();
    const total = 400;
    await call(q.client, 'enqueueJobs', { tenantId, jobs: Array.from({ length: total }, (_, i) => newJob(i)) });
    const seen = new Map<string, string>();
    const worker = async (w: string, lean: boolean) => {
      let previous: queueV1.JobAttempt[] = [];
      for (let round = 0; round < 100; round++) {
        const r = await call(q.client, 'claimJobs', { tenantId, queue: 'send', workerId: w, maxJobs: 7, leaseSeconds: 60, waitMs: 0, complete: previous, lean });
        const ids = lean ? r.claimed.map((c) => [c.id, c.attempt] as const) : r.jobs.map((j) => [j.id, j.attempts] as const);
        for (const [id] of ids) {
          expect(seen.get(id)).toBeUndefined(); // leased to one worker only
          seen.set(id, w);
        }
        previous = ids.map(([id, attempt]) => ({ jobId: id, attempt, output: undefined, error: '', permanent: false, retryAfterSeconds: 0 }));
        if (ids.length === 0) return;
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => worker(`w${i}`, i % 2 === 0)));
    expect(seen.size).toBe(total);
    const [stats] = (await call(q.client, 'getQueueStats', { tenantId, queue: 'send' })).queues;
    expect(Number(stats.succeeded)).toBe(total);
    expect(Number(stats.running)).toBe(0);
    expect(Number(stats.queued)).toBe(0);
    // several workers overlapped in time (the gate made them take turns, not fail)
    expect(new Set(seen.values()).size).toBeGreaterThan(1);
  });
});
