import { randomUUID } from 'node:crypto';
import { Client, type Pool, type PoolClient } from 'pg';
import { claimLean } from '../src/db/claim-lean';
import { completeJob } from '../src/db/complete-job';
import { completeJobs } from '../src/db/complete-jobs';
import { extendLease } from '../src/db/extend-lease';
import { failJob } from '../src/db/fail-job';
import { failJobs } from '../src/db/fail-jobs';
import { statDeltas } from '@penguinmails/testkit';
import { type Queue, startQueue, tenant } from './harness';

// A worker's call on its own jobs (complete, fail, extend; one job or a batch; the lean
// claim's completion) never reads the partial index of running jobs to find them (one job: by
// its primary key; a batch: by primary key or, on a small table, one seq scan). With
// statistics that count almost no running jobs, PostgreSQL used to estimate one row there and
// read every running job of the tenant for each call (src/db/lease.ts, migration
// 20270104000000_completion_by_primary_key). Measured here by the index scans of the call's
// own transaction (pg_stat_get_xact_*), with another worker holding 300 running jobs.

let q: Queue;
beforeAll(async () => {
  q = await startQueue();
});
afterAll(async () => {
  await q?.stop();
});

const RUNNING_BY_OTHERS = 300;
// Batches of 100: the bad plan (a hash join over the index of running jobs) came with batches,
// not with a handful of ids.
const MINE = 200;

/** Enqueues n jobs of tenant t straight into the table (the claim path is what is measured). */
async function seed(t: string, n: number): Promise<void> {
  await q.pool.query(
    `insert into jobs (id, tenant_id, queue, task, payload) select gen_random_uuid(), $1, 'send', 'noop', '{}' from generate_series(1, $2)`,
    [t, n],
  );
}

async function claim(t: string, worker: string, n: number): Promise<{ jobId: string; attempt: number }[]> {
  const { rows } = await claimLean(q.pool, { tenantId: t, queue: 'send', workerId: worker, limit: n, leaseSeconds: 300, maxReplyBytes: 4_000_000, complete: [], subject: 'test.jobs' });
  expect(rows).toHaveLength(n);
  return rows.map((r) => ({ jobId: r.id, attempt: r.attempts }));
}

/** Index scans and entries read on jobs_leased_idx and jobs_pkey, and seq scans of jobs. */
const COUNTERS = {
  leased: `pg_stat_get_xact_numscans('jobs_leased_idx'::regclass)`,
  leasedRead: `pg_stat_get_xact_tuples_returned('jobs_leased_idx'::regclass)`,
  pkey: `pg_stat_get_xact_numscans('jobs_pkey'::regclass)`,
  seq: `pg_stat_get_xact_numscans('jobs'::regclass)`,
};

/** What `work` read (testkit's statDeltas), on `c` or else on a new connection of its own. */
async function scans(work: (c: PoolClient) => Promise<unknown>, c?: PoolClient): Promise<Record<keyof typeof COUNTERS, number>> {
  const own = c ? undefined : new Client({ connectionString: q.db.url });
  const client = c ?? (own as unknown as PoolClient);
  await own?.connect();
  try {
    return await statDeltas(client, COUNTERS, () => work(client));
  } finally {
    await own?.end();
  }
}

let t: string;
let mine: { jobId: string; attempt: number }[];
beforeEach(async () => {
  t = tenant();
  await seed(t, RUNNING_BY_OTHERS + MINE + 10);
  // Statistics taken while every job waits: running jobs look rare, as in production.
  await q.pool.query('analyze jobs');
  await claim(t, 'busy', RUNNING_BY_OTHERS);
  mine = await claim(t, 'w', MINE);
});

const lease = (j: { jobId: string; attempt: number }) => ({ tenantId: t, jobId: j.jobId, workerId: 'w', attempt: j.attempt });
const status = async (id: string) => (await q.pool.query<{ status: string }>('select status from jobs where id = $1', [id])).rows[0].status;

it('CompleteJob, FailJob and ExtendLease read the job by jobs_pkey', async () => {
  for (const [what, work] of [
    ['extend', (c: PoolClient) => extendLease(c, lease(mine[0]), 60)],
    ['complete', (c: PoolClient) => completeJob(c, lease(mine[0]))],
    ['fail', (c: PoolClient) => failJob(c, lease(mine[1]), { error: 'x', permanent: true, retryDelayMs: 0 })],
  ] as const) {
    const s = await scans(async (c) => expect(await work(c)).toBeDefined());
    expect({ what, ...s }).toEqual({ what, leased: 0, leasedRead: 0, pkey: expect.any(Number), seq: 0 });
    expect(s.pkey).toBeGreaterThan(0);
  }
  expect([await status(mine[0].jobId), await status(mine[1].jobId)]).toEqual(['succeeded', 'dead']);
  // The fencing is unchanged: another worker, a stale attempt, or a job that no longer runs.
  const other = (j: { jobId: string; attempt: number }, change: object) => ({ ...lease(j), ...change });
  const c = await q.pool.connect();
  try {
    expect(await completeJob(c, other(mine[2], { workerId: 'busy' }))).toBeUndefined();
    expect(await completeJob(c, other(mine[2], { attempt: mine[2].attempt + 1 }))).toBeUndefined();
    expect(await completeJob(c, other(mine[2], { tenantId: randomUUID() }))).toBeUndefined();
    expect(await extendLease(c, lease(mine[0]), 60)).toBeUndefined();
  } finally {
    c.release();
  }
  expect(await status(mine[2].jobId)).toBe('running');
});

