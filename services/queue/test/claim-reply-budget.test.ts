import { queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { NO_KEYS, type Queue, startQueue, tenant } from './harness';

// The same for lists: ListJobs, ListJobLogs and ListSchedules pages hold fewer rows than
// page_size when the rows would not fit (src/domain/reply-size.ts, the kit's listPage budget),
// and next_page_token goes on from the last row returned.
//
// A ClaimJobs reply is one gRPC message, and grpc-js refuses to send one larger than
// GRPC_MAX_SEND_BYTES. Every claim statement takes only the jobs whose reply fits
// (src/db/claim-jobs.ts fitCte); before, a claim of many large payloads leased them all and
// failed with RESOURCE_EXHAUSTED ("Sent message larger than max"), so the worker got nothing
// and the jobs stayed running until their leases ended. Here the server sends at most
// 256 KiB and payloads are ~15 KB, so a claim of 40 cannot fit.

const SERVICE_TOKEN = 'svc-token-reply-budget-0123456789';
let q: Queue;
beforeAll(async () => {
  q = await startQueue({ payloadMaxBytes: 16 * 1024, claimBatchMax: 100 }, { authTokens: [SERVICE_TOKEN], grpcLimits: { maxSendBytes: 256 * 1024 } });
});
afterAll(async () => {
  await q?.stop();
});

const big = (i: number) => ({ i, blob: 'x'.repeat(15_000) });
const newJob = (queue: string, i: number, lean: boolean, extra: Partial<queueV1.NewJob> = {}): queueV1.NewJob => ({
  ...NO_KEYS,
  queue,
  task: 'big.payload',
  payload: lean ? undefined : big(i),
  payloadJson: lean ? Buffer.from(JSON.stringify(big(i))) : Buffer.alloc(0),
  priority: 0,
  maxAttempts: 0,
  idempotencyKey: '',
  runAt: undefined,
  ...extra,
});

async function enqueue(t: string, queue: string, n: number, lean: boolean, extra: Partial<queueV1.NewJob> = {}): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await call(q.client, 'enqueueJobs', { tenantId: t, jobs: Array.from({ length: Math.min(10, n - i) }, (_, k) => newJob(queue, i + k, lean, extra)) });
  }
}

/** Running jobs of the queue (leased to anyone): the claims must have handed every one of them out. */
async function running(queue: string): Promise<number> {
  const { rows } = await q.pool.query<{ n: number }>(`select count(*)::int as n from jobs where queue = $1 and status = 'running'`, [queue]);
  return rows[0].n;
}

/** Claims until the queue is empty; returns the size of each claim and every id received. */
async function drain(t: string, queue: string, lean: boolean): Promise<{ sizes: number[]; ids: string[] }> {
  const sizes: number[] = [];
  const ids: string[] = [];
  for (;;) {
    const res = await call(q.client, 'claimJobs', { tenantId: t, queue, workerId: 'w', maxJobs: 40, leaseSeconds: 300, waitMs: 0, complete: [], lean });
    const got = lean ? res.claimed.map((j) => j.id) : res.jobs.map((j) => j.id);
    if (got.length === 0) return { sizes, ids };
    if (lean) for (const j of res.claimed) expect(JSON.parse(Buffer.from(j.payloadJson).toString()).blob).toHaveLength(15_000);
    else for (const j of res.jobs) expect((j.payload as { blob: string }).blob).toHaveLength(15_000);
    sizes.push(got.length);
    ids.push(...got);
    // Every job leased so far reached this worker: none is running without having been sent.
    expect(await running(queue)).toBe(ids.length);
  }
}

