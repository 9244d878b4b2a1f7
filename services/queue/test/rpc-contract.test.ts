import { status as Status } from '@grpc/grpc-js';
import { queueV1 } from '@penguinmails/contracts';
import { call } from '@penguinmails/service-kit';
import { failure, NO_KEYS, type Queue, startQueue, tenant } from './harness';

// The project standard, RPC by RPC, for what jobs.test.ts / claims.test.ts leave out: bad input
// is INVALID_ARGUMENT naming the fields, another tenant's job is NOT_FOUND, and neither writes
// anything (a digest of every row: no lease extended, no job failed, no log line added).

let q: Queue;
type Seed = { tenantId: string; running: queueV1.Job; queued: queueV1.Job };
let t: Seed;
let o: Seed;

async function seed(queue: string): Promise<Seed> {
  const tenantId = tenant();
  const enqueue = (priority: number) =>
    call(q.client, 'enqueueJob', { tenantId, queue, task: 'campaign.send_step', priority, maxAttempts: 0, idempotencyKey: '', ...NO_KEYS }).then((r) => r.job!);
  await enqueue(1);
  const queued = await enqueue(0);
  const [running] = (await call(q.client, 'claimJobs', { tenantId, queue, workerId: 'w1', maxJobs: 1, leaseSeconds: 600, waitMs: 0, complete: [], lean: false })).jobs;
  await call(q.client, 'appendJobLog', { tenantId, jobId: running.id, level: 0, message: 'started' });
  return { tenantId, running, queued };
}

beforeAll(async () => {
  q = await startQueue();
  t = await seed('send');
  o = await seed('theirs');
});
afterAll(async () => {
  await q?.stop();
});

type Rpc = keyof Pick<
  queueV1.QueueServiceClient,
  'enqueueJob' | 'getJob' | 'listJobs' | 'claimJobs' | 'extendLease' | 'completeJob' | 'failJob' | 'cancelJob' | 'appendJobLog' | 'listJobLogs'
>;
/** A call of one RPC with its request, made when the case runs (the seeds exist by then). */
type Send = () => Promise<unknown>;
const lease = (j: queueV1.Job) => ({ tenantId: j.tenantId, jobId: j.id, workerId: j.lockedBy, attempt: j.attempts });
const page = (pageSize: number, pageToken = '') => ({ pageSize, pageToken });