it('CompleteJobs and FailJobs do not read the running jobs of the tenant', async () => {
  const [a, b] = [mine.slice(0, 100), mine.slice(100)];
  const done = await scans((c) => completeJobs(c, { tenantId: t, workerId: 'w', ids: a.map((j) => j.jobId), attempts: a.map((j) => j.attempt), outputs: a.map(() => null) }));
  expect(done).toMatchObject({ leased: 0, leasedRead: 0 });
  const failed = await scans((c) =>
    failJobs(c, {
      tenantId: t,
      workerId: 'w',
      ids: b.map((j) => j.jobId),
      attempts: b.map((j) => j.attempt),
      errors: b.map(() => 'x'),
      permanent: b.map((_, i) => i % 2 === 0),
      delaysMs: b.map(() => 0),
    }),
  );
  expect(failed).toMatchObject({ leased: 0, leasedRead: 0 });
  const statuses = await Promise.all(mine.map((j) => status(j.jobId)));
  expect(statuses).toEqual([...a.map(() => 'succeeded'), ...b.map((_, i) => (i % 2 === 0 ? 'dead' : 'failed'))]);
  // A batch that names jobs of another worker changes none of them.
  const c = await q.pool.connect();
  try {
    const { rows } = await c.query<{ id: string; attempts: number }>(`select id, attempts from jobs where tenant_id = $1 and locked_by = 'busy' limit 2`, [t]);
    expect(await completeJobs(c, { tenantId: t, workerId: 'w', ids: rows.map((r) => r.id), attempts: rows.map((r) => r.attempts), outputs: [null, null] })).toEqual([]);
  } finally {
    c.release();
  }
});

it("the lean claim's completion does not read the running jobs of the tenant", async () => {
  const s = await scans((c) =>
    claimLean(c as unknown as Pool, { tenantId: t, queue: 'send', workerId: 'w', limit: 0, leaseSeconds: 60, maxReplyBytes: 4_000_000, complete: mine, subject: 'test.jobs' }).then((r) =>
      expect(r.missed).toEqual([]),
    ),
  );
  // The function's expired-lease check reads jobs_leased_idx once (one probe, nothing expired):
  // what matters is that it returns no entry, i.e. the completion did not scan it.
  expect(s.leasedRead).toBe(0);
  // The function probes jobs_pkey per id (its planner settings rule out a seq scan).
  expect(s.pkey).toBeGreaterThan(0);
  expect(await Promise.all(mine.map((j) => status(j.jobId)))).toEqual(mine.map(() => 'succeeded'));
});

it("CompleteJobs is planned for the table it runs on, not the table of its first runs (an unnamed statement: planned per call)", async () => {
  const c = await q.pool.connect();
  try {
    const batch = (k: number) => mine.slice(k * 10, k * 10 + 10);
    const complete = (k: number) => (cc: PoolClient) =>
      completeJobs(cc, { tenantId: t, workerId: 'w', ids: batch(k).map((j) => j.jobId), attempts: batch(k).map((j) => j.attempt), outputs: batch(k).map(() => null) }).then((rows) =>
        expect(rows).toHaveLength(10),
      );
    // Six completions of 10 on one connection while the table holds a few hundred jobs (the
    // sixth execution of a named statement is where PostgreSQL may switch to a cached plan)...
    for (let k = 0; k < 6; k++) await complete(k)(c);
    // ...then the table grows by 40,000 finished jobs of another tenant, and nothing re-plans
    // (no ANALYZE, no DDL).
    await c.query(
      `insert into jobs (id, tenant_id, queue, task, payload, status, finished) select gen_random_uuid(), $1, 'send', 'noop', '{}', 'succeeded', now() from generate_series(1, 40000)`,
      [randomUUID()],
    );
    const s = await scans(complete(6), c);
    expect(s).toMatchObject({ seq: 0, leasedRead: 0 });
    expect(s.pkey).toBeGreaterThan(0);
  } finally {
    c.release();
  }
});