describe('ClaimJobs takes only the jobs whose reply fits in one message', () => {
  it('lean (one statement, pm_queue_claim_lean): claims of ~15 each, all 40 received once, none leased unsent', async () => {
    const t = tenant();
    await enqueue(t, 'lean', 40, true);
    const { sizes, ids } = await drain(t, 'lean', true);
    expect(new Set(ids).size).toBe(40);
    expect(sizes.length).toBeGreaterThan(1);
    expect(Math.max(...sizes)).toBeLessThan(40);
    expect(Math.max(...sizes)).toBeGreaterThan(5); // the budget is used, not one job a call
  });

  it('full Jobs (Struct payloads, claimed in a transaction): fewer per claim (weight 4), all 40 received once', async () => {
    const t = tenant();
    await enqueue(t, 'full', 40, false);
    const { sizes, ids } = await drain(t, 'full', false);
    expect(new Set(ids).size).toBe(40);
    expect(Math.max(...sizes)).toBeLessThan(Math.ceil(40 / 2));
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
  });

  it('jobs of a concurrency group and ungrouped jobs in one claim share one budget', async () => {
    const t = tenant();
    await enqueue(t, 'grouped', 20, true, { groupKey: 'mailbox-1', groupLimit: 100 });
    await enqueue(t, 'grouped', 20, true);
    const { sizes, ids } = await drain(t, 'grouped', true);
    expect(new Set(ids).size).toBe(40);
    expect(Math.max(...sizes)).toBeLessThan(40);
  });

  it('a platform worker claiming across tenants (service scope) gets what fits too', async () => {
    const platform = (await import('@penguinmails/service-kit')).connect(queueV1.QueueServiceClient, q.address, { token: SERVICE_TOKEN });
    try {
      const [a, b] = [tenant(), tenant()];
      await enqueue(a, 'cross', 20, true);
      await enqueue(b, 'cross', 20, true);
      const ids: string[] = [];
      let calls = 0;
      for (;;) {
        const res = await call(platform, 'claimJobs', { tenantId: '', queue: 'cross', workerId: 'p', maxJobs: 40, leaseSeconds: 300, waitMs: 0, complete: [], lean: true });
        if (res.claimed.length === 0) break;
        calls++;
        expect(res.claimed.length).toBeLessThan(40);
        ids.push(...res.claimed.map((j) => j.id));
        expect(await running('cross')).toBe(ids.length);
      }
      expect(new Set(ids).size).toBe(40);
      expect(calls).toBeGreaterThan(1);
    } finally {
      platform.close();
    }
  });

  it('small payloads are not held back: one claim of 100 gets all 100', async () => {
    const t = tenant();
    await call(q.client, 'enqueueJobs', {
      tenantId: t,
      jobs: Array.from({ length: 100 }, (_, i) => ({ ...newJob('small', i, true), payloadJson: Buffer.from(JSON.stringify({ i })) })),
    });
    const res = await call(q.client, 'claimJobs', { tenantId: t, queue: 'small', workerId: 'w', maxJobs: 100, leaseSeconds: 300, waitMs: 0, complete: [], lean: true });
    expect(res.claimed).toHaveLength(100);
  });
});

/** Every page of a list until the last; returns each page's size and every id, in order. */
async function pages(list: (token: string) => Promise<{ ids: string[]; next: string }>): Promise<{ sizes: number[]; ids: string[] }> {
  const sizes: number[] = [];
  const ids: string[] = [];
  let token = '';
  do {
    const p = await list(token);
    sizes.push(p.ids.length);
    ids.push(...p.ids);
    token = p.next;
  } while (token !== '' && sizes.length < 100);
  return { sizes, ids };
}

describe('List pages hold only the rows that fit in one message', () => {
  it('ListJobs, with and without a status filter: every job listed once, pages of fewer than page_size', async () => {
    const t = tenant();
    await enqueue(t, 'listed', 40, false);
    for (const status of [queueV1.JobStatus.JOB_STATUS_UNSPECIFIED, queueV1.JobStatus.JOB_STATUS_QUEUED]) {
      const { sizes, ids } = await pages(async (pageToken) => {
        const r = await call(q.client, 'listJobs', { tenantId: t, status, queue: 'listed', page: { pageSize: 40, pageToken } });
        for (const j of r.jobs) expect((j.payload as { blob: string }).blob).toHaveLength(15_000);
        return { ids: r.jobs.map((j) => j.id), next: r.page?.nextPageToken ?? '' };
      });
      expect(new Set(ids).size).toBe(40);
      expect(ids).toHaveLength(40);
      expect(Math.max(...sizes)).toBeLessThan(40);
      expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    }
  });

  it('ListJobLogs: 30 lines of ~15 KB data, all read back in order', async () => {
    const t = tenant();
    await enqueue(t, 'logged', 1, true);
    const job = (await call(q.client, 'listJobs', { tenantId: t, status: 0, queue: 'logged', page: { pageSize: 1, pageToken: '' } })).jobs[0];
    for (let i = 0; i < 30; i++) await call(q.client, 'appendJobLog', { tenantId: t, jobId: job.id, level: 0, message: `line ${i}`, data: big(i) });
    const { sizes, ids } = await pages(async (pageToken) => {
      const r = await call(q.client, 'listJobLogs', { tenantId: t, jobId: job.id, page: { pageSize: 30, pageToken } });
      return { ids: r.logs.map((l) => l.message), next: r.page?.nextPageToken ?? '' };
    });
    expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => `line ${i}`));
    expect(Math.max(...sizes)).toBeLessThan(30);
  });

  it('ListSchedules: 20 schedules with ~15 KB payloads, all listed once', async () => {
    const t = tenant();
    for (let i = 0; i < 20; i++) {
      await call(q.client, 'createSchedule', {
        tenantId: t, name: `s${i}`, cron: '0 3 * * *', timeZone: 'UTC', queue: 'sched', task: 'big.payload', payload: big(i), priority: 0, maxAttempts: 0, holdKey: '',
      });
    }
    const { sizes, ids } = await pages(async (pageToken) => {
      const r = await call(q.client, 'listSchedules', { tenantId: t, page: { pageSize: 20, pageToken } });
      return { ids: r.schedules.map((x) => x.name), next: r.page?.nextPageToken ?? '' };
    });
    expect(new Set(ids).size).toBe(20);
    expect(Math.max(...sizes)).toBeLessThan(20);
  });
});