describe('bad input → INVALID_ARGUMENT naming the fields, nothing written', () => {
  const cases: [Rpc, string, Send, string[]][] = [
    ['getJob', 'missing tenant_id', () => call(q.client, 'getJob', { tenantId: '', jobId: t.running.id }), ['tenant_id']],
    ['listJobs', 'non-uuid tenant_id', () => call(q.client, 'listJobs', { tenantId: 'acme', page: page(0), status: 0, queue: '' }), ['tenant_id']],
    ['listJobs', 'forged page_token', () => call(q.client, 'listJobs', { tenantId: t.tenantId, page: page(2, 'forged.token'), status: 0, queue: '' }), ['page.page_token']],
    ['claimJobs', 'missing queue', () => call(q.client, 'claimJobs', { tenantId: t.tenantId, queue: '', workerId: 'w', maxJobs: 1, leaseSeconds: 0, waitMs: 0, complete: [], lean: false }), ['queue']],
    ['claimJobs', 'worker_id over 200', () => call(q.client, 'claimJobs', { tenantId: t.tenantId, queue: 'send', workerId: 'w'.repeat(201), maxJobs: 1, leaseSeconds: 0, waitMs: 0, complete: [], lean: false }), ['worker_id']],
    ['extendLease', 'non-uuid job_id', () => call(q.client, 'extendLease', { ...lease(t.running), jobId: 'job-1', leaseSeconds: 60 }), ['job_id']],
    ['extendLease', 'non-uuid tenant_id', () => call(q.client, 'extendLease', { ...lease(t.running), tenantId: 'acme', leaseSeconds: 60 }), ['tenant_id']],
    ['extendLease', 'missing worker_id', () => call(q.client, 'extendLease', { ...lease(t.running), workerId: '', leaseSeconds: 60 }), ['worker_id']],
    ['extendLease', 'attempt 0', () => call(q.client, 'extendLease', { ...lease(t.running), attempt: 0, leaseSeconds: 60 }), ['attempt']],
    ['extendLease', 'lease_seconds over the maximum', () => call(q.client, 'extendLease', { ...lease(t.running), leaseSeconds: 3601 }), ['lease_seconds']],
    ['extendLease', 'negative lease_seconds', () => call(q.client, 'extendLease', { ...lease(t.running), leaseSeconds: -5 }), ['lease_seconds']],
    ['completeJob', 'worker_id over 200', () => call(q.client, 'completeJob', { ...lease(t.running), workerId: 'w'.repeat(201) }), ['worker_id']],
    ['completeJob', 'missing tenant_id', () => call(q.client, 'completeJob', { ...lease(t.running), tenantId: '' }), ['tenant_id']],
    ['failJob', 'error over 10000', () => call(q.client, 'failJob', { ...lease(t.running), error: 'e'.repeat(10_001), permanent: false, retryAfterSeconds: 0 }), ['error']],
    ['failJob', 'retry_after_seconds over a day', () => call(q.client, 'failJob', { ...lease(t.running), error: 'x', permanent: false, retryAfterSeconds: 86_401 }), ['retry_after_seconds']],
    ['failJob', 'non-uuid job_id', () => call(q.client, 'failJob', { ...lease(t.running), jobId: '1', error: 'x', permanent: true, retryAfterSeconds: 0 }), ['job_id']],
    ['cancelJob', 'non-uuid job_id', () => call(q.client, 'cancelJob', { tenantId: t.tenantId, jobId: 'job-1', includeRunning: false }), ['job_id']],
    ['cancelJob', 'missing tenant_id', () => call(q.client, 'cancelJob', { tenantId: '', jobId: t.queued.id, includeRunning: false }), ['tenant_id']],
    ['appendJobLog', 'message over 10000', () => call(q.client, 'appendJobLog', { tenantId: t.tenantId, jobId: t.running.id, level: 0, message: 'm'.repeat(10_001) }), ['message']],
    ['appendJobLog', 'data over the payload size', () => call(q.client, 'appendJobLog', { tenantId: t.tenantId, jobId: t.running.id, level: 0, message: 'm', data: { big: 'x'.repeat(70 * 1024) } }), ['data']],
    ['appendJobLog', 'non-uuid job_id', () => call(q.client, 'appendJobLog', { tenantId: t.tenantId, jobId: 'job-1', level: 0, message: 'm' }), ['job_id']],
    ['listJobLogs', 'non-uuid job_id', () => call(q.client, 'listJobLogs', { tenantId: t.tenantId, jobId: 'job-1' }), ['job_id']],
    ['listJobLogs', 'page size over the maximum', () => call(q.client, 'listJobLogs', { tenantId: t.tenantId, jobId: t.running.id, page: page(501) }), ['page.page_size']],
    ['listJobLogs', 'forged page_token', () => call(q.client, 'listJobLogs', { tenantId: t.tenantId, jobId: t.running.id, page: page(2, 'forged.token') }), ['page.page_token']],
  ];
  it.each(cases)('%s: %s', async (_rpc, _what, send, expected) => {
    const before = await q.snapshot();
    const st = await failure(send());
    expect(st.code).toBe(Status.INVALID_ARGUMENT);
    expect(st.fieldViolations.map((v) => v.field).sort()).toEqual(expected);
    expect(await q.snapshot()).toEqual(before);
  });
});

describe("another tenant's job → NOT_FOUND, nothing written", () => {
  // `t` acts on `o`'s jobs with everything else right (o's worker id and attempt).
  const cases: [Rpc, Send][] = [
    ['getJob', () => call(q.client, 'getJob', { tenantId: t.tenantId, jobId: o.running.id })],
    ['extendLease', () => call(q.client, 'extendLease', { ...lease(o.running), tenantId: t.tenantId, leaseSeconds: 3600 })],
    ['completeJob', () => call(q.client, 'completeJob', { ...lease(o.running), tenantId: t.tenantId })],
    ['failJob', () => call(q.client, 'failJob', { ...lease(o.running), tenantId: t.tenantId, error: 'x', permanent: true, retryAfterSeconds: 0 })],
    ['cancelJob', () => call(q.client, 'cancelJob', { tenantId: t.tenantId, jobId: o.queued.id, includeRunning: false })],
    ['appendJobLog', () => call(q.client, 'appendJobLog', { tenantId: t.tenantId, jobId: o.running.id, level: 0, message: 'injected' })],
    ['listJobLogs', () => call(q.client, 'listJobLogs', { tenantId: t.tenantId, jobId: o.running.id })],
  ];
  it.each(cases)('%s', async (_rpc, send) => {
    const before = await q.snapshot();
    const st = await failure(send());
    expect(st.code).toBe(Status.NOT_FOUND);
    expect(await q.snapshot()).toEqual(before);
  });

  it("ClaimJobs and ListJobs never reach another tenant's queue", async () => {
    const before = await q.snapshot();
    expect((await call(q.client, 'claimJobs', { tenantId: t.tenantId, queue: 'theirs', workerId: 'w', maxJobs: 10, leaseSeconds: 0, waitMs: 0, complete: [], lean: false })).jobs).toEqual([]);
    expect(await q.snapshot()).toEqual(before);
    const listed = await call(q.client, 'listJobs', { tenantId: t.tenantId, status: 0, queue: 'theirs' });
    expect(listed.jobs).toEqual([]);
    const all = await call(q.client, 'listJobs', { tenantId: t.tenantId, status: 0, queue: '' });
    expect(all.jobs.every((j) => j.tenantId === t.tenantId)).toBe(true);
  });
});
