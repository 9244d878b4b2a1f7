import { randomUUID } from 'node:crypto';
import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { commonV1, queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { ServiceFuzzer, fuzzOrder, fuzzSettings, isBadCode, loadServiceSpec, pgDigest } from '@penguinmails/testkit';
import { NO_KEYS, type Queue, startQueue } from './harness';

// Hostile input for every RPC of QueueService, generated from the descriptors (see
// packages/testkit/src/fuzz.ts and services/metadata/test/fuzz.test.ts for the invariants).

const spec = loadServiceSpec('penguinmails.queue.v1.QueueService');
const settings = fuzzSettings({ runs: 45 });
// Deletes last: a schedule deleted early would leave Pause/Resume/UpdateSchedule nothing to find.
const order = fuzzOrder(spec);

let q: Queue;
let fuzz: ServiceFuzzer;

beforeAll(async () => {
  q = await startQueue();
  const tenants = [randomUUID(), randomUUID()];
  const jobs: string[] = [];
  const schedules: string[] = [];
  for (const tenantId of tenants) {
    for (let i = 0; i < 3; i++) {
      const { job } = await call(q.client, 'enqueueJob', { tenantId, queue: 'email', task: 'campaign.send_step', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, payload: { n: i } });
      jobs.push(job!.id);
    }
    // a job of a concurrency group and a singleton, so grouped claims and key conflicts are reachable
    await call(q.client, 'enqueueJob', { tenantId, queue: 'email', task: 'campaign.send_step', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, groupKey: 'mailbox-1', singletonKey: 's1' });
    // a job with a hold key, so holds and releases move a job and keyed enqueues ask job_holds
    await call(q.client, 'enqueueJob', { tenantId, queue: 'email', task: 'campaign.send_step', priority: 0, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS, holdKey: 'campaign:c1' });
    const { schedule } = await call(q.client, 'createSchedule', {
      tenantId, name: 'nightly', cron: '0 3 * * *', timeZone: 'Europe/Berlin', queue: 'email', task: 'campaign.send_step', payload: {}, priority: 0, maxAttempts: 0, holdKey: 'campaign:c1',
    });
    schedules.push(schedule!.id);
    // one running job, so lease/complete/fail calls with the right worker can get through
    await call(q.client, 'claimJobs', { tenantId, queue: 'email', workerId: 'worker-1', maxJobs: 1, leaseSeconds: 0, waitMs: 0, complete: [], lean: false });
  }
  // A supply of running jobs (tenant 0, worker-1, attempt 1), most of the job_id pool, with
  // tenant, worker and attempt pooled to match below: completions, failures, lease extensions and
  // checks that name a held attempt get through to their success paths with hostile outputs,
  // errors and retry times, and the read-back test then reads what they stored. Without them a
  // valid attempt was ~1 draw in 3,000 and the first one used the single running job up.
  // About two per run of a method: a long run (FUZZ_RUNS=1000) still has running jobs at its end.
  const supplyCount = Math.min(1000, Math.max(80, settings.runs * 2));
  const { results: supply } = await call(q.client, 'enqueueJobs', {
    tenantId: tenants[0],
    jobs: Array.from({ length: supplyCount }, (_, n) => ({ queue: 'supply', task: 'campaign.send_step', priority: 0, maxAttempts: 3, idempotencyKey: '', ...NO_KEYS, payload: { n }, payloadJson: Buffer.alloc(0) })),
  });
  const held: string[] = [];
  for (let got = -1; got !== 0 && held.length < supply.length; ) {
    const { jobs: claimed } = await call(q.client, 'claimJobs', { tenantId: tenants[0], queue: 'supply', workerId: 'worker-1', maxJobs: 100, leaseSeconds: 0, waitMs: 0, complete: [], lean: false });
    held.push(...claimed.map((j) => j.id));
    got = claimed.length;
  }
  if (held.length !== supply.length) throw new Error(`claimed ${held.length} of the ${supply.length} supply jobs`);
  jobs.push(...held);
  // Dead jobs (tenant 0), so RetryJob's plausible calls find one to retry.
  const { results: doomed } = await call(q.client, 'enqueueJobs', {
    tenantId: tenants[0],
    jobs: Array.from({ length: 6 }, (_, n) => ({ queue: 'doomed', task: 'campaign.send_step', priority: 0, maxAttempts: 1, idempotencyKey: '', ...NO_KEYS, payload: { n }, payloadJson: Buffer.alloc(0) })),
  });
  const { jobs: dying } = await call(q.client, 'claimJobs', { tenantId: tenants[0], queue: 'doomed', workerId: 'worker-1', maxJobs: 6, leaseSeconds: 0, waitMs: 0, complete: [], lean: false });
  const { results: died } = await call(q.client, 'failJobs', {
    tenantId: tenants[0],
    workerId: 'worker-1',
    jobs: dying.map((j) => ({ jobId: j.id, attempt: j.attempts, error: 'mailbox does not exist', permanent: true, retryAfterSeconds: 0, output: undefined })),
  });
  if (doomed.length !== 6 || died.filter((r) => r.status === queueV1.JobStatus.JOB_STATUS_DEAD).length !== 6) throw new Error('the dead jobs were not seeded');
  jobs.push(...dying.map((j) => j.id));
  // Schedules (tenant 0) for DeleteSchedule alone: one delete each, after which a pooled id is NOT_FOUND.
  const spareSchedules: string[] = [];
  for (let i = 0; i < 12; i++) {
    const { schedule } = await call(q.client, 'createSchedule', {
      tenantId: tenants[0], name: `spare-${i}`, cron: '0 4 * * *', timeZone: 'UTC', queue: 'email', task: 'campaign.send_step', payload: {}, priority: 0, maxAttempts: 0, holdKey: '',
    });
    spareSchedules.push(schedule!.id);
  }
  const failing = { pools: { error: ['smtp 421 4.7.0 try again later', 'mailbox full'] }, numberPools: { retry_after_seconds: [0, 30] } };
  const noOutcome = { pools: { error: [''] }, numberPools: { retry_after_seconds: [0] } };
  fuzz = new ServiceFuzzer(spec, {
    address: q.address,
    settings,
    digest: () => pgDigest(q.pool),
    numberPools: { attempt: [1, 1, 1, 2], extra_attempts: [1, 3], max_attempts: [0, 3] },
    // A failure needs an error; a completion or a lease check must leave the outcome fields unset.
    methodPools: {
      FailJob: failing,
      FailJobs: failing,
      CompleteJobs: noOutcome,
      CheckLeases: { pools: noOutcome.pools, numberPools: { ...noOutcome.numberPools, wait_ms: [0, 10] } },
      ClaimJobs: { pools: noOutcome.pools, numberPools: { ...noOutcome.numberPools, max_jobs: [1, 5], wait_ms: [0] } },
      // new names, so a long run's creates do not all meet the two names taken
      CreateSchedule: { pools: { name: ['nightly', ...Array.from({ length: 40 }, (_, i) => `schedule-${i}`)] } },
      DeleteSchedule: { pools: { schedule_id: [...spareSchedules, ...schedules] }, plausiblePools: { tenant_id: [tenants[0]], schedule_id: spareSchedules } },
    },
    pools: {
      tenant_id: [tenants[0], tenants[0], tenants[0], tenants[1]],
      job_id: jobs,
      queue: ['email', 'default'],
      task: ['campaign.send_step'],
      worker_id: ['worker-1', 'worker-1', 'worker-1', 'worker-2'],
      idempotency_key: ['k1', 'k2'],
      schedule_id: schedules,
      name: ['nightly', 'hourly'],
      cron: ['0 3 * * *', '*/5 * * * * *', '@daily'],
      time_zone: ['UTC', 'Europe/Berlin', 'America/New_York'],
      group_key: ['mailbox-1', 'mailbox-2'],
      singleton_key: ['s1', 's2'],
      hold_key: ['campaign:c1', 'campaign:c2'],
      payload_json: ['{"n":1}', '{"to":"ada@example.com","step":2,"tags":["a","b"]}'],
    },
  });
}, 60_000);

afterAll(async () => {
  if (fuzz) {
    process.stdout.write('\n' + fuzz.summary() + '\n');
    fuzz.writeResults('queue');
    fuzz.close();
  }
  await q?.stop();
});

test('the fuzzed methods are every method of the descriptor and of the server', () => {
  const served = Object.values(queueV1.QueueServiceService).map((d) => d.path).sort();
  expect(spec.methods.map((m) => m.path).sort()).toEqual(served);
});

const skipped = (method: string) => Boolean(settings.replay && settings.replay.method !== method);
const timeout = 60_000 + settings.runs * 2 * settings.timeoutMs;
describe.each(order)('fuzz %s', (method) => {
  (skipped(method) ? test.skip : test)('hostile input gets an actionable code, in time, writes nothing when refused, and the server keeps SERVING', async () => {
    await fuzz.fuzzMethod(method);
  }, timeout);
});

/** Every row reads back: a poison row stored by an accepted call would answer INTERNAL here. */
test('every stored row can be read back through the API', async () => {
  const bad: string[] = [];
  let calls = 0;
  /** Runs one read; a bad code (INTERNAL, UNKNOWN, ...) is recorded under `what`. */
  const read = async <T>(what: string, send: () => Promise<T>): Promise<T | undefined> => {
    calls++;
    try {
      return await send();
    } catch (e) {
      const err = e as ServiceError;
      if (isBadCode(err.code)) bad.push(`${what.slice(0, 200)}: ${Status[err.code]} ${err.details}`);
      return undefined;
    }
  };
  /** Every page of a list, 100 rows each (at most 200 pages). */
  const pages = async (what: string, list: (page: commonV1.PageRequest) => Promise<{ page?: { nextPageToken: string } }>) => {
    let token = '';
    for (let i = 0; i < 200; i++) {
      const res = await read(what, () => list({ pageSize: 100, pageToken: token }));
      token = res?.page?.nextPageToken ?? '';
      if (!token) break;
    }
  };
  const { rows: tenants } = await q.pool.query<{ t: string }>(
    'select tenant_id::text as t from jobs union select tenant_id::text from schedules union select tenant_id::text from group_limits order by 1',
  );
  for (const { t } of tenants) {
    await pages(`listJobs(${t})`, (page) => call(q.client, 'listJobs', { tenantId: t, status: 0, queue: '', page }));
    await pages(`listSchedules(${t})`, (page) => call(q.client, 'listSchedules', { tenantId: t, page }));
    await read(`getQueueStats(${t})`, () => call(q.client, 'getQueueStats', { tenantId: t, queue: '' }));
    await pages(`listGroupLimits(${t})`, (page) => call(q.client, 'listGroupLimits', { tenantId: t, queue: '', page }));
  }
  // The platform's group limits (an empty tenant_id) and the stats of every tenant, which read them.
  await pages('listGroupLimits(platform)', (page) => call(q.client, 'listGroupLimits', { tenantId: '', queue: '', page }));
  await read('getQueueStats(every tenant)', () => call(q.client, 'getQueueStats', { tenantId: '', queue: '' }));
  const { rows: scheduleCount } = await q.pool.query<{ n: number }>('select count(*)::int as n from schedules');
  const { rows: jobs } = await q.pool.query<{ tenant_id: string; id: string }>('select tenant_id::text, id::text from jobs order by created desc limit 300');
  for (const r of jobs) {
    await read(`getJob(${r.tenant_id}, ${r.id})`, () => call(q.client, 'getJob', { tenantId: r.tenant_id, jobId: r.id }));
    await pages(`listJobLogs(${r.tenant_id}, ${r.id})`, (page) => call(q.client, 'listJobLogs', { tenantId: r.tenant_id, jobId: r.id, page }));
  }
  // How far the fuzzed worker calls got: the supply jobs each started running under worker-1.
  const { rows: supply } = await q.pool.query<{ s: string; n: number; outputs: number }>(
    "select status::text as s, count(*)::int as n, count(output)::int as outputs from jobs where queue = 'supply' group by 1 order by 1",
  );
  process.stdout.write(`queue read-back: ${tenants.length} tenants, ${jobs.length} jobs, ${scheduleCount[0].n} schedules, ${calls} calls, ${bad.length} unreadable; supply jobs ${supply.map((r) => `${r.s} ${r.n}${r.outputs ? ` (${r.outputs} with output)` : ''}`).join(', ')}\n`);
  expect(bad).toEqual([]);
}, 300_000);
